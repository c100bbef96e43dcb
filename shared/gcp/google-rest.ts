/**
 * Authenticated JSON calls to Google REST APIs (IAM, API Keys) for the rotation adapters.
 * Credentials come from google-auth-library's ADC (the metadata server on Cloud Functions;
 * `GCE_METADATA_HOST` points it at the emulator locally), loaded lazily. Transient failures
 * (429, 5xx, network) are retried with backoff inside a deadline; 4xx map to our errors with
 * Google's status and ErrorInfo reason kept for the log.
 */
import {
  AbortedError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  TvsError,
  UnauthenticatedError,
  UnavailableError,
  type ErrorCode,
  type TvsErrorOptions,
} from '../errors.js';
import { codeForHttpStatus, describe, readGoogleError } from '../google-error.js';
import { boundedFetch } from '../http/bounded-fetch.js';
import { parseRetryAfter, withRetry } from '../http/retry.js';
import { parseJson } from '../json.js';

export interface RestRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface RestResponse {
  status: number;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  json: unknown;
  retryAfter?: string | null;
}

/** Sends one request; never throws for an HTTP status (only for network failures). */
export type RestTransport = (request: RestRequest) => Promise<RestResponse>;

/**
 * A transport that authenticates with Application Default Credentials (cloud-platform scope).
 * A known `projectId` spares google-auth-library a lookup (which may shell out to gcloud).
 */
export function googleAuthTransport(options: { projectId?: string } = {}): RestTransport {
  type Auth = import('google-auth-library').GoogleAuth;
  let auth: Promise<Auth> | undefined;
  return async (request) => {
    auth ??= import('google-auth-library').then(
      ({ GoogleAuth }) =>
        new GoogleAuth({
          scopes: ['https://www.googleapis.com/auth/cloud-platform'],
          ...(options.projectId ? { projectId: options.projectId } : {}),
        }),
    );
    const client = await auth;
    const response = await client.request<string>({
      url: request.url,
      method: request.method,
      headers: {
        accept: 'application/json',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...request.headers,
      },
      ...(request.body === undefined ? {} : { data: JSON.stringify(request.body) }),
      timeout: request.timeoutMs,
      responseType: 'text',
      validateStatus: () => true,
      retry: false,
      ...(request.signal ? { signal: request.signal } : {}),
    });
    return {
      status: response.status,
      json: typeof response.data === 'string' ? bodyJson(response.data) : response.data,
      retryAfter: response.headers.get('retry-after'),
    };
  };
}

/** Largest REST answer {@link boundedTransport} reads; Google's answers to these calls are a few KiB. */
export const MAX_REST_RESPONSE_BYTES = 1024 * 1024;

/**
 * A transport without credentials (calls authenticated by an API key header), through
 * {@link boundedFetch}: a deadline, no redirects and at most {@link MAX_REST_RESPONSE_BYTES} read.
 */
