import { DeadlineExceededError, UnavailableError, UpstreamUnavailable } from '../errors.js';

/** How {@link withRetry} retries. */
export interface RetryOptions {
  /** Total attempts including the first (an integer >= 1). */
  maxAttempts: number;
  /** Backoff base, e.g. 100: the cap before jitter is `baseDelayMs * 2^(n-1)` after attempt n. */
  baseDelayMs: number;
  /** Backoff cap before jitter, e.g. 2000. */
  maxDelayMs: number;
  /** Overall budget from the start of the first attempt, e.g. 10_000. */
  deadlineMs: number;
  /** Classifies a failure: retry or not, and an optional server-requested delay (Retry-After) in ms. */
  classify: (err: unknown) => { retryable: boolean; retryAfterMs?: number };
  /**
   * Clock, milliseconds since the epoch (default `Date.now`). It also sizes each attempt's
   * deadline timer, which is a real `setTimeout` (cleared when the attempt settles).
   */
  now?: () => number;
  /** Waits `ms`; should reject when `signal` aborts (default {@link abortableSleep}). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1] (default `Math.random`). */
  random?: () => number;
  /** Caller cancellation: withRetry then rejects with `signal.reason`, unwrapped. */
  signal?: AbortSignal;
  /** Called before each backoff sleep; `attempt` is the number of the attempt that just failed. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Largest delay {@link parseRetryAfter} returns: one hour. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** setTimeout fires at once for delays above this (a signed 32-bit count of ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const UNAVAILABLE_MESSAGE = 'The upstream service is unavailable; try again later.';

/**
 * Runs `attempt` with capped exponential backoff and FULL jitter
 * (`delay = random() * min(maxDelayMs, baseDelayMs * 2^(n-1))`), honouring `retryAfterMs`
 * (waits at least that long), inside an overall deadline: each attempt receives an AbortSignal
 * that fires when the deadline passes (with a {@link DeadlineExceededError}) or the caller aborts.
 *
 * - A non-retryable error is rethrown unchanged, at once.
 * - Attempts exhausted: `UnavailableError` with reason `UPSTREAM_UNAVAILABLE`, `cause` = last error.
 * - The next delay would reach the deadline, or the deadline fires during an attempt (withRetry
 *   stops waiting for it even if it ignores its signal): `UnavailableError` with reason
 *   `UPSTREAM_DEADLINE_EXCEEDED`, `cause` = last error.
 * - Caller abort: rejects with `options.signal.reason`.
 */
export async function withRetry<T>(
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  validate(attempt, options);
  const {
    maxAttempts,
    baseDelayMs,
    maxDelayMs,
    deadlineMs,
    classify,
    onRetry,
    signal: callerSignal,
  } = options;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;

  const deadlineAtMs = now() + deadlineMs;
  let lastError: unknown;
  for (let attemptNumber = 1; ; attemptNumber++) {
    callerSignal?.throwIfAborted();
    const remainingMs = deadlineAtMs - now();
    // A sleep may overrun (a busy event loop, a custom sleep): do not start a doomed attempt.
    if (remainingMs <= 0) throw unavailable('UPSTREAM_DEADLINE_EXCEEDED', attemptNumber - 1, lastError);
    const run = startAttempt(attempt, attemptNumber, remainingMs, lastError, callerSignal);
    try {
      return await run.result;
    } catch (err) {
      lastError = err;
      if (callerSignal !== undefined && isAborted(callerSignal)) throw callerSignal.reason;
      if (run.deadlineFired()) throw unavailable('UPSTREAM_DEADLINE_EXCEEDED', attemptNumber, err);
    } finally {
      run.dispose();
    }

    const verdict = classify(lastError);
    if (!verdict.retryable) throw lastError;
    if (attemptNumber >= maxAttempts) throw unavailable('UPSTREAM_UNAVAILABLE', attemptNumber, lastError);

    const backoffCapMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (attemptNumber - 1));
    let delayMs = random() * backoffCapMs;
    const retryAfterMs = verdict.retryAfterMs;
    if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs > delayMs) {
      delayMs = retryAfterMs;
    }
    // Never sleep past the deadline: an attempt starting at it would be aborted at once.
    if (now() + delayMs >= deadlineAtMs)
      throw unavailable('UPSTREAM_DEADLINE_EXCEEDED', attemptNumber, lastError);

    onRetry?.({ attempt: attemptNumber, delayMs, error: lastError });
    try {
      await raceAbort(sleep(delayMs, callerSignal), callerSignal);
    } catch (err) {
      if (callerSignal !== undefined && isAborted(callerSignal)) throw callerSignal.reason;
      throw err;
    }
  }
}

/**
 * The retry decision for calls whose backends raise {@link UpstreamUnavailable} for transient
 * failures: retry exactly those, waiting at least the `retryAfterMs` the upstream asked for.
 */
export function retryUpstreamUnavailable(err: unknown): { retryable: boolean; retryAfterMs?: number } {
  return err instanceof UpstreamUnavailable
    ? { retryable: true, retryAfterMs: err.retryAfterMs }
    : { retryable: false };
}

