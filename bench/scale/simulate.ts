/**
 * The scale model's seeded simulation: N instances, each with its own token cache, key store and
 * policy provider, following the code's rules (`TokenCache`, `ServiceAccountKeyStore`,
 * `createPolicyProvider`, the downscoper) with zero upstream latency.
 *
 * Requests: each key is a Poisson stream routed to a uniformly random instance, which splits it
 * into an independent Poisson stream per instance (exact for random routing). Hits that cannot
 * change anything (more than `refreshAhead` left) are skipped by memorylessness (exact), so the
 * cost is the number of mints, not of requests.
 */
import { createPrng, type Prng } from './prng.js';
import { describeKeys, POLICY_REFRESH_AHEAD_SHARE, type KeySpec, type ScaleParams } from './params.js';
import type { UpstreamRates } from './closed-form.js';

/**
 * `together`: every instance starts empty at 0 and the measured hour is the first (a rollout).
 * `staggered`: instances start at uniform times over the first hour and the third hour is measured
 * (the steady state of a fleet whose instances came up at different times).
 */
export type StartMode = 'together' | 'staggered';

export interface SimulationOptions {
  seed: number;
  start: StartMode;
}

/** Calls in each minute of the measured hour (60 entries per upstream). */
export type PerMinuteSeries = { [K in keyof UpstreamRates]: number[] };

export interface SimulationResult {
  perMinute: PerMinuteSeries;
  /** Mean per minute over the measured hour. */
  mean: UpstreamRates;
  /** The busiest minute of the measured hour. */
  peak: UpstreamRates;
}

const HOUR = 3600;
const UPSTREAMS = [
  'iamCredentials',
  'tokenEndpoint',
  'secretManagerKeyReads',
  'secretManagerPolicyReads',
  'sts',
] as const satisfies ReadonlyArray<keyof UpstreamRates>;

export function simulate(params: ScaleParams, options: SimulationOptions): SimulationResult {
  const keys = describeKeys(params);
  const rng = createPrng(options.seed);
  const n = params.instances;
  const windowStart = options.start === 'together' ? 0 : 2 * HOUR;
  const windowEnd = windowStart + HOUR;
  const series = Object.fromEntries(
    UPSTREAMS.map((u) => [u, new Array<number>(60).fill(0)]),
  ) as PerMinuteSeries;
  const count = (upstream: keyof UpstreamRates, t: number) => {
    if (t >= windowStart && t < windowEnd) series[upstream][Math.floor((t - windowStart) / 60)]++;
  };

  const bySa = groupByServiceAccount(keys);
  const perInstanceRps = keys.reduce((s, k) => s + k.ratePerSecond, 0) / n;
  const starts = Array.from({ length: n }, () => (options.start === 'together' ? 0 : rng.next() * HOUR));
  const r = params.refreshAheadSeconds;
  const m = params.minRemainingSeconds;

  for (const startAt of starts) {
    policyReads(startAt, perInstanceRps, params.policyTtlSeconds, windowEnd, rng, (t) =>
      count('secretManagerPolicyReads', t),
    );
    for (const saKeys of bySa) {
      const keyMints: number[] = [];
      for (const key of saKeys) {
        const mu = key.ratePerSecond / n;
        const onMint = (t: number) => {
          count(key.keyless ? 'iamCredentials' : 'tokenEndpoint', t);
          if (!key.keyless) keyMints.push(t);
        };
        if (key.downscoped)
          downscopedPair(startAt, mu, key.lifetimeSeconds, r, m, windowEnd, rng, onMint, (t) =>
            count('sts', t),
          );
        else plainPair(startAt, mu, key.lifetimeSeconds, r, windowEnd, rng, onMint);
      }
      if (keyMints.length > 0)
        for (const t of keyReads(keyMints, params.keyRefreshIntervalSeconds))
          count('secretManagerKeyReads', t);
    }
  }

  const mean = {} as UpstreamRates;
  const peak = {} as UpstreamRates;
  for (const u of UPSTREAMS) {
    mean[u] = series[u].reduce((a, b) => a + b, 0) / 60;
    peak[u] = Math.max(...series[u]);
  }
  return { perMinute: series, mean, peak };
}

/** Mint times of one (instance, key) pair: the first request, then the first request after each `lifetime − refreshAhead`. */
export function plainPair(
  startAt: number,
  mu: number,
  lifetime: number,
  refreshAhead: number,
  end: number,
  rng: Prng,
  onMint: (t: number) => void,
): void {
  if (!(mu > 0)) return;
  for (let t = startAt + rng.exponential(mu); t < end; t += lifetime - refreshAhead + rng.exponential(mu))
    onMint(t);
}

/**
 * One (instance, downscoped key) pair: the downscoper's cache in front of the minter's. A
 * downscoped mint asks the minter for the source (a hit inside the refresh-ahead window returns the
 * OLD source and refreshes it in the background) and exchanges it at STS; the downscoped token
 * expires with the source it was made from.
 */
export function downscopedPair(
  startAt: number,
  mu: number,
  lifetime: number,
  refreshAhead: number,
  minRemaining: number,
  end: number,
  rng: Prng,
  onSourceMint: (t: number) => void,
  onSts: (t: number) => void,
): void {
  if (!(mu > 0)) return;
  let sourceExpiry = -Infinity;
  let downscopedExpiry = -Infinity;
  const mintDownscoped = (t: number) => {
    let returned: number;
    if (sourceExpiry - t > minRemaining) {
      returned = sourceExpiry;
      if (sourceExpiry - t <= refreshAhead) {
        onSourceMint(t);
        sourceExpiry = t + lifetime;
      }
    } else {
      onSourceMint(t);
      sourceExpiry = returned = t + lifetime;
    }
    onSts(t);
    if (returned - t > minRemaining) downscopedExpiry = returned;
  };
  for (let t = startAt + rng.exponential(mu); t < end;) {
    const left = downscopedExpiry - t;
    // A request with more than refreshAhead left is a plain hit (skipped); any other mints.
    if (left <= refreshAhead) mintDownscoped(t);
    t = Math.max(t, downscopedExpiry - refreshAhead) + rng.exponential(mu);
  }
}

/** Policy reads of one instance: at start-up, then at the first request 3/4 of the TTL after the last. */
export function policyReads(
  startAt: number,
  requestsPerSecond: number,
  ttlSeconds: number,
  end: number,
  rng: Prng,
  onRead: (t: number) => void,
): void {
  onRead(startAt);
  if (!(requestsPerSecond > 0)) return;
  for (
    let t = startAt + POLICY_REFRESH_AHEAD_SHARE * ttlSeconds + rng.exponential(requestsPerSecond);
    t < end;
    t += POLICY_REFRESH_AHEAD_SHARE * ttlSeconds + rng.exponential(requestsPerSecond)
  )
    onRead(t);
}

/**
 * Secret Manager reads of one SA's key on one instance, given the times its tokens were minted: the
 * first mint loads the key; a later mint re-reads it (in the background) when the loaded key is
 * older than `intervalSeconds`.
 */
export function keyReads(mintTimes: number[], intervalSeconds: number): number[] {
  const sorted = [...mintTimes].sort((a, b) => a - b);
  const reads: number[] = [];
  let loadedAt = -Infinity;
  for (const t of sorted) {
    if (reads.length === 0 || t - loadedAt > intervalSeconds) {
      reads.push(t);
      loadedAt = t;
    }
  }
  return reads;
}

function groupByServiceAccount(keys: readonly KeySpec[]): KeySpec[][] {
  const groups: KeySpec[][] = [];
  for (const key of keys) (groups[key.serviceAccount] ??= []).push(key);
  return groups;
}
