/**
 * The failure throttle's exact figures: the Retry-After each refusal carries, when a lock starts,
 * what the table keeps, and the option errors. Injected clock.
 */
import { describe, expect, it } from 'vitest';
import {
  createFailureThrottle,
  type ThrottleAttempt,
} from '../../../../../functions/token/oauth/failure-throttle.js';

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
