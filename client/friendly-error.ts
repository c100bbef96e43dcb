/**
 * Turns whatever a call threw — @google/genai's `ApiError`, a gaxios error, a gRPC status, a
 * network failure, our own retry's give-up — into a {@link ClientError} with a code and a hint.
 */
import { TvsError } from '../shared/errors.js';
import { readGoogleError, type GoogleErrorFields } from '../shared/google-error.js';
import { parseJson } from '../shared/json.js';
import {
  ApiKeySourceError,
  ClientError,
  codeFor,
  GeminiError,
  TokenServiceError,
  type ClientErrorCode,
  type ClientErrorOptions,
  type ClientErrorService,
} from './errors.js';

const ERROR_CLASSES: Record<ClientErrorService, new (options: ClientErrorOptions) => ClientError> = {
  'token-service': TokenServiceError,
  gemini: GeminiError,
  'secret-manager': ApiKeySourceError,
};

/** Builds the error class that belongs to `options.service`. */
export function clientError(options: ClientErrorOptions): ClientError {
  return new ERROR_CLASSES[options.service](options);
}

/** What a caught value says about the failed call, if it was an HTTP or gRPC answer. */
export interface FailureFacts {
  httpStatus?: number;
  code: ClientErrorCode;
  info: GoogleErrorFields;
  /** A transport failure (reset, refused, timeout): no answer was received. */
  transport: boolean;
}

/**
 * Reads the status, Google error body and transport nature of `err` without assuming its type.
 * Understands @google/genai `ApiError` (message = the JSON error body), gaxios errors
 * (`response.status`, `response.data`), gRPC errors (numeric `code`) and fetch/socket errors.
 */
export function failureFacts(err: unknown): FailureFacts {
  if (err instanceof ClientError) {
    return { httpStatus: err.httpStatus, code: err.code, info: { reason: err.reason }, transport: false };
  }
  if (err instanceof TvsError) {
    // The shared adapters (Secret Manager) already speak canonical codes.
    return {
      code: err.code === 'ABORTED' ? 'UNAVAILABLE' : err.code,
      info: { status: err.code, reason: err.reason, message: err.message },
      transport: false,
    };
  }
  const e = err as {
    name?: unknown;
    status?: unknown;
    message?: unknown;
    response?: { status?: unknown; data?: unknown };
    code?: unknown;
    details?: unknown;
  };
  if (typeof e !== 'object' || e === null) return { code: 'UNKNOWN', info: {}, transport: false };
  if (e.name === 'ApiError' && typeof e.status === 'number') {
    const info = readGoogleError(parseJson(typeof e.message === 'string' ? e.message : ''));
    return { httpStatus: e.status, code: codeFor(e.status, info.status), info, transport: false };
  }
  if (typeof e.response?.status === 'number') {
    const data = typeof e.response.data === 'string' ? parseJson(e.response.data) : e.response.data;
    const info = readGoogleError(data);
    return {
      httpStatus: e.response.status,
      code: codeFor(e.response.status, info.status),
      info,
      transport: false,
    };
  }
  if (typeof e.code === 'number' && typeof e.details === 'string') {
    const code = GRPC_CODES[e.code] ?? 'UNKNOWN';
    return { code, info: { status: code, message: e.details }, transport: e.code === 14 || e.code === 4 };
  }
  if (isTransportError(err)) return { code: 'UNAVAILABLE', info: {}, transport: true };
  return { code: 'UNKNOWN', info: {}, transport: false };
}

/**
 * A friendly error for `err` as seen calling `service`; a {@link ClientError} passes through
 * unchanged. `attempts` is how many tries were made (for the hint on transient failures).
 * Errors that are neither HTTP answers nor transport failures are returned as they are: they
 * are programming errors, better seen unwrapped.
 */
export function toFriendlyError(err: unknown, service: ClientErrorService = 'gemini', attempts = 1): Error {
  if (err instanceof ClientError) return err;
  const facts = failureFacts(err);
  const answered =
    facts.httpStatus !== undefined ||
    facts.transport ||
    err instanceof TvsError ||
    typeof (err as { code?: unknown } | null)?.code === 'number';
  if (!answered) {
    return err instanceof Error ? err : new Error(String(err));
  }
  return clientError({
    service,
    code: facts.code,
    httpStatus: facts.httpStatus,
    reason: facts.info.reason,
    serverMessage: facts.transport ? 'no answer (connection failed or timed out)' : facts.info.message,
    attempts,
    cause: err,
  });
}

/** 429, 5xx and transport failures are worth another try; everything else is final. */
export function isTransient(err: unknown): boolean {
  const facts = failureFacts(err);
  if (facts.transport) return true;
  if (facts.httpStatus !== undefined) return facts.httpStatus === 429 || facts.httpStatus >= 500;
  return (
    facts.code === 'UNAVAILABLE' ||
    facts.code === 'RESOURCE_EXHAUSTED' ||
    facts.code === 'INTERNAL' ||
    facts.code === 'DEADLINE_EXCEEDED'
  );
}

/** Whether Gemini refused the API key itself (400 or 403 with reason API_KEY_INVALID). */
export function isApiKeyInvalid(err: unknown): boolean {
  const facts = failureFacts(err);
  return (facts.httpStatus === 400 || facts.httpStatus === 403) && facts.info.reason === 'API_KEY_INVALID';
}

const GRPC_CODES: Record<number, ClientErrorCode> = {
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};

const TRANSPORT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNABORTED',
]);

function isTransportError(err: unknown): boolean {
  for (
    let e: unknown = err, depth = 0;
    e !== null && typeof e === 'object' && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const x = e as { name?: unknown; code?: unknown; message?: unknown; kind?: unknown };
    if (typeof x.code === 'string' && TRANSPORT_CODES.has(x.code)) return true;
    if (x.name === 'FetchError' && (x.kind === 'network' || x.kind === 'timeout')) return true;
    if (x.name === 'TypeError' && x.message === 'fetch failed') return true;
    if (x.name === 'TimeoutError') return true;
  }
  return false;
}
