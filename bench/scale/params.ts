/**
 * What the scale model is asked about: a fleet of token-function instances, the distinct tokens
 * (cache keys) callers ask for, how often, and the cache and reload settings of the code.
 * Defaults are the code's and `docs/configuration.md`'s.
 */

/** How requests are spread over keys. */
export type RateProfile =
  /** Every key gets the same Poisson rate, whatever the number of instances. */
  | { kind: 'per-key'; requestsPerKeyPerHour: number }
  /**
   * Load-coupled: the fleet exists because of its load, so the total rate is
   * `instances × requestsPerInstancePerSecond`, spread over keys by popularity rank
   * (Zipf: key k gets a share ∝ 1 / (k + 1)^zipfExponent; 0 = uniform).
   */
  | { kind: 'per-instance'; requestsPerInstancePerSecond: number; zipfExponent: number };

export interface ScaleParams {
  /** Token-function instances, all serving (Terraform `max_instances` is 1..1000). */
  instances: number;
  /** Distinct cache keys: (service account, backend, scopes | audience, email flag, lifetime). */
  keys: number;
  rates: RateProfile;
  /** Keys per service account (one SA-key secret per key-backed SA). */
  keysPerServiceAccount: number;
  /** Share of service accounts minted keyless (IAM Credentials); the rest use a key from Secret Manager. */
  keylessShare: number;
  /** Share of keys whose rule has an `accessBoundary` (downscoped through STS). */
  downscopedShare: number;
  /** Lifetime of keyless tokens; key-backed tokens always live {@link KEY_BACKEND_LIFETIME_SECONDS}. */
  keylessLifetimeSeconds: number;
  /** `TVS_REFRESH_AHEAD_SECONDS`. */
  refreshAheadSeconds: number;
  /** `TVS_MIN_TOKEN_LIFETIME_SECONDS`. */
  minRemainingSeconds: number;
  /** The key store's re-read interval (`ServiceAccountKeyStore`, 5 min; not an environment variable). */
  keyRefreshIntervalSeconds: number;
  /** `TVS_POLICY_TTL_SECONDS` (policy from Secret Manager). */
  policyTtlSeconds: number;
  /** `TVS_CACHE_MAX_ENTRIES`: the model refuses more keys than this (LRU eviction is not modelled). */
  cacheMaxEntries: number;
}

/** Tokens from Google's jwt-bearer grant live one hour (`KEY_BACKEND_LIFETIME_SECONDS` in minter.ts). */
export const KEY_BACKEND_LIFETIME_SECONDS = 3600;
/** The policy provider re-reads in the background from this share of the TTL on (`REFRESH_AHEAD_SHARE`). */
export const POLICY_REFRESH_AHEAD_SHARE = 0.75;

export const DEFAULT_PARAMS: ScaleParams = {
  instances: 20,
  keys: 100,
  rates: { kind: 'per-instance', requestsPerInstancePerSecond: 50, zipfExponent: 1 },
  keysPerServiceAccount: 5,
  keylessShare: 1,
  downscopedShare: 0,
  keylessLifetimeSeconds: 3600,
  refreshAheadSeconds: 300,
  minRemainingSeconds: 60,
  keyRefreshIntervalSeconds: 300,
  policyTtlSeconds: 60,
  cacheMaxEntries: 10_000,
};

/** One key as the model sees it. */
export interface KeySpec {
  /** Poisson request rate for this key over the whole fleet, per second. */
  ratePerSecond: number;
  serviceAccount: number;
  keyless: boolean;
  downscoped: boolean;
  lifetimeSeconds: number;
}

/** The keys of `params`, most requested first; deterministic (no randomness). */
export function describeKeys(params: ScaleParams): KeySpec[] {
  checkParams(params);
  const rates = keyRates(params);
  return rates.map((ratePerSecond, k) => {
    const serviceAccount = Math.floor(k / params.keysPerServiceAccount);
    const keyless = spreadEvenly(serviceAccount, params.keylessShare);
    return {
      ratePerSecond,
      serviceAccount,
      keyless,
      downscoped: spreadEvenly(k, params.downscopedShare),
      lifetimeSeconds: keyless ? params.keylessLifetimeSeconds : KEY_BACKEND_LIFETIME_SECONDS,
    };
  });
}

/** Per-key request rates (per second), most requested first. */
export function keyRates(params: ScaleParams): number[] {
  const { rates, keys, instances } = params;
  if (rates.kind === 'per-key') return new Array<number>(keys).fill(rates.requestsPerKeyPerHour / 3600);
  const weights = Array.from({ length: keys }, (_, k) => (k + 1) ** -rates.zipfExponent);
  const sum = weights.reduce((a, b) => a + b, 0);
  const total = instances * rates.requestsPerInstancePerSecond;
  return weights.map((w) => (total * w) / sum);
}

/** Whether item `i` is among a `share` spread evenly over the indices (exactly ⌊n·share⌋ of the first n). */
function spreadEvenly(i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}

export function checkParams(p: ScaleParams): void {
  const positiveInt = (name: string, v: number) => {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be an integer ≥ 1 (got ${v})`);
  };
  const share = (name: string, v: number) => {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be within 0..1 (got ${v})`);
  };
  positiveInt('instances', p.instances);
  positiveInt('keys', p.keys);
  positiveInt('keysPerServiceAccount', p.keysPerServiceAccount);
  share('keylessShare', p.keylessShare);
  share('downscopedShare', p.downscopedShare);
  if (p.keys > p.cacheMaxEntries)
    throw new RangeError(
      `keys (${p.keys}) above cacheMaxEntries (${p.cacheMaxEntries}): LRU eviction is not modelled`,
    );
  if (!(p.minRemainingSeconds >= 0 && p.minRemainingSeconds <= p.refreshAheadSeconds))
    throw new RangeError('minRemainingSeconds must be within 0..refreshAheadSeconds');
  for (const lifetime of [p.keylessLifetimeSeconds, KEY_BACKEND_LIFETIME_SECONDS]) {
    if (!(lifetime > p.refreshAheadSeconds))
      throw new RangeError(`token lifetime ${lifetime} s must exceed refreshAheadSeconds`);
  }
  if (!(p.keyRefreshIntervalSeconds > 0 && p.policyTtlSeconds > 0))
    throw new RangeError('keyRefreshIntervalSeconds and policyTtlSeconds must be > 0');
  const r = p.rates;
  const rate = r.kind === 'per-key' ? r.requestsPerKeyPerHour : r.requestsPerInstancePerSecond;
  if (!(rate >= 0 && Number.isFinite(rate))) throw new RangeError('request rate must be a finite number ≥ 0');
  if (r.kind === 'per-instance' && !(r.zipfExponent >= 0)) throw new RangeError('zipfExponent must be ≥ 0');
}
