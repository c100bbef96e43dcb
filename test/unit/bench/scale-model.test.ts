import { describe, expect, it } from 'vitest';
import {
  expectedPerMinute,
  expectedRolloutFirstMinute,
  pairMintRate,
  pairStsRate,
  saKeyReadRate,
  saturatedMintsPerMinute,
} from '../../../bench/scale/closed-form.js';
import { DEFAULT_PARAMS, describeKeys, keyRates, type ScaleParams } from '../../../bench/scale/params.js';
import { createPrng, type Prng } from '../../../bench/scale/prng.js';
import { exceeds, firstExceeding, GOOGLE_QUOTAS } from '../../../bench/scale/quotas.js';
import { compact, runGrid, thresholdTable } from '../../../bench/scale/report.js';
import { downscopedPair, keyReads, plainPair, simulate } from '../../../bench/scale/simulate.js';
import { sharedTierRolloutFirstMinute, sharedTierSteadyPerMinute } from '../../../bench/scale/shared-tier.js';

const params = (overrides: Partial<ScaleParams>): ScaleParams => ({ ...DEFAULT_PARAMS, ...overrides });
const perKey = (requestsPerKeyPerHour: number) => ({ kind: 'per-key', requestsPerKeyPerHour }) as const;
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
/** A PRNG whose every wait is `wait` seconds: the cache rules become arithmetic. */
const fixedWait = (wait: number): Prng => ({ next: () => 0.5, exponential: () => wait });

describe('createPrng', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const a = createPrng(42);
    const b = createPrng(42);
    const c = createPrng(43);
    const seqA = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(seqA);
    expect(seqA.every((u) => u >= 0 && u < 1)).toBe(true);
  });

  it('draws exponential waits with mean 1 / rate', () => {
    const rng = createPrng(7);
    const draws = Array.from({ length: 100_000 }, () => rng.exponential(0.5));
    expect(sum(draws) / draws.length).toBeCloseTo(2, 1);
  });
});

describe('the cache rules of one (instance, key) pair', () => {
  it('mints at the first request, then at the first request after lifetime − refreshAhead', () => {
    const mints: number[] = [];
    plainPair(100, 1, 3600, 300, 100 + 3 * 3310, fixedWait(10), (t) => mints.push(t));
    expect(mints).toEqual([110, 110 + 3310, 110 + 2 * 3310]);
  });

  it('downscoping exchanges twice per source refresh when the next request comes before minRemaining', () => {
    const sources: number[] = [];
    const exchanges: number[] = [];
    downscopedPair(
      0,
      1,
      3600,
      300,
      60,
      7000,
      fixedWait(10),
      (t) => sources.push(t),
      (t) => exchanges.push(t),
    );
    // First request at 10: both miss (one source mint, one exchange with the fresh source). The first
    // request in the refresh-ahead window (3320) finds the downscoped token due: the minter hands back
    // the old source (refreshing it), the exchange stores the old expiry, and the next request (3330)
    // exchanges again with the new source.
    expect(sources).toEqual([10, 3320, 6630]);
    expect(exchanges).toEqual([10, 3320, 3330, 6630, 6640]);
  });

  it('downscoping exchanges once when the source had already expired', () => {
    const sources: number[] = [];
    const exchanges: number[] = [];
    downscopedPair(
      0,
      1,
      3600,
      300,
      60,
      7000,
      fixedWait(280),
      (t) => sources.push(t),
      (t) => exchanges.push(t),
    );
    expect(sources).toEqual([280, 280 + 3580, 280 + 2 * 3580].filter((t) => t < 7000));
    expect(exchanges).toEqual(sources);
  });

  it('re-reads an SA key on a mint only when the loaded key is older than the interval', () => {
    // 1000 is exactly 300 s after the read at 700: not older than the interval yet.
    expect(keyReads([0, 100, 301, 302, 700, 1000, 1001], 300)).toEqual([0, 301, 700, 1001]);
    expect(keyReads([], 300)).toEqual([]);
  });
});

