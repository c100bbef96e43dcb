import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineExceededError, UnavailableError } from '../../../../shared/errors.js';
import {
  MAX_RETRY_AFTER_MS,
  abortableSleep,
  parseRetryAfter,
  withRetry,
  type RetryOptions,
} from '../../../../shared/http/retry.js';

const GENERIC_MESSAGE = 'The upstream service is unavailable; try again later.';

/**
 * A fake clock and a fake sleep that advances it: nothing waits for real. `attemptMs` is how
 * long each attempt takes on the fake clock.
 */
function harness(overrides: Partial<RetryOptions> = {}, attemptMs = 0) {
  let clock = 1_000_000;
  const sleeps: number[] = [];
  const errors: Error[] = [];
  const options: RetryOptions = {
    maxAttempts: 5,
    baseDelayMs: 100,
    maxDelayMs: 2000,
    deadlineMs: 10_000,
    classify: () => ({ retryable: true }),
    now: () => clock,
    sleep: (ms) => {
      sleeps.push(ms);
      clock += ms;
      return Promise.resolve();
    },
    random: () => 1,
    ...overrides,
  };
  /** Fails `failures` times (each with a new Error), then returns 'ok'. */
  const attemptFailing = (failures: number) =>
    vi.fn((_signal: AbortSignal, attemptNumber: number) => {
      clock += attemptMs;
      if (attemptNumber <= failures) {
        const err = new Error(`503 on attempt ${attemptNumber}`);
        errors.push(err);
        return Promise.reject(err);
      }
      return Promise.resolve('ok');
    });
  return { options, sleeps, errors, attemptFailing, elapsed: () => clock - 1_000_000 };
}

