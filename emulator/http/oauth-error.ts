import type { ServerResponse } from 'node:http';
import { sendJson } from './respond.js';

/** Token responses must never be cached (RFC 6749 §5.1); Google sends these on every answer of `/token`. */
export const NO_STORE = {
  'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate',
  Pragma: 'no-cache',
} as const;

/** An RFC 6749 §5.2 error as the OAuth endpoints answer it. */
export interface OAuthFailure {
  readonly status: number;
  readonly error: string;
  readonly description: string;
}

/** Sends an RFC 6749 error body (`{error, error_description}`), never cached. */
export function sendOAuthError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error, error_description: description }, { ...NO_STORE, ...headers });
}

/** Sends an {@link OAuthFailure}. */
export function sendOAuthFailure(res: ServerResponse, failure: OAuthFailure): void {
  sendOAuthError(res, failure.status, failure.error, failure.description);
}