describe('closed form', () => {
  it('mints once per lifetime − refreshAhead at most, and once per request for rare keys', () => {
    expect(pairMintRate(0, 3600, 300)).toBe(0);
    expect(pairMintRate(1e9, 3600, 300)).toBeCloseTo(1 / 3300, 9);
    expect(pairMintRate(1e-6, 3600, 300) / 1e-6).toBeCloseTo(1, 2);
  });

  it('counts one STS exchange per cycle for rare keys and two for frequent ones', () => {
    expect(pairStsRate(1e-9, 3600, 300, 60) / pairMintRate(1e-9, 3600, 300)).toBeCloseTo(1, 5);
    expect(pairStsRate(10, 3600, 300, 60) / pairMintRate(10, 3600, 300)).toBeCloseTo(2, 5);
  });

  it('reads each mint of a one-key SA and shares reads between the keys of one SA', () => {
    expect(saKeyReadRate([1 / 3300], 300)).toBe(1 / 3300);
    const five = new Array<number>(5).fill(1 / 3300);
    expect(saKeyReadRate(five, 300)).toBeLessThan(sum(five));
    expect(saKeyReadRate(five, 300)).toBeGreaterThan(1 / 3300);
  });

  it('never exceeds the ceiling of every instance holding every key', () => {
    for (const rate of [1, 600, 1e6]) {
      const p = params({ instances: 100, keys: 1000, rates: perKey(rate) });
      expect(expectedPerMinute(p).iamCredentials).toBeLessThanOrEqual(
        saturatedMintsPerMinute(100, 1000, 3600, 300),
      );
    }
    const hot = params({ instances: 100, keys: 1000, rates: perKey(1e9) });
    expect(expectedPerMinute(hot).iamCredentials / saturatedMintsPerMinute(100, 1000, 3600, 300)).toBeCloseTo(
      1,
      3,
    );
  });

  it.each([
    ['per key', perKey(600)],
    ['load-coupled', { kind: 'per-instance', requestsPerInstancePerSecond: 50, zipfExponent: 1 } as const],
  ])('grows with the number of instances (%s)', (_name, rates) => {
    const mints = [1, 10, 20, 100, 500, 1000].map(
      (instances) => expectedPerMinute(params({ instances, keys: 1000, rates })).iamCredentials,
    );
    for (let i = 1; i < mints.length; i++) expect(mints[i]).toBeGreaterThan(mints[i - 1]);
  });

  it('grows with the number of keys at a fixed rate per key', () => {
    const mints = [1, 10, 100, 1000, 10_000].map(
      (keys) => expectedPerMinute(params({ instances: 100, keys, rates: perKey(600) })).iamCredentials,
    );
    for (let i = 1; i < mints.length; i++) expect(mints[i]).toBeGreaterThan(mints[i - 1]);
  });
});

