/**
 * Closed-form expectations of the scale model (renewal theory), to check the simulation against
 * and to find quota thresholds without simulating.
 *
 * One (instance, key) pair: Cloud Run routes each request to a random instance, so a key requested
 * as a Poisson stream of rate λ reaches each of N instances as an independent Poisson stream of
 * rate μ = λ / N. The instance's `TokenCache` mints at the first request (a miss), serves hits until
 * `lifetime − refreshAhead` has passed, then mints again at the first request after that (a
 * background refresh while more than `minRemaining` is left, a miss after): by memorylessness one
 * cycle lasts `lifetime − refreshAhead + 1/μ` on average, and each cycle is one mint.
 */
import { describeKeys, POLICY_REFRESH_AHEAD_SHARE, type KeySpec, type ScaleParams } from './params.js';

/** Upstream calls per minute, by Google API (and by reason for Secret Manager). */
export interface UpstreamRates {
  /** `generateAccessToken` + `generateIdToken` (keyless SAs, and the sources of their downscoped tokens). */
  iamCredentials: number;
  /** jwt-bearer exchanges at `oauth2.googleapis.com/token` (key-backed SAs). */
  tokenEndpoint: number;
  /** Secret Manager `AccessSecretVersion` of SA keys. */
  secretManagerKeyReads: number;
  /** Secret Manager `AccessSecretVersion` of the policy. */
  secretManagerPolicyReads: number;
  /** STS token exchanges (downscoped tokens). */
  sts: number;
}

/** Mints per second of one (instance, key) pair with per-instance request rate `mu`, in the steady state. */
export function pairMintRate(mu: number, lifetimeSeconds: number, refreshAheadSeconds: number): number {
  if (!(mu > 0)) return 0;
  return 1 / (lifetimeSeconds - refreshAheadSeconds + 1 / mu);
}

/**
 * STS exchanges per second of one downscoped (instance, key) pair. When the source token is
 * refreshed ahead of expiry the minter hands back the old source, so the downscoped token gets the
 * old expiry and is exchanged again at its next request: two exchanges a cycle, unless the first
 * request of the cycle came after `refreshAhead − minRemaining` (the source had expired: one).
 * Exact while requests are frequent against the lifetime; an approximation for rare keys.
 */
export function pairStsRate(
  mu: number,
  lifetimeSeconds: number,
  refreshAheadSeconds: number,
  minRemainingSeconds: number,
): number {
  const perCycle = 2 - Math.exp(-mu * (refreshAheadSeconds - minRemainingSeconds));
  return perCycle * pairMintRate(mu, lifetimeSeconds, refreshAheadSeconds);
}

/**
 * Key reads per second of one (instance, key-backed SA) pair whose keys are minted `keyMintRates`
 * times a second each. A mint re-reads the key when the loaded one is older than `intervalSeconds`;
 * a key's own mints are further apart than that (`lifetime − refreshAhead` > the interval), so only
 * the SA's OTHER keys' reads can cover a mint: each key's mints are read at
 * `ν_j / (1 + (ν − ν_j) · interval)` (a dead-time counter, taking the other keys' mints as Poisson).
 * Exact for one key per SA; with several it assumes independent phases, an upper-end estimate: keys
 * first minted together (a cold instance) stay in phase and share reads (the simulation shows it).
 */
export function saKeyReadRate(keyMintRates: readonly number[], intervalSeconds: number): number {
  const nu = keyMintRates.reduce((a, b) => a + b, 0);
  return keyMintRates.reduce((sum, own) => sum + own / (1 + (nu - own) * intervalSeconds), 0);
}

/** Policy reads per second of one instance receiving `requestsPerSecond`. */
export function instancePolicyReadRate(requestsPerSecond: number, policyTtlSeconds: number): number {
  if (!(requestsPerSecond > 0)) return 0;
  return 1 / (POLICY_REFRESH_AHEAD_SHARE * policyTtlSeconds + 1 / requestsPerSecond);
}

/** Expected steady-state upstream calls per minute for the whole fleet. */
export function expectedPerMinute(params: ScaleParams): UpstreamRates {
  const keys = describeKeys(params);
  const n = params.instances;
  const out: UpstreamRates = {
    iamCredentials: 0,
    tokenEndpoint: 0,
    secretManagerKeyReads: 0,
    secretManagerPolicyReads: 0,
    sts: 0,
  };
  const mintsPerSa = new Map<number, number[]>();
  for (const key of keys) {
    const mu = key.ratePerSecond / n;
    const mints = pairMintRate(mu, key.lifetimeSeconds, params.refreshAheadSeconds);
    if (key.keyless) out.iamCredentials += n * 60 * mints;
    else {
      out.tokenEndpoint += n * 60 * mints;
      let rates = mintsPerSa.get(key.serviceAccount);
      if (rates === undefined) mintsPerSa.set(key.serviceAccount, (rates = []));
      rates.push(mints);
    }
    if (key.downscoped)
      out.sts +=
        n * 60 * pairStsRate(mu, key.lifetimeSeconds, params.refreshAheadSeconds, params.minRemainingSeconds);
  }
  for (const rates of mintsPerSa.values())
    out.secretManagerKeyReads += n * 60 * saKeyReadRate(rates, params.keyRefreshIntervalSeconds);
  const perInstanceRps = totalRate(keys) / n;
  out.secretManagerPolicyReads = n * 60 * instancePolicyReadRate(perInstanceRps, params.policyTtlSeconds);
  return out;
}

/**
 * Expected calls in the first minute after all `instances` start together with empty caches (a
 * rollout of a new revision, or a scale-out from zero): each pair mints on its first request, each
 * key-backed SA is read on the first mint of any of its keys. Policy reads are left to the simulation.
 */
export function expectedRolloutFirstMinute(
  params: ScaleParams,
): Omit<UpstreamRates, 'secretManagerPolicyReads'> {
  const keys = describeKeys(params);
  const n = params.instances;
  const firstMinute = (mu: number) => n * (1 - Math.exp(-mu * 60));
  const out = { iamCredentials: 0, tokenEndpoint: 0, secretManagerKeyReads: 0, sts: 0 };
  const ratePerSa = new Map<number, number>();
  for (const key of keys) {
    const mu = key.ratePerSecond / n;
    if (key.keyless) out.iamCredentials += firstMinute(mu);
    else {
      out.tokenEndpoint += firstMinute(mu);
      ratePerSa.set(key.serviceAccount, (ratePerSa.get(key.serviceAccount) ?? 0) + mu);
    }
    if (key.downscoped) out.sts += firstMinute(mu);
  }
  for (const mu of ratePerSa.values()) out.secretManagerKeyReads += firstMinute(mu);
  return out;
}

/**
 * The ceiling of steady-state mints per minute, whatever the request rate: every instance holds
 * every key and refreshes it once per `lifetime − refreshAhead`.
 */
export function saturatedMintsPerMinute(
  instances: number,
  keys: number,
  lifetimeSeconds: number,
  refreshAheadSeconds: number,
): number {
  return (instances * keys * 60) / (lifetimeSeconds - refreshAheadSeconds);
}

function totalRate(keys: readonly KeySpec[]): number {
  return keys.reduce((sum, k) => sum + k.ratePerSecond, 0);
}
