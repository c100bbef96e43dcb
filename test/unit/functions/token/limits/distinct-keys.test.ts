import { describe, expect, it } from 'vitest';
import { DistinctKeyTracker } from '../../../../../functions/token/limits/distinct-keys.js';

function tracker(maxEntries = 100) {
  const clock = { t: 10_000_000 };
  return { clock, d: new DistinctKeyTracker({ windowMs: 3_600_000, maxEntries, now: () => clock.t }) };
}

/** Records when allowed; returns the wait (0 = allowed). */
function mint(d: DistinctKeyTracker, caller: string, key: string, cap: number, t: number): number {
  const digest = d.digest(key);
  const wait = d.wait(caller, digest, cap, t);
  if (wait === 0) d.record(caller, digest, t);
  return wait;
}

describe('DistinctKeyTracker', () => {
  it('admits up to the cap of different keys, then only keys already seen, until the window ends', () => {
    const { clock, d } = tracker();
    for (let i = 0; i < 3; i++) expect(mint(d, 'c', `k${i}`, 3, clock.t + i)).toBe(0);
    expect(d.count('c')).toBe(3);
    expect(mint(d, 'c', 'k3', 3, clock.t + 1000)).toBe(3_600_000 - 1000);
    expect(mint(d, 'c', 'k1', 3, clock.t + 1000)).toBe(0);
    expect(d.count('c')).toBe(3);
    // The window opened with the first mint: an hour later a new one opens with this key alone.
    clock.t += 3_600_000;
    expect(d.count('c')).toBe(0);
    expect(mint(d, 'c', 'k3', 3, clock.t)).toBe(0);
    expect(d.count('c')).toBe(1);
  });

  it('grows past its initial capacity without losing keys', () => {
    const { clock, d } = tracker();
    for (let i = 0; i < 1000; i++) expect(mint(d, 'c', `key-${i}`, 1000, clock.t)).toBe(0);
    expect(d.count('c')).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(mint(d, 'c', `key-${i}`, 1000, clock.t)).toBe(0);
    expect(d.count('c')).toBe(1000);
    expect(mint(d, 'c', 'one-more', 1000, clock.t)).toBeGreaterThan(0);
  });

  it('digests are salted per process: the same key digests alike within one tracker only', () => {
    const a = new DistinctKeyTracker({ windowMs: 1, maxEntries: 1 });
    const b = new DistinctKeyTracker({ windowMs: 1, maxEntries: 1 });
    expect(a.digest('k')).toBe(a.digest('k'));
    expect(a.digest('k')).not.toBe(b.digest('k'));
    expect(Number.isSafeInteger(a.digest('k'))).toBe(true);
  });

  it('holds at most maxEntries callers, evicting the least recently used', () => {
    const { clock, d } = tracker(10);
    for (let i = 0; i < 1000; i++) mint(d, `attacker-${i}`, 'k', 5, clock.t);
    expect(d.size).toBe(10);
  });

  it('refuses nonsensical options', () => {
    expect(() => new DistinctKeyTracker({ windowMs: 0, maxEntries: 1 })).toThrow(TypeError);
    expect(() => new DistinctKeyTracker({ windowMs: 1, maxEntries: 0 })).toThrow(TypeError);
  });
});
