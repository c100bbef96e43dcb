/**
 * Capped exponential backoff with full jitter for the client's calls (token service, Gemini,
 * Secret Manager): transient failures (429, 5xx, resets, timeouts) are retried a bounded number
 * of times inside an overall deadline; the final failure surfaces as a friendly error.
 */
import { UnavailableError } from '../shared/errors.js';
import type { ResponseHeaders } from '../shared/http/bounded-fetch.js';
import { parseRetryAfter, withRetry } from '../shared/http/retry.js';
import type { ClientErrorService } from './errors.js';
import { clientError, isTransient, toFriendlyError } from './friendly-error.js';

/** How the client retries transient failures. */
export interface ClientRetryOptions {
  /** Total attempts including the first (default 4). */
  maxAttempts?: number;
  /** Backoff base in ms (default 200): the cap before jitter doubles per attempt. */
  baseDelayMs?: number;
  /** Backoff cap in ms before jitter (default 5000). */
  maxDelayMs?: number;
  /** Overall budget in ms, retries included (default 30000). */
  deadlineMs?: number;
  /** Uniform in [0, 1] (tests); default `Math.random`. */
  random?: () => number;
  /** Called before each backoff sleep. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

export const DEFAULT_RETRY: Required<Omit<ClientRetryOptions, 'random' | 'onRetry'>> = {
  maxAttempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5000,
  deadlineMs: 30_000,
};

/**
 * Runs `fn`, retrying transient failures; throws `toFriendlyError(last failure, service)` with
 * the number of attempts made. Non-transient failures are not retried.
 */
export async function retryTransient<T>(
  service: ClientErrorService,
  fn: (signal: AbortSignal) => Promise<T>,
  options: ClientRetryOptions = {},
): Promise<T> {
  let attempts = 0;
  try {
    return await withRetry(
      (signal) => {
        attempts++;
        return fn(signal);
      },
      {
        ...DEFAULT_RETRY,
        ...definedOnly(options),
        classify: (err) => ({ retryable: isTransient(err), retryAfterMs: retryAfterOf(err) }),
      },
    );
  } catch (err) {
    if (
      err instanceof UnavailableError &&
      (err.reason === 'UPSTREAM_UNAVAILABLE' || err.reason === 'UPSTREAM_DEADLINE_EXCEEDED')
    ) {
      if (err.cause === undefined)
        throw clientError({ service, code: 'DEADLINE_EXCEEDED', attempts, cause: err });
      throw toFriendlyError(err.cause, service, attempts);
    }
    throw toFriendlyError(err, service, attempts);
  }
}

function retryAfterOf(err: unknown): number | undefined {
  const headers = (err as { response?: { headers?: unknown } } | null)?.response?.headers;
  let value: unknown;
  // `Headers` (gaxios 7) and our bounded fetch's reader both have `get`; older gaxios, a plain object.
  if (typeof (headers as { get?: unknown } | null)?.get === 'function')
    value = (headers as ResponseHeaders).get('retry-after');
  else if (typeof headers === 'object' && headers !== null)
    value = (headers as Record<string, unknown>)['retry-after'];
  return typeof value === 'string' ? parseRetryAfter(value, Date.now()) : undefined;
}

function definedOnly(options: ClientRetryOptions): ClientRetryOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}