export function boundedTransport(fetchImpl?: typeof fetch): RestTransport {
  return async (request) => {
    const response = await boundedFetch(request.url, {
      method: request.method,
      headers: {
        accept: 'application/json',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...request.headers,
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      timeoutMs: request.timeoutMs,
      maxBytes: MAX_REST_RESPONSE_BYTES,
      ...(request.signal === undefined ? {} : { signal: request.signal }),
      ...(fetchImpl === undefined ? {} : { fetchImpl }),
    });
    return {
      status: response.status,
      json: bodyJson(response.text),
      retryAfter: response.headers.get('retry-after'),
    };
  };
}

/** The parsed body; `undefined` when it is empty or not JSON. */
function bodyJson(text: string): unknown {
  return text === '' ? undefined : parseJson(text);
}

/** Our error class and message for each code a REST answer maps to. */
const REST_ERRORS: Partial<
  Record<ErrorCode, [new (message: string, options: TvsErrorOptions) => TvsError, string]>
> = {
  NOT_FOUND: [NotFoundError, 'not found.'],
  ABORTED: [AbortedError, 'conflict.'],
  UNAUTHENTICATED: [UnauthenticatedError, 'not authenticated.'],
  PERMISSION_DENIED: [PermissionDeniedError, 'permission denied.'],
  RESOURCE_EXHAUSTED: [ResourceExhaustedError, 'quota exhausted.'],
  FAILED_PRECONDITION: [FailedPreconditionError, 'precondition failed.'],
  INVALID_ARGUMENT: [InvalidArgumentError, 'invalid request.'],
  UNAVAILABLE: [UnavailableError, 'upstream unavailable.'],
};

/** A Google REST failure: our error class, with Google's status/reason in `metadata` and `detail`. */
export function restError(status: number, json: unknown, what: string, retryAfterSeconds?: number): TvsError {
  const google = readGoogleError(json);
  const googleStatus = google.status ?? '';
  const googleReason = google.reason ?? '';
  const violations = google.violations ?? [];
  // Google's messages are fixed texts about the resource, never credentials; still, cap them.
  const message = (google.message ?? '').slice(0, 300);
  const detail = `${what}: HTTP ${status} ${googleStatus} ${googleReason} ${violations.join(' ')} ${message}`
    .replace(/\s+/g, ' ')
    .trim();
  const options = {
    reason: googleReason || googleStatus || `HTTP_${status}`,
    detail,
    metadata: { googleStatus, ...(violations.length ? { violations: violations.join(',') } : {}) },
    retryAfterSeconds,
  };
  // Every 5xx is transient here (the caller retries it); a 400 may say FAILED_PRECONDITION.
  let code = status >= 500 ? 'UNAVAILABLE' : codeForHttpStatus(status);
  if (code === 'INVALID_ARGUMENT' && googleStatus === 'FAILED_PRECONDITION') code = 'FAILED_PRECONDITION';
  const [ErrorClass, says] = (code && REST_ERRORS[code]) ?? [InternalError, 'unexpected answer.'];
  return new ErrorClass(`${what}: ${says}`, options);
}

export interface CallOptions {
  /** Overall budget including retries. */
  deadlineMs: number;
  /** Attempt timeout. */
  timeoutMs: number;
  maxAttempts?: number;
  /** Retry every failure, not only transient ones (e.g. a credential that is still propagating). */
  retryAll?: boolean;
}

/** Calls a Google REST method; returns the JSON body of a 2xx, throws a mapped `TvsError` otherwise. */
export async function callGoogle(
  transport: RestTransport,
  request: Omit<RestRequest, 'timeoutMs' | 'signal'>,
  what: string,
  options: CallOptions,
): Promise<unknown> {
  return withRetry(
    async (signal) => {
      let response: RestResponse;
      try {
        response = await transport({ ...request, timeoutMs: options.timeoutMs, signal });
      } catch (err) {
        throw new UnavailableError(`${what}: upstream unreachable.`, {
          reason: 'UPSTREAM_UNREACHABLE',
          detail: `${what}: ${describe(err)}`,
          cause: err,
        });
      }
      if (response.status >= 200 && response.status < 300) return response.json;
      // Delta-seconds or an HTTP-date, read like every other Retry-After (shared/http/retry.ts).
      const retryAfterMs = parseRetryAfter(response.retryAfter, Date.now());
      throw restError(
        response.status,
        response.json,
        what,
        retryAfterMs !== undefined && retryAfterMs > 0 ? retryAfterMs / 1000 : undefined,
      );
    },
    {
      maxAttempts: options.maxAttempts ?? 4,
      baseDelayMs: 200,
      maxDelayMs: 2000,
      deadlineMs: options.deadlineMs,
      classify: (err) => ({
        retryable:
          options.retryAll === true ||
          (err instanceof TvsError && (err.code === 'UNAVAILABLE' || err.code === 'RESOURCE_EXHAUSTED')),
        retryAfterMs:
          err instanceof TvsError && err.retryAfterSeconds !== undefined
            ? err.retryAfterSeconds * 1000
            : undefined,
      }),
    },
  );
}
