/**
 * Google's error model (AIP-193) for our IAM-style API, and the single place that maps our
 * errors to HTTP. Callers see the generic `message` and a stable ErrorInfo `reason`; details stay
 * in the log.
 */
import { HTTP_STATUS, InternalError, TvsError, type ErrorCode } from './errors.js';

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
 * @param httpStatusOverride deprecated: give the error `{ httpStatus }` instead. Still used by
 *   `functions/rotate/http-handler.ts` (405).
 */
export function toHttpError(err: unknown, httpStatusOverride?: number): HttpError {
  const error = asTvsError(err);
  const httpStatus = httpStatusOverride ?? error.httpStatus ?? HTTP_STATUS[error.code];
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