/** Records whether a promise has settled, without leaving a rejection unhandled. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});

afterEach(async () => {
  vi.useRealTimers();
  // Let any late rejection surface, then require that none went unhandled.
  await new Promise((resolve) => setImmediate(resolve));
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

describe('withRetry', () => {
  it('returns the first successful result without sleeping', async () => {
    const { options, sleeps, attemptFailing } = harness();
    const attempt = attemptFailing(0);
    await expect(withRetry(attempt, options)).resolves.toBe('ok');
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(attempt.mock.calls[0]?.[0]).toBeInstanceOf(AbortSignal);
    expect(attempt.mock.calls[0]?.[1]).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('retries retryable failures until an attempt succeeds, numbering attempts from 1', async () => {
    const { options, attemptFailing } = harness();
    const attempt = attemptFailing(2);
    await expect(withRetry(attempt, options)).resolves.toBe('ok');
    expect(attempt.mock.calls.map((call) => call[1])).toEqual([1, 2, 3]);
  });

  it('throws UnavailableError UPSTREAM_UNAVAILABLE with the last error as cause when attempts run out', async () => {
    const { options, errors, attemptFailing } = harness({ maxAttempts: 3 });
    const attempt = attemptFailing(Infinity);
    const err = await withRetry(attempt, options).catch((e: unknown) => e);

    expect(attempt).toHaveBeenCalledTimes(3);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({
      code: 'UNAVAILABLE',
      reason: 'UPSTREAM_UNAVAILABLE',
      message: GENERIC_MESSAGE,
    });
    expect((err as Error).cause).toBe(errors[2]);
  });

  it('makes exactly one attempt when maxAttempts is 1', async () => {
    const { options, sleeps, attemptFailing } = harness({ maxAttempts: 1 });
    const attempt = attemptFailing(Infinity);
    await expect(withRetry(attempt, options)).rejects.toMatchObject({ reason: 'UPSTREAM_UNAVAILABLE' });
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(sleeps).toEqual([]);
  });

  it('rethrows a non-retryable error unchanged without retrying', async () => {
    const forbidden = new Error('403');
    const classify = vi.fn(() => ({ retryable: false }));
    const { options, sleeps } = harness({ classify });
    const attempt = vi.fn(() => Promise.reject(forbidden));
    await expect(withRetry(attempt, options)).rejects.toBe(forbidden);
    expect(attempt).toHaveBeenCalledTimes(1);
    expect(classify).toHaveBeenCalledWith(forbidden);
    expect(sleeps).toEqual([]);
  });

  it('rethrows a non-retryable error that follows retryable ones', async () => {
    const notFound = new Error('404');
    const { options } = harness({ classify: (err) => ({ retryable: err !== notFound }) });
    const attempt = vi.fn((_s: AbortSignal, n: number) =>
      Promise.reject(n === 3 ? notFound : new Error('503')),
    );
    await expect(withRetry(attempt, options)).rejects.toBe(notFound);
    expect(attempt).toHaveBeenCalledTimes(3);
  });

  it('treats a synchronous throw from the attempt like a rejection', async () => {
    const { options } = harness({ maxAttempts: 2 });
    const boom = new Error('sync');
    const attempt = vi.fn((): Promise<string> => {
      throw boom;
    });
    const err = await withRetry(attempt, options).catch((e: unknown) => e);
    expect(attempt).toHaveBeenCalledTimes(2);
    expect((err as Error).cause).toBe(boom);
  });

  it.each([
    [1, [100, 200, 400, 800, 1600, 2000, 2000]],
    [0.5, [50, 100, 200, 400, 800, 1000, 1000]],
    [0, [0, 0, 0, 0, 0, 0, 0]],
  ])('waits random() * min(maxDelayMs, baseDelayMs * 2^(n-1)) with random() = %s', async (r, expected) => {
    const { options, sleeps, attemptFailing } = harness({
      maxAttempts: 8,
      deadlineMs: 60_000,
      random: () => r,
    });
    await withRetry(attemptFailing(7), options);
    expect(sleeps).toEqual(expected);
  });

  it('reports each retry to onRetry with the failed attempt number, the delay and the error', async () => {
    const onRetry = vi.fn();
    const { options, errors, attemptFailing } = harness({ onRetry });
    await withRetry(attemptFailing(2), options);
    expect(onRetry.mock.calls).toEqual([
      [{ attempt: 1, delayMs: 100, error: errors[0] }],
      [{ attempt: 2, delayMs: 200, error: errors[1] }],
    ]);
  });

  describe('Retry-After', () => {
    it('waits at least the server-requested delay when it exceeds the backoff', async () => {
      const { options, sleeps, attemptFailing } = harness({
        random: () => 0.1,
        classify: () => ({ retryable: true, retryAfterMs: 1500 }),
      });
      await withRetry(attemptFailing(1), options);
      expect(sleeps).toEqual([1500]);
    });

    it('honours a server-requested delay above maxDelayMs', async () => {
      const { options, sleeps, attemptFailing } = harness({
        classify: () => ({ retryable: true, retryAfterMs: 5000 }),
      });
      await withRetry(attemptFailing(1), options);
      expect(sleeps).toEqual([5000]);
    });

    it('keeps the backoff when the server-requested delay is shorter', async () => {
      const { options, sleeps, attemptFailing } = harness({
        classify: () => ({ retryable: true, retryAfterMs: 50 }),
      });
      await withRetry(attemptFailing(1), options);
      expect(sleeps).toEqual([100]);
    });

    it.each([NaN, Infinity, -5])('ignores a retryAfterMs of %s', async (retryAfterMs) => {
      const { options, sleeps, attemptFailing } = harness({
        classify: () => ({ retryable: true, retryAfterMs }),
      });
      await withRetry(attemptFailing(1), options);
      expect(sleeps).toEqual([100]);
    });

    it('gives up at once with UPSTREAM_DEADLINE_EXCEEDED when the requested delay would cross the deadline', async () => {
      const { options, sleeps, errors, attemptFailing } = harness({
        deadlineMs: 1000,
        classify: () => ({ retryable: true, retryAfterMs: 2000 }),
      });
      const attempt = attemptFailing(Infinity);
      const err = await withRetry(attempt, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err).toMatchObject({ reason: 'UPSTREAM_DEADLINE_EXCEEDED', message: GENERIC_MESSAGE });
      expect((err as Error).cause).toBe(errors[0]);
      expect(attempt).toHaveBeenCalledTimes(1);
      expect(sleeps).toEqual([]);
    });
  });

  describe('deadline', () => {
    it('stops before a backoff that would reach the deadline, never sleeping past it', async () => {
      const { options, sleeps, errors, attemptFailing, elapsed } = harness({
        deadlineMs: 1000,
        baseDelayMs: 400,
      });
      const attempt = attemptFailing(Infinity);
      const err = await withRetry(attempt, options).catch((e: unknown) => e);
      // 400 ms fits; the next 800 ms would end at 1200 ms.
      expect(sleeps).toEqual([400]);
      expect(attempt).toHaveBeenCalledTimes(2);
      expect(err).toMatchObject({ code: 'UNAVAILABLE', reason: 'UPSTREAM_DEADLINE_EXCEEDED' });
      expect((err as Error).cause).toBe(errors[1]);
      expect(elapsed()).toBeLessThan(1000);
    });

    it('counts the time attempts take against the deadline', async () => {
      const { options, sleeps, attemptFailing } = harness({ deadlineMs: 10_000, random: () => 0 }, 3000);
      const attempt = attemptFailing(Infinity);
      await expect(withRetry(attempt, options)).rejects.toMatchObject({
        reason: 'UPSTREAM_DEADLINE_EXCEEDED',
      });
      expect(attempt).toHaveBeenCalledTimes(4);
      expect(sleeps).toEqual([0, 0, 0]);
    });

    it('does not start another attempt when a sleep overran the deadline', async () => {
      let clock = 0;
      const { options, attemptFailing } = harness({
        deadlineMs: 1000,
        now: () => clock,
        sleep: () => {
          clock += 5000;
          return Promise.resolve();
        },
      });
      const attempt = attemptFailing(Infinity);
      await expect(withRetry(attempt, options)).rejects.toMatchObject({
        reason: 'UPSTREAM_DEADLINE_EXCEEDED',
      });
      expect(attempt).toHaveBeenCalledTimes(1);
    });

    it('aborts the attempt signal at the deadline and stops waiting even if the attempt ignores it', async () => {
      vi.useFakeTimers();
      const { options } = harness({ now: undefined, sleep: undefined, deadlineMs: 500 });
      const seen: AbortSignal[] = [];
      const first = new Error('503');
      const attempt = vi.fn((signal: AbortSignal, n: number) => {
        seen.push(signal);
        return n === 1 ? Promise.reject(first) : new Promise<string>(() => undefined);
      });
      const state = track(withRetry(attempt, options));

      await vi.advanceTimersByTimeAsync(499); // 100 ms backoff, then attempt 2 hangs
      expect(attempt).toHaveBeenCalledTimes(2);
      expect(state.settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(state.settled).toBe(true);

      expect(state.error).toBeInstanceOf(UnavailableError);
      expect(state.error).toMatchObject({ reason: 'UPSTREAM_DEADLINE_EXCEEDED', message: GENERIC_MESSAGE });
      const cause = (state.error as Error).cause;
      expect(cause).toBeInstanceOf(DeadlineExceededError);
      expect(cause).toMatchObject({ code: 'DEADLINE_EXCEEDED', reason: 'RETRY_DEADLINE_EXCEEDED' });
      expect((cause as Error).cause).toBe(first);
      expect(seen[1]?.aborted).toBe(true);
      expect(seen[1]?.reason).toBe(cause);
      expect(seen[0]?.aborted).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('reports the deadline when an attempt honours its signal and rejects with its reason', async () => {
      vi.useFakeTimers();
      const { options } = harness({ now: undefined, sleep: undefined, deadlineMs: 300 });
      const attempt = (signal: AbortSignal): Promise<string> =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason as Error)),
        );
      const state = track(withRetry(attempt, options));
      await vi.advanceTimersByTimeAsync(300);
      expect(state.error).toMatchObject({ reason: 'UPSTREAM_DEADLINE_EXCEEDED' });
      expect((state.error as Error).cause).toBeInstanceOf(DeadlineExceededError);
    });

    it('clears its deadline timer after a successful attempt', async () => {
      vi.useFakeTimers();
      const { options, attemptFailing } = harness({ now: undefined });
      await withRetry(attemptFailing(1), options);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('caller cancellation', () => {
    it('rejects with the abort reason and clears the sleep timer when aborted during a backoff', async () => {
      vi.useFakeTimers();
      const controller = new AbortController();
      const cancelled = new Error('caller went away');
      const { options, attemptFailing } = harness({
        now: undefined,
        sleep: undefined,
        signal: controller.signal,
        baseDelayMs: 1000,
      });
      const attempt = attemptFailing(Infinity);
      const state = track(withRetry(attempt, options));

      await vi.advanceTimersByTimeAsync(10);
      expect(attempt).toHaveBeenCalledTimes(1);
      expect(vi.getTimerCount()).toBe(1); // the backoff sleep
      controller.abort(cancelled);
      await vi.advanceTimersByTimeAsync(0);

      expect(state.error).toBe(cancelled);
      expect(vi.getTimerCount()).toBe(0);
      expect(attempt).toHaveBeenCalledTimes(1);
    });

    it('stops waiting for an injected sleep that ignores the signal', async () => {
      const controller = new AbortController();
      const { options, attemptFailing } = harness({
        signal: controller.signal,
        sleep: () => new Promise<void>(() => undefined),
      });
      const attempt = attemptFailing(Infinity);
      const result = withRetry(attempt, options);
      await vi.waitFor(() => expect(attempt).toHaveBeenCalledTimes(1));
      controller.abort(new Error('stop'));
      await expect(result).rejects.toThrow('stop');
      expect(attempt).toHaveBeenCalledTimes(1);
    });

    it('aborts the running attempt and does not retry when the caller aborts during it', async () => {
      const controller = new AbortController();
      const cancelled = new Error('cancelled');
      const { options } = harness({ signal: controller.signal });
      let attemptSignal: AbortSignal | undefined;
      const attempt = vi.fn((signal: AbortSignal) => {
        attemptSignal = signal;
        return new Promise<string>(() => undefined);
      });
      const result = withRetry(attempt, options);
      await vi.waitFor(() => expect(attempt).toHaveBeenCalledTimes(1));
      controller.abort(cancelled);
      await expect(result).rejects.toBe(cancelled);
      expect(attemptSignal?.aborted).toBe(true);
      expect(attemptSignal?.reason).toBe(cancelled);
      expect(attempt).toHaveBeenCalledTimes(1);
    });

    it('does not sleep when the caller aborts from onRetry', async () => {
      const controller = new AbortController();
      const cancelled = new Error('cancelled in onRetry');
      const { options, attemptFailing } = harness({
        signal: controller.signal,
        sleep: undefined,
        onRetry: () => controller.abort(cancelled),
      });
      const attempt = attemptFailing(Infinity);
      await expect(withRetry(attempt, options)).rejects.toBe(cancelled);
      expect(attempt).toHaveBeenCalledTimes(1);
    });

    it('never calls the attempt when the signal is already aborted', async () => {
      const controller = new AbortController();
      const cancelled = new Error('already');
      controller.abort(cancelled);
      const { options, attemptFailing } = harness({ signal: controller.signal });
      const attempt = attemptFailing(0);
      await expect(withRetry(attempt, options)).rejects.toBe(cancelled);
      expect(attempt).not.toHaveBeenCalled();
    });
  });

  it.each<[string, Partial<Record<keyof RetryOptions, unknown>>]>([
    ['maxAttempts of 0', { maxAttempts: 0 }],
    ['a fractional maxAttempts', { maxAttempts: 2.5 }],
    ['a negative baseDelayMs', { baseDelayMs: -1 }],
    ['a NaN maxDelayMs', { maxDelayMs: NaN }],
    ['a deadlineMs of 0', { deadlineMs: 0 }],
    ['a deadlineMs beyond what a timer can hold', { deadlineMs: 2 ** 31 }],
    ['a missing classify', { classify: undefined }],
    ['a sleep that is not a function', { sleep: 100 }],
    ['an onRetry that is not a function', { onRetry: 'log' }],
  ])('rejects %s with a TypeError', async (_name, override) => {
    const { options, attemptFailing } = harness(override as Partial<RetryOptions>);
    const attempt = attemptFailing(0);
    await expect(withRetry(attempt, options)).rejects.toThrow(TypeError);
    expect(attempt).not.toHaveBeenCalled();
  });
});

describe('abortableSleep', () => {
  it('resolves once the delay has passed', async () => {
    vi.useFakeTimers();
    const state = track(abortableSleep(1000));
    await vi.advanceTimersByTimeAsync(999);
    expect(state.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.settled).toBe(true);
    expect(state.error).toBeUndefined();
  });

  it('rejects with the reason and clears its timer when aborted', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const sleeping = abortableSleep(1000, controller.signal);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once without a timer when the signal is already aborted', async () => {
    vi.useFakeTimers();
    const sleeping = abortableSleep(1000, AbortSignal.abort(new Error('early')));
    expect(vi.getTimerCount()).toBe(0);
    await expect(sleeping).rejects.toThrow('early');
  });
});

describe('parseRetryAfter', () => {
  const NOW = Date.UTC(2026, 10, 26, 20, 0, 0); // Thu, 26 Nov 2026 20:00:00 GMT

  it.each<[string, string | null | undefined, number | undefined]>([
    ['an absent header', undefined, undefined],
    ['a null header', null, undefined],
    ['an empty header', '', undefined],
    ['a blank header', '   ', undefined],
    ['zero seconds', '0', 0],
    ['delta-seconds', '120', 120_000],
    ['delta-seconds with surrounding whitespace', ' 5 ', 5000],
    ['delta-seconds beyond the cap', '86400', MAX_RETRY_AFTER_MS],
    ['an absurdly long number', '9'.repeat(30), MAX_RETRY_AFTER_MS],
    ['a negative number', '-1', undefined],
    ['a fractional number', '1.5', undefined],
    ['an exponent', '1e3', undefined],
    ['a number with a unit', '5s', undefined],
    ['a word', 'soon', undefined],
    ['an IMF-fixdate 30 s ahead', 'Thu, 26 Nov 2026 20:00:30 GMT', 30_000],
    ['an IMF-fixdate in the past', 'Thu, 26 Nov 2026 19:00:00 GMT', 0],
    ['an IMF-fixdate a day ahead', 'Fri, 27 Nov 2026 20:00:00 GMT', MAX_RETRY_AFTER_MS],
    ['an RFC 850 date 30 s ahead', 'Thursday, 26-Nov-26 20:00:30 GMT', 30_000],
    ['an asctime date 30 s ahead', 'Thu Nov 26 20:00:30 2026', 30_000],
    ['an asctime date with a one-digit day', 'Fri Nov  6 20:00:00 2026', 0],
    ['a date without GMT', 'Thu, 26 Nov 2026 20:00:30', undefined],
    ['a date with a numeric offset', 'Thu, 26 Nov 2026 20:00:30 +0000', undefined],
    ['a date with an impossible day', 'Tue, 31 Feb 2026 20:00:30 GMT', undefined],
    ['a date with an impossible hour', 'Thu, 26 Nov 2026 25:00:30 GMT', undefined],
    ['an ISO 8601 timestamp', '2026-11-26T20:00:30Z', undefined],
  ])('parses %s (%j)', (_name, header, expected) => {
    expect(parseRetryAfter(header, NOW)).toBe(expected);
  });

  it('reads an RFC 850 two-digit year more than 50 years ahead as the previous century', () => {
    expect(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('Saturday, 06-Nov-76 08:49:37 GMT', NOW)).toBe(MAX_RETRY_AFTER_MS);
  });
});
