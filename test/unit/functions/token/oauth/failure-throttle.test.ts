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

/** A throttle over a clock the test sets, and helpers for allowed attempts. */
function setup(maxFailures: number, maxEntries = 100) {
  const clock = { now: 0 };
  const throttle = createFailureThrottle({ maxFailures, windowMs: 10_000, maxEntries, now: () => clock.now });
  const allowed = (key: string) => {
    const a: ThrottleAttempt = throttle.attempt(key);
    if (a.throttled) throw new Error(`${key} throttled at ${clock.now}`);
    return a;
  };
  const failAt = (key: string, t: number) => {
    clock.now = t;
    allowed(key).settle(false);
  };
  return { clock, throttle, allowed, failAt };
}

describe('failure throttle, exact figures', () => {
  it('refuses nonsensical options with a message naming the option, and accepts a table of one', () => {
    const base = { maxFailures: 1, windowMs: 1, maxEntries: 1 };
    expect(() => createFailureThrottle({ ...base, maxFailures: 0 })).toThrow(
      new TypeError('maxFailures must be a positive integer'),
    );
    expect(() => createFailureThrottle({ ...base, windowMs: 0 })).toThrow(
      new TypeError('windowMs must be positive'),
    );
    expect(() => createFailureThrottle({ ...base, maxEntries: 0 })).toThrow(
      new TypeError('maxEntries must be a positive integer'),
    );
    expect(createFailureThrottle(base).size).toBe(0);
  });

  it('locks an id for a window from its last failure once it reaches the maximum within one window', () => {
    const { clock, throttle, failAt } = setup(2);
    failAt('k', 0);
    failAt('k', 9000); // second failure inside the window 0–10 s: locked until 19 s
    clock.now = 12_000; // the window has ended, the lock has not
    expect(throttle.attempt('k')).toEqual({ throttled: true, retryAfterSeconds: 7 });
    clock.now = 19_000;
    expect(throttle.attempt('k').throttled).toBe(false);
  });

  it('while attempts are in flight, refuses more with the time left in the window', () => {
    const { clock, throttle, allowed } = setup(2);
    allowed('k');
    allowed('k');
    clock.now = 3000;
    expect(throttle.attempt('k')).toEqual({ throttled: true, retryAfterSeconds: 7 });
  });

  it('keeps an id while an attempt is in flight, even after another attempt succeeds', () => {
    const { throttle, allowed } = setup(2);
    const first = allowed('k');
    const second = allowed('k');
    first.settle(true);
    expect(throttle.size).toBe(1);
    second.settle(false);
    expect(throttle.size).toBe(1);
  });

  it('when the table is full, tells a new id when the soonest record expires (a lock counts to its end)', () => {
    const { clock, throttle, failAt } = setup(2, 2);
    failAt('a', 0);
    failAt('a', 3000); // locked until 13 s (its window would have ended at 10 s)
    failAt('b', 4000); // window until 14 s
    clock.now = 5000;
    expect(throttle.attempt('c')).toEqual({ throttled: true, retryAfterSeconds: 8 });
  });

  it('sweeps expired records only when the table is full, not on every new id', () => {
    const { clock, throttle, failAt, allowed } = setup(3, 3);
    failAt('a', 0);
    clock.now = 20_000; // a's window is over, but nothing has looked at it
    allowed('b');
    expect(throttle.size).toBe(2);
    allowed('c');
    expect(throttle.size).toBe(3);
    allowed('d'); // full: the sweep drops a
    expect(throttle.size).toBe(3);
  });
});