describe('simulation against the closed form', () => {
  it('is deterministic: the same seed gives the same minutes, another seed other minutes', () => {
    const p = params({ instances: 50, keys: 200, keylessShare: 0.5, downscopedShare: 0.3 });
    const a = simulate(p, { seed: 9, start: 'staggered' });
    expect(simulate(p, { seed: 9, start: 'staggered' })).toEqual(a);
    expect(simulate(p, { seed: 10, start: 'staggered' }).perMinute).not.toEqual(a.perMinute);
  });

  it.each([
    ['per key', params({ instances: 200, keys: 200, rates: perKey(600) })],
    ['load-coupled', params({ instances: 200, keys: 300 })],
  ])('mints within 5 %% of the expected steady rate (%s)', (_name, p) => {
    const sim = simulate(p, { seed: 1, start: 'staggered' }).mean.iamCredentials;
    expect(sim / expectedPerMinute(p).iamCredentials).toBeGreaterThan(0.95);
    expect(sim / expectedPerMinute(p).iamCredentials).toBeLessThan(1.05);
  });

  it('mints, exchanges and reads keys within 5 % of the expected first rollout minute', () => {
    const p = params({ instances: 100, keys: 300, keylessShare: 0.5, downscopedShare: 0.5 });
    const first = simulate(p, { seed: 3, start: 'together' }).perMinute;
    const expected = expectedRolloutFirstMinute(p);
    for (const u of ['iamCredentials', 'tokenEndpoint', 'secretManagerKeyReads', 'sts'] as const) {
      expect(first[u][0] / expected[u], u).toBeGreaterThan(0.95);
      expect(first[u][0] / expected[u], u).toBeLessThan(1.05);
    }
  });

  it('exchanges at STS within 5 % of the expected rate, about twice per source mint for frequent keys', () => {
    const mid = params({ instances: 100, keys: 200, downscopedShare: 1, rates: perKey(600) });
    const sim = simulate(mid, { seed: 1, start: 'staggered' }).mean;
    expect(sim.sts / expectedPerMinute(mid).sts).toBeGreaterThan(0.95);
    expect(sim.sts / expectedPerMinute(mid).sts).toBeLessThan(1.05);
    const hot = params({ instances: 10, keys: 200, downscopedShare: 1, rates: perKey(3600) });
    const hotSim = simulate(hot, { seed: 1, start: 'staggered' }).mean;
    expect(hotSim.sts / hotSim.iamCredentials).toBeGreaterThan(1.95);
    expect(hotSim.sts / hotSim.iamCredentials).toBeLessThan(2.05);
  });

  it('reads a one-key SA at every mint, and shares reads between the keys of one SA', () => {
    const one = params({
      instances: 50,
      keys: 200,
      keysPerServiceAccount: 1,
      keylessShare: 0,
      rates: perKey(200),
    });
    const sim = simulate(one, { seed: 2, start: 'staggered' });
    expect(sim.perMinute.secretManagerKeyReads).toEqual(sim.perMinute.tokenEndpoint);
    const five = params({ instances: 20, keys: 200, keylessShare: 0, rates: perKey(20_000) });
    const shared = simulate(five, { seed: 2, start: 'staggered' }).mean;
    expect(shared.secretManagerKeyReads).toBeLessThanOrEqual(
      expectedPerMinute(five).secretManagerKeyReads * 1.05,
    );
    expect(shared.secretManagerKeyReads).toBeGreaterThanOrEqual((shared.tokenEndpoint / 5) * 0.95);
  });

  it('reads the policy within 2 % of the expected rate', () => {
    const p = params({ instances: 100, keys: 100 });
    const sim = simulate(p, { seed: 4, start: 'staggered' }).mean.secretManagerPolicyReads;
    expect(sim / expectedPerMinute(p).secretManagerPolicyReads).toBeGreaterThan(0.98);
    expect(sim / expectedPerMinute(p).secretManagerPolicyReads).toBeLessThan(1.02);
  });

  it('makes a rollout minute busier with more instances', () => {
    const peaks = [10, 100, 1000].map(
      (instances) =>
        simulate(params({ instances, keys: 100 }), { seed: 5, start: 'together' }).peak.iamCredentials,
    );
    expect(peaks[1]).toBeGreaterThan(peaks[0]);
    expect(peaks[2]).toBeGreaterThan(peaks[1]);
  });
});