/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3): delta-seconds or an HTTP-date
 * (IMF-fixdate, or the obsolete RFC 850 and asctime forms) into milliseconds from `nowMs`.
 * A date in the past gives 0; anything unparseable gives `undefined`; results are capped at
 * {@link MAX_RETRY_AFTER_MS}.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Math.min(Number(value) * 1000, MAX_RETRY_AFTER_MS);
  const dateMs = parseHttpDate(value, nowMs);
  if (dateMs === undefined) return undefined;
  return Math.min(Math.max(0, dateMs - nowMs), MAX_RETRY_AFTER_MS);
}

/**
 * Sleeps `ms` with a timer that is cleared when `signal` aborts; then rejects with
 * `signal.reason`. The default sleep of {@link withRetry}.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      rejectWithAbortReason(reject, signal);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      if (signal !== undefined) rejectWithAbortReason(reject, signal);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface RunningAttempt<T> {
  result: Promise<T>;
  deadlineFired: () => boolean;
  dispose: () => void;
}

function startAttempt<T>(
  attempt: (signal: AbortSignal, attemptNumber: number) => Promise<T>,
  attemptNumber: number,
  remainingMs: number,
  previousError: unknown,
  callerSignal: AbortSignal | undefined,
): RunningAttempt<T> {
  const controller = new AbortController();
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    controller.abort(
      new DeadlineExceededError('The retry deadline was exceeded.', {
        reason: 'RETRY_DEADLINE_EXCEEDED',
        detail: `deadline reached during attempt ${attemptNumber}`,
        cause: previousError,
      }),
    );
  }, remainingMs);
  const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
  callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  const result = raceAbort((async () => attempt(controller.signal, attemptNumber))(), controller.signal);
  return {
    result,
    deadlineFired: () => fired,
    dispose: () => {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    },
  };
}

/** Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => rejectWithAbortReason(reject, signal);
    // Attached first and always: it also absorbs a rejection that arrives after an abort, so an
    // abandoned attempt or sleep never becomes an unhandled rejection.
    void promise.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Reads `aborted` afresh (TypeScript would keep an earlier narrowing across awaits). */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Abort reasons pass through unchanged, as with fetch: they are whatever the aborter chose. */
function rejectWithAbortReason(reject: (reason: unknown) => void, signal: AbortSignal): void {
  reject(signal.reason);
}

function unavailable(reason: string, attempts: number, cause: unknown): UnavailableError {
  return new UnavailableError(UNAVAILABLE_MESSAGE, {
    reason,
    detail: `gave up after ${attempts} attempt(s)`,
    cause,
  });
}

function validate(attempt: unknown, options: RetryOptions): void {
  if (typeof attempt !== 'function') throw new TypeError('withRetry: attempt must be a function');
  if (typeof options !== 'object' || options === null)
    throw new TypeError('withRetry: options must be an object');
  const { maxAttempts, baseDelayMs, maxDelayMs, deadlineMs } = options;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new TypeError('withRetry: maxAttempts must be an integer >= 1');
  }
  if (!isNonNegativeFinite(baseDelayMs))
    throw new TypeError('withRetry: baseDelayMs must be a finite number >= 0');
  if (!isNonNegativeFinite(maxDelayMs))
    throw new TypeError('withRetry: maxDelayMs must be a finite number >= 0');
  if (!isNonNegativeFinite(deadlineMs) || deadlineMs === 0 || deadlineMs > MAX_TIMER_MS) {
    throw new TypeError(`withRetry: deadlineMs must be a number > 0 and <= ${MAX_TIMER_MS}`);
  }
  if (typeof options.classify !== 'function') throw new TypeError('withRetry: classify must be a function');
  for (const name of ['now', 'sleep', 'random', 'onRetry'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`withRetry: ${name} must be a function`);
    }
  }
}

function isNonNegativeFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
// Sun Nov  6 08:49:37 1994
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/** Strict HTTP-date parser (`Date.parse` accepts far too much, e.g. "1"). */
function parseHttpDate(value: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[3]), m[2], Number(m[1]), m[4], m[5], m[6]);
  m = RFC850_DATE.exec(value);
  if (m) {
    // RFC 9110: a two-digit year more than 50 years in the future means the previous century.
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2], Number(m[1]), m[4], m[5], m[6]);
  }
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[6]), m[1], Number(m[2]), m[3], m[4], m[5]);
  return undefined;
}

function utc(
  year: number,
  monthName: string | undefined,
  day: number,
  hh: string | undefined,
  mm: string | undefined,
  ss: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf((monthName ?? '').toLowerCase());
  const [h, min, s] = [Number(hh), Number(mm), Number(ss)];
  if (month < 0 || h > 23 || min > 59 || s > 60) return undefined;
  const ms = Date.UTC(year, month, day, h, min, s);
  // Reject dates that Date.UTC silently rolls over, such as 31 Feb.
  if (day < 1 || new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return undefined;
  return ms;
}
