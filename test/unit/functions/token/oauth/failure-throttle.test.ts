import { describe, expect, it } from 'vitest';
import {
  createFailureThrottle,
  type ThrottleAttempt,
} from '../../../../../functions/token/oauth/failure-throttle.js';

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const fail = (a: ThrottleAttempt) => {
  if (a.throttled) throw new Error('unexpectedly throttled');
  a.settle(false);
};
const succeed = (a: ThrottleAttempt) => {
  if (a.throttled) throw new Error('unexpectedly throttled');
  a.settle(true);
};

describe('createFailureThrottle', () => {
  it('allows K failures, then refuses for the window with the seconds left', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 100, now: c.now });
    for (let i = 0; i < 3; i++) fail(t.attempt('batch'));
    expect(t.attempt('batch')).toEqual({ throttled: true, retryAfterSeconds: 60 });
    c.advance(59_001);
    expect(t.attempt('batch')).toEqual({ throttled: true, retryAfterSeconds: 1 });
    c.advance(999);
    expect(t.attempt('batch').throttled).toBe(false);
  });

  it('rounds Retry-After up so a client that obeys it is not refused again', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 1, windowMs: 10_000, maxEntries: 100, now: c.now });
    fail(t.attempt('batch'));
    c.advance(500);
    expect(t.attempt('batch')).toEqual({ throttled: true, retryAfterSeconds: 10 });
  });

  it('counts failures per client id', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 2, windowMs: 60_000, maxEntries: 100, now: c.now });
    fail(t.attempt('a'));
    fail(t.attempt('a'));
    expect(t.attempt('a').throttled).toBe(true);
    expect(t.attempt('b').throttled).toBe(false);
  });

  it('forgets failures older than the window', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 100, now: c.now });
    fail(t.attempt('batch'));
    fail(t.attempt('batch'));
    c.advance(60_000);
    fail(t.attempt('batch'));
    fail(t.attempt('batch'));
    expect(t.attempt('batch').throttled).toBe(false);
  });

  it('does not let a success reset the failures (an attacker interleaving with the real client gains nothing)', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 100, now: c.now });
    fail(t.attempt('batch'));
    fail(t.attempt('batch'));
    succeed(t.attempt('batch'));
    fail(t.attempt('batch'));
    expect(t.attempt('batch').throttled).toBe(true);
  });

  it('counts attempts still in flight, so a burst of parallel guesses gets no more than K verifications', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 100, now: c.now });
    const burst = Array.from({ length: 10 }, () => t.attempt('batch'));
    expect(burst.filter((a) => !a.throttled)).toHaveLength(3);
    for (const a of burst) if (!a.throttled) a.settle(false);
    expect(t.attempt('batch').throttled).toBe(true);
  });

  it('releases the in-flight slot of an attempt that succeeded', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 2, windowMs: 60_000, maxEntries: 100, now: c.now });
    for (let i = 0; i < 10; i++) succeed(t.attempt('batch'));
    expect(t.attempt('batch').throttled).toBe(false);
  });

  it('ignores a second settle of the same attempt', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 2, windowMs: 60_000, maxEntries: 100, now: c.now });
    const a = t.attempt('batch');
    if (a.throttled) throw new Error('throttled');
    a.settle(false);
    a.settle(false);
    expect(t.attempt('batch').throttled).toBe(false);
  });

  it('keeps at most maxEntries ids, and refuses new ids rather than forgetting a live one', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 100, now: c.now });
    fail(t.attempt('target'));
    fail(t.attempt('target'));
    // An attacker cycles ids to push the target's record out of the table...
    for (let i = 0; i < 500; i++) {
      const a = t.attempt(`cycle-${i}`);
      if (!a.throttled) a.settle(false);
    }
    expect(t.size).toBeLessThanOrEqual(100);
    // ...but the target's failures are still counted: one more and it is throttled.
    fail(t.attempt('target'));
    expect(t.attempt('target').throttled).toBe(true);
    // A new id while the table is full of live records waits for the oldest to expire.
    const full = t.attempt('newcomer');
    expect(full.throttled).toBe(true);
    expect(full.throttled && full.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('frees the entries of expired windows for new ids', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 10, now: c.now });
    for (let i = 0; i < 10; i++) fail(t.attempt(`id-${i}`));
    expect(t.attempt('newcomer').throttled).toBe(true);
    c.advance(60_000);
    expect(t.attempt('newcomer').throttled).toBe(false);
    expect(t.size).toBeLessThanOrEqual(10);
  });

  it('does not keep an entry for an id that only ever succeeded', () => {
    const c = clock();
    const t = createFailureThrottle({ maxFailures: 3, windowMs: 60_000, maxEntries: 10, now: c.now });
    for (let i = 0; i < 50; i++) succeed(t.attempt(`ok-${i}`));
    expect(t.size).toBe(0);
  });

  it('refuses nonsensical options', () => {
    expect(() => createFailureThrottle({ maxFailures: 0, windowMs: 60_000, maxEntries: 10 })).toThrow(
      TypeError,
    );
    expect(() => createFailureThrottle({ maxFailures: 1, windowMs: 0, maxEntries: 10 })).toThrow(TypeError);
    expect(() => createFailureThrottle({ maxFailures: 1, windowMs: 1000, maxEntries: 0 })).toThrow(TypeError);
  });
});
