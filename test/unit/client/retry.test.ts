/**
 * The client's retry loop: which failures it retries, how it honours Retry-After, and what it
 * throws at the end. Time is frozen; the backoff jitter is pinned to 0 so only Retry-After counts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GeminiError, TokenServiceError } from '../../../client/errors.js';
import { HttpAnswerError } from '../../../client/errors.js';
import { retryTransient } from '../../../client/retry.js';

const NOW = Date.UTC(2026, 10, 26, 20, 0, 0);

beforeEach(() => {
  vi.useFakeTimers({ now: NOW });
});
afterEach(() => {
  vi.useRealTimers();
});

const answer = (status: number, headers: Record<string, string> = {}) =>
  new HttpAnswerError(
    status,
    { error: { code: status, status: 'UNAVAILABLE', message: 'x' } },
    new Headers(headers),
  );

/** Runs `retryTransient` over `failures` (then a success), recording every backoff delay. */
async function run(failures: Error[], options: { deadlineMs?: number } = {}) {
  const delays: number[] = [];
  let calls = 0;
  const result = retryTransient(
    'gemini',
    () => {
      calls++;
      const failure = failures.shift();
      return failure === undefined ? Promise.resolve('done') : Promise.reject(failure);
    },
    { random: () => 0, onRetry: ({ delayMs }) => delays.push(delayMs), ...options },
  ).catch((e: unknown) => e);
  await vi.advanceTimersByTimeAsync(3_700_000);
  return { result: await result, delays, calls: () => calls };
}

describe('retryTransient', () => {
  it.each<[string, Record<string, string>, number]>([
    ['delta-seconds', { 'retry-after': '7' }, 7000],
    ['an HTTP-date 20 s ahead', { 'retry-after': new Date(NOW + 20_000).toUTCString() }, 20_000],
    ['an HTTP-date in the past', { 'retry-after': new Date(NOW - 30_000).toUTCString() }, 0],
    ['a delta beyond the one-hour cap', { 'retry-after': '86400' }, 3_600_000],
    ['no Retry-After', {}, 0],
    ['an unparseable Retry-After', { 'retry-after': 'soon' }, 0],
  ])('waits as the answer says: %s', async (_name, headers, delayMs) => {
    const { result, delays } = await run([answer(503, headers)], { deadlineMs: 4_000_000 });
    expect(result).toBe('done');
    expect(delays).toEqual([delayMs]);
  });

  it('reads Retry-After from a gaxios-shaped answer with plain-object headers too', async () => {
    const gaxios = Object.assign(new Error('x'), {
      response: { status: 429, data: {}, headers: { 'retry-after': '3' } },
    });
    const { result, delays } = await run([gaxios]);
    expect(result).toBe('done');
    expect(delays).toEqual([3000]);
  });

  it("reads Retry-After from the service's answer as boundedFetch returns it (a get() reader, not Headers)", async () => {
    const reader = { get: (name: string) => (name.toLowerCase() === 'retry-after' ? '5' : null) };
    const fromBoundedFetch = new HttpAnswerError(
      503,
      { error: { code: 503, status: 'UNAVAILABLE' } },
      reader,
    );
    const { result, delays } = await run([fromBoundedFetch]);
    expect(result).toBe('done');
    expect(delays).toEqual([5000]);
  });

  it('does not retry a refusal and throws it as a friendly error after one attempt', async () => {
    const { result, calls } = await run([answer(403)]);
    expect(result).toBeInstanceOf(GeminiError);
    expect(result).toMatchObject({ httpStatus: 403, attempts: 1 });
    expect(calls()).toBe(1);
  });

  it('gives up when the answer asks for a wait past the deadline, reporting the last answer', async () => {
    const { result, calls } = await run([answer(503, { 'retry-after': '60' })], { deadlineMs: 10_000 });
    expect(result).toBeInstanceOf(GeminiError);
    expect(result).toMatchObject({ code: 'UNAVAILABLE', httpStatus: 503, attempts: 1 });
    expect(calls()).toBe(1);
  });

  it('names the service in the final error', async () => {
    const delays: number[] = [];
    const result = retryTransient('token-service', () => Promise.reject(answer(401)), {
      onRetry: ({ delayMs }) => delays.push(delayMs),
    }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await result).toBeInstanceOf(TokenServiceError);
    expect(delays).toEqual([]);
  });
});
