import { describe, expect, it } from 'vitest';
import { retryAfterSeconds, TokenBucketTable } from '../../../../../functions/token/limits/token-bucket.js';

/** A table on a hand-driven clock. */
function table(maxEntries = 100) {
  const clock = { t: 1_000_000 };
  return { clock, buckets: new TokenBucketTable({ maxEntries, now: () => clock.t }) };
}

/** Takes when admitted; returns the wait (0 = admitted). */
function request(
  buckets: TokenBucketTable,
  key: string,
  perMinute: number,
  burst: number,
  t: number,
): number {
  const wait = buckets.wait(key, perMinute, burst, t);
  if (wait === 0) buckets.take(key, perMinute, t);
  return wait;
}

describe('TokenBucketTable', () => {
  it('admits a full burst at once, then refuses with the exact wait until one token refills', () => {
    const { clock, buckets } = table();
    for (let i = 0; i < 5; i++) expect(request(buckets, 'a', 60, 5, clock.t)).toBe(0);
    // 60 a minute: one token per 1000 ms.
    expect(request(buckets, 'a', 60, 5, clock.t)).toBe(1000);
    expect(request(buckets, 'a', 60, 5, clock.t + 999)).toBe(1);
    expect(request(buckets, 'a', 60, 5, clock.t + 1000)).toBe(0);
    // The token just taken was the only one refilled: the next waits a full interval again.
    expect(request(buckets, 'a', 60, 5, clock.t + 1000)).toBe(1000);
  });

  it('refills at exactly the configured rate and never beyond the burst', () => {
    const { clock, buckets } = table();
    for (let i = 0; i < 3; i++) request(buckets, 'a', 120, 3, clock.t);
    // 120 a minute: 500 ms a token; after 1,000 ms two tokens are back, not three.
    const later = clock.t + 1000;
    expect(request(buckets, 'a', 120, 3, later)).toBe(0);
    expect(request(buckets, 'a', 120, 3, later)).toBe(0);
    expect(request(buckets, 'a', 120, 3, later)).toBe(500);
    // An hour idle refills to the burst only.
    const idle = later + 3_600_000;
    for (let i = 0; i < 3; i++) expect(request(buckets, 'a', 120, 3, idle)).toBe(0);
    expect(request(buckets, 'a', 120, 3, idle)).toBe(500);
  });

  it('keeps keys apart', () => {
    const { clock, buckets } = table();
    expect(request(buckets, 'a', 1, 1, clock.t)).toBe(0);
    expect(request(buckets, 'a', 1, 1, clock.t)).toBe(60_000);
    expect(request(buckets, 'b', 1, 1, clock.t)).toBe(0);
  });

  it('wait reads only: a refusal by one bucket never spends another', () => {
    const { clock, buckets } = table();
    expect(buckets.wait('a', 1, 1, clock.t)).toBe(0);
    expect(buckets.wait('a', 1, 1, clock.t)).toBe(0);
    expect(buckets.size).toBe(0);
  });

  it('applies changed limits to the state it has (a policy reload keeps the debt, in time)', () => {
    const { clock, buckets } = table();
    for (let i = 0; i < 10; i++) request(buckets, 'a', 60, 10, clock.t);
    expect(request(buckets, 'a', 60, 10, clock.t)).toBe(1000);
    // A reload raises the burst: the same state now admits more, at once.
    expect(request(buckets, 'a', 60, 20, clock.t)).toBe(0);
    // A reload lowers it: the debt taken so far refuses until it has drained.
    expect(request(buckets, 'a', 60, 2, clock.t)).toBe(10_000);
  });

  it('holds at most maxEntries keys, evicting a full bucket before a live one', () => {
    const { clock, buckets } = table(3);
    request(buckets, 'idle', 60, 1, clock.t - 10_000); // refilled long ago
    request(buckets, 'busy1', 60, 1, clock.t);
    request(buckets, 'busy2', 60, 1, clock.t);
    request(buckets, 'new', 60, 1, clock.t);
    expect(buckets.size).toBe(3);
    // The live buckets kept their state; the idle one went.
    expect(buckets.wait('busy1', 60, 1, clock.t)).toBe(1000);
    expect(buckets.wait('busy2', 60, 1, clock.t)).toBe(1000);
    expect(buckets.wait('idle', 60, 1, clock.t)).toBe(0);
  });

  it('when full of live buckets, evicts the least recently used one (fails open for it, never closed for a new key)', () => {
    const { clock, buckets } = table(2);
    request(buckets, 'a', 1, 1, clock.t);
    request(buckets, 'b', 1, 1, clock.t);
    request(buckets, 'a', 1, 2, clock.t + 1); // touches a: b is now the least recently used
    expect(request(buckets, 'c', 1, 1, clock.t + 2)).toBe(0);
    expect(buckets.size).toBe(2);
    expect(buckets.wait('b', 1, 1, clock.t + 2)).toBe(0); // forgotten: a full bucket again
    expect(buckets.wait('a', 1, 1, clock.t + 2)).toBeGreaterThan(0);
  });

  it('an attacker cycling 100,000 identities keeps the table at its bound', () => {
    const { clock, buckets } = table(1000);
    for (let i = 0; i < 100_000; i++) request(buckets, `id-${i}`, 1, 1, clock.t);
    expect(buckets.size).toBe(1000);
  });

  it('refuses nonsensical sizes', () => {
    expect(() => new TokenBucketTable({ maxEntries: 0 })).toThrow(TypeError);
    expect(() => new TokenBucketTable({ maxEntries: 1.5 })).toThrow(TypeError);
  });
});

describe('retryAfterSeconds', () => {
  it.each([
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [59_000, 59],
    [60_000, 60],
  ])('%d ms → %d s (rounded up, never 0)', (ms, seconds) => {
    expect(retryAfterSeconds(ms)).toBe(seconds);
  });
});
