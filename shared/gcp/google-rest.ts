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
} from '../errors.js';
import { describe } from '../google-error.js';
import { withRetry } from '../http/retry.js';

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
      json: parseJson(response.data),
      retryAfter: response.headers.get('retry-after'),
    };
  };
}

/** A transport without credentials (calls authenticated by an API key header). */
export function fetchTransport(fetchImpl: typeof fetch = fetch): RestTransport {
  return async (request) => {
    const signals = [AbortSignal.timeout(request.timeoutMs), ...(request.signal ? [request.signal] : [])];
    const response = await fetchImpl(request.url, {
      method: request.method,
      headers: { accept: 'application/json', ...request.headers },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      redirect: 'error',
      signal: AbortSignal.any(signals),
    });
    return {
      status: response.status,
      json: parseJson(await response.text()),
      retryAfter: response.headers.get('retry-after'),
    };
  };
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || text === '') return text === '' ? undefined : text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Google's error body, as far as we read it. */
interface GoogleErrorJson {
  error?: {
    code?: number;
    status?: string;
    message?: string;
    details?: Array<{ reason?: string; violations?: Array<{ type?: string; subject?: string }> }>;
  };
}

/** A Google REST failure: our error class, with Google's status/reason in `metadata` and `detail`. */
export function restError(status: number, json: unknown, what: string, retryAfterSeconds?: number): TvsError {
  const error = (json as GoogleErrorJson | undefined)?.error;
  const googleStatus = error?.status ?? '';
  const googleReason = error?.details?.find((d) => typeof d.reason === 'string')?.reason ?? '';
  const violations = (error?.details ?? [])
    .flatMap((d) => d.violations ?? [])
    .map((v) => v.type ?? '')
    .filter(Boolean);
  // Google's messages are fixed texts about the resource, never credentials; still, cap them.
  const message = (error?.message ?? '').slice(0, 300);
  const detail = `${what}: HTTP ${status} ${googleStatus} ${googleReason} ${violations.join(' ')} ${message}`
    .replace(/\s+/g, ' ')
    .trim();
  const options = {
    reason: googleReason || googleStatus || `HTTP_${status}`,
    detail,
    metadata: { googleStatus, ...(violations.length ? { violations: violations.join(',') } : {}) },
    retryAfterSeconds,
  };
  if (status === 404) return new NotFoundError(`${what}: not found.`, options);
  if (status === 409) return new AbortedError(`${what}: conflict.`, options);
  if (status === 401) return new UnauthenticatedError(`${what}: not authenticated.`, options);
  if (status === 403) return new PermissionDeniedError(`${what}: permission denied.`, options);
  if (status === 429) return new ResourceExhaustedError(`${what}: quota exhausted.`, options);
  if (status === 400 && googleStatus === 'FAILED_PRECONDITION')
    return new FailedPreconditionError(`${what}: precondition failed.`, options);
  if (status === 400) return new InvalidArgumentError(`${what}: invalid request.`, options);
  if (status >= 500) return new UnavailableError(`${what}: upstream unavailable.`, options);
  return new InternalError(`${what}: unexpected answer.`, options);
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
      const retryAfter = Number(response.retryAfter);
      throw restError(
        response.status,
        response.json,
        what,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
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
