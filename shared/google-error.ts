/**
 * Google's error model (AIP-193): the single place that maps our errors to HTTP for our
 * IAM-style API (callers see the generic `message` and a stable ErrorInfo `reason`; details stay
 * in the log), and the one reader of the error bodies Google sends us, with the canonical
 * code ↔ HTTP status table both directions use.
 */
import { HTTP_STATUS, InternalError, TvsError, type ErrorCode } from './errors.js';
import { isJsonObject } from './json.js';

export const ERROR_DOMAIN = 'tokenvending.googleapis.local';

export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    status: ErrorCode;
    details: Array<{
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo';
      reason: string;
      domain: string;
      metadata: Record<string, string>;
    }>;
  };
}

export interface HttpError {
  httpStatus: number;
  body: GoogleErrorBody;
  headers: Record<string, string>;
  error: TvsError;
}

/** Wraps anything thrown into a `TvsError` (unknown errors become INTERNAL, cause kept for the log). */
export function asTvsError(err: unknown): TvsError {
  if (err instanceof TvsError) return err;
  return new InternalError('Internal error.', { reason: 'INTERNAL', cause: err, detail: describe(err) });
}

/**
 * Renders an error as Google's error body plus the HTTP status and headers to send: the error's own
 * `httpStatus` when it has one, else the canonical status of its code.
 */
export function toHttpError(err: unknown): HttpError {
  const error = asTvsError(err);
  const httpStatus = error.httpStatus ?? HTTP_STATUS[error.code];
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(Math.max(0, Math.ceil(error.retryAfterSeconds)));
  if (error.code === 'UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer';
  return {
    httpStatus,
    headers,
    error,
    body: {
      error: {
        code: httpStatus,
        message: error.message,
        status: error.code,
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: error.reason,
            domain: ERROR_DOMAIN,
            metadata: error.metadata,
          },
        ],
      },
    },
  };
}

/** A log-safe one-line description of a caught value: class name and message only, no stack. */
export function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return typeof err;
}

/** What a Google error body says, read defensively; absent fields are left out. */
export interface GoogleErrorFields {
  /** `error.status`: the canonical code's name, e.g. `PERMISSION_DENIED`. */
  status?: string;
  /** `error.message`, or OAuth's `error_description`. */
  message?: string;
  /** The first `reason` in `error.details` (the ErrorInfo's), or OAuth's `error` code. */
  reason?: string;
  /** `type` of every PreconditionFailure violation in `error.details` (only when there is one). */
  violations?: string[];
}

/**
 * Reads Google's error model (AIP-193: `{"error": {code, message, status, details}}`) or OAuth's
 * (RFC 6749 §5.2: `{"error", "error_description"}`) from a parsed body of any shape: the one
 * reader for the client, the REST adapters and the minting backends.
 */
export function readGoogleError(body: unknown): GoogleErrorFields {
  if (!isJsonObject(body)) return {};
  const { error } = body;
  if (typeof error === 'string') {
    const description = body.error_description;
    return { reason: error, ...(typeof description === 'string' ? { message: description } : {}) };
  }
  if (!isJsonObject(error)) return {};
  const fields: GoogleErrorFields = {};
  if (typeof error.status === 'string') fields.status = error.status;
  if (typeof error.message === 'string') fields.message = error.message;
  const details = Array.isArray(error.details) ? error.details.filter(isJsonObject) : [];
  const reason = details.find((d) => typeof d.reason === 'string')?.reason;
  if (typeof reason === 'string') fields.reason = reason;
  const violations = details
    .flatMap((d) => (Array.isArray(d.violations) ? d.violations.filter(isJsonObject) : []))
    .map((v) => v.type)
    .filter((type): type is string => typeof type === 'string' && type !== '');
  if (violations.length > 0) fields.violations = violations;
  return fields;
}

/** Google `status` names that read as one of our codes (OUT_OF_RANGE is a 400 like INVALID_ARGUMENT). */
const STATUS_ALIASES: Readonly<Record<string, ErrorCode>> = { OUT_OF_RANGE: 'INVALID_ARGUMENT' };

/** Our canonical code for a Google `status` name; `undefined` for names we do not use (ALREADY_EXISTS...). */
export function codeForStatus(status: unknown): ErrorCode | undefined {
  if (typeof status !== 'string') return undefined;
  if (Object.hasOwn(HTTP_STATUS, status)) return status as ErrorCode;
  return Object.hasOwn(STATUS_ALIASES, status) ? STATUS_ALIASES[status] : undefined;
}

/** HTTP status → the first code that maps to it in {@link HTTP_STATUS}: 400 reads as INVALID_ARGUMENT. */
const CODE_FOR_HTTP_STATUS = new Map<number, ErrorCode>();
for (const [code, httpStatus] of Object.entries(HTTP_STATUS) as Array<[ErrorCode, number]>) {
  if (!CODE_FOR_HTTP_STATUS.has(httpStatus)) CODE_FOR_HTTP_STATUS.set(httpStatus, code);
}

/**
 * The canonical code an HTTP status stands for when the answer names none: the inverse of
 * {@link HTTP_STATUS} (400 → INVALID_ARGUMENT, 409 → ABORTED), any other 5xx → INTERNAL, else
 * `undefined`.
 */
export function codeForHttpStatus(httpStatus: number): ErrorCode | undefined {
  return CODE_FOR_HTTP_STATUS.get(httpStatus) ?? (httpStatus >= 500 ? 'INTERNAL' : undefined);
}
