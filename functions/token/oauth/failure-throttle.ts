/**
 * Failed client authentications per client id, in one process: after `maxFailures` failures in a
 * window of `windowMs`, the id is refused for `windowMs` without its secret being checked.
 *
 * - An attempt counts from the moment it starts (in flight), so a burst of parallel guesses gets
 *   no more than `maxFailures` verifications.
 * - A success releases only its own slot: it never resets the failures, or an attacker could
 *   interleave guesses with the real client's requests and never be throttled.
 * - The table holds at most `maxEntries` ids. A live record is never evicted to make room (cycling
 *   ids would then wipe the record of the id under attack); when the table is full of live
 *   records, a new id is refused until the oldest expires. That fails closed for new ids during
 *   a flood, which costs the attacker a full table of secret verifications per window.
 *   With `whenFull: 'untracked'` a new key is instead let through untracked while the table is
 *   full: right for a SECOND throttle over another key space (source addresses), where refusing
 *   new keys would let one holder of many addresses lock out every new client, and where the
 *   per-client-id throttle still bounds the guesses against any one secret.
 */

export interface FailureThrottleOptions {
  maxFailures: number;
  windowMs: number;
  maxEntries: number;
  /** A new key while the table is full of live records: refused (default) or let through untracked. */
  whenFull?: 'refuse' | 'untracked';
  now?: () => number;
}

/** Either refused now, or allowed: report the outcome exactly once with `settle`. */
export type ThrottleAttempt =
  { throttled: true; retryAfterSeconds: number } | { throttled: false; settle(succeeded: boolean): void };

export interface FailureThrottle {
  attempt(key: string): ThrottleAttempt;
  /** Ids currently tracked. */
  readonly size: number;
}

interface Entry {
  failures: number;
  inFlight: number;
  windowStartMs: number;
  lockedUntilMs: number;
}

const untracked = (): void => {};

/** Creates an in-memory per-id failure throttle. Throws `TypeError` on nonsensical options. */
export function createFailureThrottle(options: FailureThrottleOptions): FailureThrottle {
  const { maxFailures, windowMs, maxEntries } = options;
  if (!Number.isInteger(maxFailures) || maxFailures < 1)
    throw new TypeError('maxFailures must be a positive integer');
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new TypeError('windowMs must be positive');
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new TypeError('maxEntries must be a positive integer');
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

  /** Ends a lock or a window that has run out. */
  const roll = (e: Entry, t: number) => {
    if (e.lockedUntilMs > 0 && t >= e.lockedUntilMs)
      Object.assign(e, { failures: 0, lockedUntilMs: 0, windowStartMs: t });
    else if (e.lockedUntilMs === 0 && t - e.windowStartMs >= windowMs)
      Object.assign(e, { failures: 0, windowStartMs: t });
  };
  const idle = (e: Entry) => e.failures === 0 && e.inFlight === 0 && e.lockedUntilMs === 0;
  const expiresAt = (e: Entry) => (e.lockedUntilMs > 0 ? e.lockedUntilMs : e.windowStartMs + windowMs);

  const sweep = (t: number) => {
    for (const [key, e] of entries) {
      roll(e, t);
      if (idle(e)) entries.delete(key);
    }
  };

  return {
    get size() {
      return entries.size;
    },
    attempt(key) {
      const t = now();
      let e = entries.get(key);
      if (!e) {
        if (entries.size >= maxEntries) sweep(t);
        if (entries.size >= maxEntries && options.whenFull === 'untracked')
          return { throttled: false, settle: untracked };
        if (entries.size >= maxEntries) {
          let soonest = Infinity;
          for (const other of entries.values()) soonest = Math.min(soonest, expiresAt(other));
          return { throttled: true, retryAfterSeconds: seconds(soonest - t) };
        }
        e = { failures: 0, inFlight: 0, windowStartMs: t, lockedUntilMs: 0 };
        entries.set(key, e);
      }
      roll(e, t);
      if (e.lockedUntilMs > t) return { throttled: true, retryAfterSeconds: seconds(e.lockedUntilMs - t) };
      if (e.failures + e.inFlight >= maxFailures)
        return { throttled: true, retryAfterSeconds: seconds(e.windowStartMs + windowMs - t) };
      e.inFlight += 1;
      const entry = e;
      let settled = false;
      return {
        throttled: false,
        settle(succeeded) {
          if (settled) return;
          settled = true;
          entry.inFlight -= 1;
          const at = now();
          roll(entry, at);
          if (!succeeded) {
            entry.failures += 1;
            if (entry.failures >= maxFailures) entry.lockedUntilMs = at + windowMs;
          }
          if (idle(entry) && entries.get(key) === entry) entries.delete(key);
        },
      };
    },
  };
}