describe('keys, quotas and report', () => {
  it('spreads keyless SAs evenly and the load-coupled rate over the keys', () => {
    const keys = describeKeys(params({ keys: 100, keysPerServiceAccount: 5, keylessShare: 0.25 }));
    const keylessSas = new Set(keys.filter((k) => k.keyless).map((k) => k.serviceAccount));
    expect(keylessSas.size).toBe(5);
    const rates = keyRates(params({ instances: 10, keys: 100 }));
    expect(sum(rates)).toBeCloseTo(10 * 50, 6);
    expect(rates[0]).toBeGreaterThan(rates[99]);
  });

  it('refuses more keys than the cache holds (eviction is not modelled)', () => {
    expect(() => describeKeys(params({ keys: 10_001 }))).toThrow(RangeError);
  });

  it('checks only quotas with a published limit', () => {
    const iam = GOOGLE_QUOTAS.find((q) => q.id === 'iamCredentials')!;
    const sts = GOOGLE_QUOTAS.find((q) => q.id === 'sts')!;
    expect(exceeds(iam, 60_000)).toBe(false);
    expect(exceeds(iam, 60_001)).toBe(true);
    expect(exceeds(sts, 1e12)).toBe(false);
    expect(firstExceeding(iam, [1, 10, 100], (n) => n * 1000)).toBe(100);
    expect(firstExceeding(iam, [1, 10], (n) => n * 1000)).toBeNull();
  });

  it('reports the fewest instances at which a quota is exceeded', () => {
    const points = runGrid(params({ rates: perKey(1e6) }), [10, 100], [1000], 1);
    const iam = GOOGLE_QUOTAS.find((q) => q.id === 'iamCredentials')!;
    // 100 instances × 1,000 hot keys mint 100,000 tokens in the first minute of a rollout.
    expect(points[1].rolloutPeak.iamCredentials).toBe(100_000);
    expect(thresholdTable(points, iam)).toContain('| rollout busiest minute (simulated) | 100 |');
    expect(compact(1_234_567)).toBe('1.2M');
    expect(compact(12_345)).toBe('12k');
  });
});

describe('the shared cache tier (closed form)', () => {
  const hot = (instances: number, keys: number) =>
    params({ instances, keys, rates: { kind: 'per-key', requestsPerKeyPerHour: 36_000 }, keylessShare: 1 });

  it('mints about K / 55 a minute whatever the number of instances', () => {
    const one = sharedTierSteadyPerMinute(hot(1, 1000)).mints;
    const many = sharedTierSteadyPerMinute(hot(1000, 1000)).mints;
    expect(many).toBeCloseTo(one, 6);
    // Hot keys: one mint per lifetime − refreshAhead (3300 s) per key, plus the wait for the next request.
    expect(many).toBeCloseTo((1000 * 60) / (3300 + 0.1), 3);
    // Without the tier each of the N instances mints each key once per 3300 s + its own wait (1000 / 10 per s = 100 s).
    expect(expectedPerMinute(hot(1000, 1000)).iamCredentials / many).toBeCloseTo((1000 * 3300.1) / 3400, 3);
  });

  it('turns the per-instance mints of today into Redis reads, and mints each key at most once in a cold minute', () => {
    const p = hot(500, 3000);
    expect(sharedTierSteadyPerMinute(p).redisReads).toBeCloseTo(expectedPerMinute(p).iamCredentials, 6);
    const cold = sharedTierRolloutFirstMinute(p);
    expect(cold.mints).toBeLessThanOrEqual(3000);
    expect(cold.mints).toBeGreaterThan(2990);
    expect(cold.redisReads).toBeCloseTo(expectedRolloutFirstMinute(p).iamCredentials, 6);
  });

  it('asks KMS about once per instance per hourly data key, however many keys', () => {
    expect(sharedTierSteadyPerMinute(hot(1000, 10)).kmsDecrypts).toBeCloseTo(1000 / 60, 6);
    expect(sharedTierSteadyPerMinute(hot(1000, 10_000)).kmsDecrypts).toBeCloseTo(1000 / 60, 6);
    expect(sharedTierRolloutFirstMinute(hot(1000, 10_000))).toMatchObject({
      kmsDecrypts: 1000,
      kmsEncrypts: 1,
    });
  });

  it('keeps every grid cell under the IAM Credentials quota, even a cold minute at 1000 instances × 10,000 keys', () => {
    const worst = sharedTierRolloutFirstMinute(
      params({
        instances: 1000,
        keys: 10_000,
        rates: { kind: 'per-instance', requestsPerInstancePerSecond: 50, zipfExponent: 1 },
      }),
    );
    expect(worst.mints).toBeLessThanOrEqual(10_000);
    expect(worst.mints).toBeLessThan(60_000);
  });
});
