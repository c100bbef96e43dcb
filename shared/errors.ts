/**
 * One small error hierarchy with stable codes (Google's canonical codes, AIP-193).
 *
 * `message` is what a caller may see: clear and generic, never a secret. `detail` is for the
 * log only (still never a secret, key or token). `reason` is the ErrorInfo reason, a stable
 * UPPER_SNAKE_CASE identifier callers can branch on.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ABORTED'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'DEADLINE_EXCEEDED'
  | 'INTERNAL'
  | 'UNAVAILABLE';

export interface TvsErrorOptions {
  /** ErrorInfo reason, e.g. `CALLER_TOKEN_EXPIRED`. */
  reason: string;
  /** HTTP status to answer with when it is not the code's usual one (e.g. 413, 415, 405). */
  httpStatus?: number;
  /** Log-only detail; must not contain secrets. */
  detail?: string;
  /** Extra ErrorInfo metadata safe to show the caller. */
  metadata?: Record<string, string>;
  cause?: unknown;
  /** Seconds a client should wait before retrying (429/503). */
  retryAfterSeconds?: number;
}

export abstract class TvsError extends Error {
  abstract readonly code: ErrorCode;
  readonly reason: string;
  readonly httpStatus: number | undefined;
  readonly detail: string | undefined;
  readonly metadata: Record<string, string>;
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options: TvsErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.reason = options.reason;
    this.httpStatus = options.httpStatus;
    this.detail = options.detail;
    this.metadata = options.metadata ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export class InvalidArgumentError extends TvsError {
  readonly code = 'INVALID_ARGUMENT' as const;
}
export class UnauthenticatedError extends TvsError {
  readonly code = 'UNAUTHENTICATED' as const;
}
export class PermissionDeniedError extends TvsError {
  readonly code = 'PERMISSION_DENIED' as const;
}
export class NotFoundError extends TvsError {
  readonly code = 'NOT_FOUND' as const;
}
export class AbortedError extends TvsError {
  readonly code = 'ABORTED' as const;
}
export class FailedPreconditionError extends TvsError {
  readonly code = 'FAILED_PRECONDITION' as const;
}
export class ResourceExhaustedError extends TvsError {
  readonly code = 'RESOURCE_EXHAUSTED' as const;
}
export class DeadlineExceededError extends TvsError {
  readonly code = 'DEADLINE_EXCEEDED' as const;
}
export class InternalError extends TvsError {
  readonly code = 'INTERNAL' as const;
}
export class UnavailableError extends TvsError {
  readonly code = 'UNAVAILABLE' as const;
}

/**
 * A transient upstream failure (5xx, 429, a network fault or timeout, a garbled answer): worth
 * another attempt. Each backend raises it for its own wire failures, so a retry loop decides with
 * one `instanceof`. `retryAfterMs` is the wait the upstream asked for (Retry-After), if any; it is
 * for our retry loop only and never sent on to a caller (that is `retryAfterSeconds`).
 */
export class UpstreamUnavailable extends UnavailableError {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: TvsErrorOptions & { retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** HTTP status for each canonical code (google.rpc.Code → HTTP mapping). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  FAILED_PRECONDITION: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};
