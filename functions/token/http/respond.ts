/** Writing responses: JSON with security headers, Google's error model, RFC 6749 errors. */
import type { ServerResponse } from 'node:http';
import { toHttpError, type HttpError } from '../../../shared/google-error.js';

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** Sends `err` in Google's error model and returns what was sent (for the audit entry). */
export function sendGoogleError(
  res: ServerResponse,
  err: unknown,
  headers: Record<string, string> = {},
): HttpError {
  const httpError = toHttpError(err);
  sendJson(res, httpError.httpStatus, httpError.body, { ...httpError.headers, ...headers });
  return httpError;
}

/** RFC 6749 §5.2 error codes (plus RFC 8693's invalid_target and a 503 for upstream outages). */
export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'server_error',
  'temporarily_unavailable',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

export function sendOAuthError(
  res: ServerResponse,
  status: number,
  error: OAuthErrorCode,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error, error_description: description }, headers);
}
