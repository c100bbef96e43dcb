/**
 * Friendly, typed errors for workloads: a stable `code`, the HTTP status and ErrorInfo `reason`
 * the service sent, and a `hint` that says what to do next. Messages never contain a token or
 * a key: server messages are shortened and scrubbed of anything shaped like one.
 */
import { codeForHttpStatus, codeForStatus } from '../shared/google-error.js';
import type { ResponseHeaders } from '../shared/http/bounded-fetch.js';

/** Google's canonical codes, plus `UNKNOWN` for answers that carry none. */
export type ClientErrorCode =
  | 'INVALID_ARGUMENT'
  | 'FAILED_PRECONDITION'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'RESOURCE_EXHAUSTED'
  | 'DEADLINE_EXCEEDED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'UNKNOWN';

/** Which service answered. */
export type ClientErrorService = 'token-service' | 'gemini' | 'secret-manager';

export interface ClientErrorOptions {
  code: ClientErrorCode;
  service: ClientErrorService;
  /** HTTP status of the answer, when there was one. */
  httpStatus?: number;
  /** ErrorInfo reason, e.g. `API_KEY_INVALID`, `NO_RULE_FOR_CALLER`. */
  reason?: string;
  /** The server's own message (scrubbed and shortened before use). */
  serverMessage?: string;
  /** Attempts made before giving up (1 when not retried). */
  attempts?: number;
  cause?: unknown;
}

/** Thrown inside an attempt for a non-2xx answer; shaped like a gaxios error so one reader serves both. */
export class HttpAnswerError extends Error {
  readonly response: { status: number; data: unknown; headers: ResponseHeaders };

  constructor(status: number, data: unknown, headers: ResponseHeaders) {
    super(`HTTP ${status}`);
    this.name = 'HttpAnswerError';
    this.response = { status, data, headers };
  }
}

/** Base of the client's errors; `message` = what happened + the hint. */
export class ClientError extends Error {
  readonly code: ClientErrorCode;
  readonly service: ClientErrorService;
  readonly httpStatus: number | undefined;
  readonly reason: string | undefined;
  readonly hint: string;
  readonly attempts: number;

  constructor(options: ClientErrorOptions) {
    const hint = hintFor(options.service, options.code, options.reason, options.attempts ?? 1);
    super(composeMessage(options, hint), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.service = options.service;
    this.httpStatus = options.httpStatus;
    this.reason = options.reason;
    this.hint = hint;
    this.attempts = options.attempts ?? 1;
  }
}

/** The token vending service refused or failed a token request. */
export class TokenServiceError extends ClientError {}
/** The Gemini API (or Vertex AI) refused or failed a call. */
export class GeminiError extends ClientError {}
/** The current API key could not be read from Secret Manager. */
export class ApiKeySourceError extends ClientError {}

const SERVICE_NAMES: Record<ClientErrorService, string> = {
  'token-service': 'The token service',
  gemini: 'Gemini',
  'secret-manager': 'Secret Manager',
};

/** What to do next, per code (the error table, plus the codes the service adds). */
export function hintFor(
  service: ClientErrorService,
  code: ClientErrorCode,
  reason: string | undefined,
  attempts: number,
): string {
  if (reason === 'API_KEY_INVALID')
    return 'The API key is not valid: check the key and the secret it is read from (a rotated key is re-read once automatically).';
  if (reason === 'AUDIENCE_IS_THIS_SERVICE') {
    return "The token service never mints an ID token for its own audience (it would let the holder call the service as that account): ask for the downstream service's URL.";
  }
  if (reason === 'POLICY_STALE')
    return "The token service could not re-read its policy for too long and refuses until it can: retry later; operators should check the service's policy_reload_failed logs.";
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
      if (service === 'secret-manager')
        return 'Check that the secret version exists, is enabled and holds the API key.';
      return service === 'gemini'
        ? 'Check the request: the request body, the model parameters and the API key format.'
        : 'Check the request: body fields, scopes and lifetime (1-3600s).';
    case 'UNAUTHENTICATED':
      return service === 'token-service'
        ? "Check the workload's identity: its ID token must be unexpired, from a trusted issuer, with this service's URL as audience."
        : 'Check the credential sent: a valid API key, or a bearer token with the cloud-platform scope.';
    case 'PERMISSION_DENIED':
      return service === 'secret-manager'
        ? 'Check that the workload may read the API key secret (roles/secretmanager.secretAccessor).'
        : 'Check the API key restrictions, the token scopes and the policy rule that should allow this caller.';
    case 'NOT_FOUND':
      return service === 'secret-manager'
        ? 'Check the secret name and its `current` alias.'
        : 'Check the URL, the model name and the service account email.';
    case 'RESOURCE_EXHAUSTED':
      return `Quota or rate limit reached after ${attempts} attempt(s) with backoff: slow down or raise the quota.`;
    case 'DEADLINE_EXCEEDED':
    case 'INTERNAL':
    case 'UNAVAILABLE':
    case 'UNKNOWN':
      return `${SERVICE_NAMES[service]} failed after ${attempts} attempt(s) with capped backoff: retry later; if it persists, check the service's status and logs.`;
  }
}

function composeMessage(options: ClientErrorOptions, hint: string): string {
  const status = options.httpStatus === undefined ? options.code : `${options.httpStatus} ${options.code}`;
  const reason = options.reason ? ` (${options.reason})` : '';
  const said = options.serverMessage ? `: ${scrub(options.serverMessage)}` : '';
  return `${SERVICE_NAMES[options.service]} answered ${status}${reason}${said}. ${hint}`;
}

const MAX_SERVER_MESSAGE = 200;
// API keys, OAuth access tokens, JWTs (ID tokens, assertions), PEM blocks and long opaque runs.
const SECRET_SHAPES = [
  /AIza[0-9A-Za-z_-]{20,}/g,
  /ya29\.[0-9A-Za-z._-]+/g,
  /eyJ[0-9A-Za-z_-]*\.[0-9A-Za-z_-]*\.[0-9A-Za-z_-]*/g,
  /-----BEGIN [A-Z ]+-----[\s\S]*?(-----END [A-Z ]+-----|$)/g,
  /[0-9A-Za-z_\-+=.]{40,}/g,
];

/** Removes anything shaped like a credential and caps the length. */
export function scrub(text: string): string {
  let out = text;
  for (const shape of SECRET_SHAPES) out = out.replace(shape, '[redacted]');
  out = out.replace(/\s+/g, ' ').trim().replace(/\.$/, '');
  return out.length > MAX_SERVER_MESSAGE ? `${out.slice(0, MAX_SERVER_MESSAGE)}…` : out;
}

/** The canonical codes a client error carries (Google's, except ABORTED, which reads as UNKNOWN here). */
const CLIENT_CODES = new Set<string>([
  'INVALID_ARGUMENT',
  'FAILED_PRECONDITION',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
  'UNAVAILABLE',
]);

const asClientCode = (code: string | undefined): ClientErrorCode | undefined =>
  code !== undefined && CLIENT_CODES.has(code) ? (code as ClientErrorCode) : undefined;

/** The canonical code for a Google `status` string, else for the HTTP status (shared table), else UNKNOWN. */
export function codeFor(httpStatus: number | undefined, status?: unknown): ClientErrorCode {
  return (
    asClientCode(codeForStatus(status)) ??
    asClientCode(httpStatus === undefined ? undefined : codeForHttpStatus(httpStatus)) ??
    'UNKNOWN'
  );
}
