/** The response invariants every reliability test asserts: error shapes and no secret anywhere. */
import type { RawResponse } from './raw-http.js';

const CANONICAL = new Set([
  'INVALID_ARGUMENT',
  'FAILED_PRECONDITION',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'ABORTED',
  'RESOURCE_EXHAUSTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
]);
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'server_error',
  'temporarily_unavailable',
]);

/** Why `res` is not Google's error model (AIP-193) for its status, or undefined when it is. */
export function googleErrorProblem(res: RawResponse): string | undefined {
  const e = res.json?.error;
  if (typeof e !== 'object' || e === null) return 'body is not {"error": {...}}';
  if (e.code !== res.status) return `error.code ${e.code} differs from HTTP ${res.status}`;
  if (typeof e.message !== 'string' || e.message === '') return 'error.message missing';
  if (!CANONICAL.has(e.status)) return `error.status ${String(e.status)} is not a canonical code`;
  const info = Array.isArray(e.details) ? e.details[0] : undefined;
  if (info?.['@type'] !== 'type.googleapis.com/google.rpc.ErrorInfo' || typeof info.reason !== 'string')
    return 'error.details[0] is not an ErrorInfo';
  return undefined;
}

/** Why `res` is not an RFC 6749 §5.2 error, or undefined when it is. */
export function oauthErrorProblem(res: RawResponse): string | undefined {
  const body = res.json;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body is not a JSON object';
  if (!OAUTH_ERRORS.has(body.error)) return `error ${String(body.error)} is not an RFC 6749 code`;
  if (Object.keys(body).some((k) => k !== 'error' && k !== 'error_description'))
    return 'unexpected members in an RFC 6749 error';
  return undefined;
}

/** The secrets (at least 16 characters each) that occur in `text`, shortened for the message. */
export function leakedSecrets(text: string, secrets: Iterable<string>): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    if (secret.length < 16) throw new TypeError('a secret to look for must be at least 16 characters');
    if (text.includes(secret)) found.push(`${secret.slice(0, 6)}…`);
  }
  return found;
}
