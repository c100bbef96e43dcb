/**
 * The scale model with the shared, encrypted cache tier (docs/shared-cache.md), in closed form.
 *
 * With the tier the fleet behaves like ONE cache per key for upstream mints: an entry is served
 * while more than refreshAhead + minRemaining is left, every instance's copy carries the same
 * expiry, so the first instance to refresh after `lifetime − refreshAhead` finds the entry stale,
 * takes the key's lock and mints; the others (polling or arriving later) get its entry. One cycle
 * lasts `lifetime − refreshAhead + 1/λ` for the fleet's request rate λ: mints are
 * `K_hot · 60 / (lifetime − refreshAhead)` a minute whatever N (≈ K/55 for one-hour tokens).
 *
 * What N still multiplies is cheap: each instance's own refresh or miss becomes a Redis read (the
 * per-instance mints of the model without the tier), and each instance unwraps the period's data
 * key once through KMS decrypt (about N per hour, N in the first minute of a rollout).
 */
import { pairMintRate } from './closed-form.js';
import { describeKeys, type ScaleParams } from './params.js';

/** How long one data key seals new entries (`createDataKeys` default: 1 h). */
export const DATA_KEY_PERIOD_SECONDS = 3600;

/** Calls per minute of the fleet with the shared tier. */
export interface SharedTierRates {
  /** Upstream mints (IAM Credentials for keyless SAs, the token endpoint for key-backed ones). */
  mints: number;
  /** Redis GETs of entries: one per local miss or refresh on any instance. */
  redisReads: number;
  /** Redis writes: per mint the lock (SET NX PX), the entry (SET PX) and the lock's release. */
  redisWrites: number;
  /** Cloud KMS decrypts (data key unwraps): one per instance per data key. */
  kmsDecrypts: number;
  /** Cloud KMS encrypts (data key wraps): one per data key period for the fleet. */
  kmsEncrypts: number;
}

/** Steady state: the expected calls per minute. */
export function sharedTierSteadyPerMinute(params: ScaleParams): SharedTierRates {
  const n = params.instances;
  let mints = 0;
  let redisReads = 0;
  for (const key of describeKeys(params)) {
    // The fleet as one cache for mints, each instance as its own cache for reads.
    mints += 60 * pairMintRate(key.ratePerSecond, key.lifetimeSeconds, params.refreshAheadSeconds);
    redisReads +=
      n * 60 * pairMintRate(key.ratePerSecond / n, key.lifetimeSeconds, params.refreshAheadSeconds);
  }
  return {
    mints,
    redisReads,
    redisWrites: 3 * mints,
    kmsDecrypts: (n * 60) / DATA_KEY_PERIOD_SECONDS,
    kmsEncrypts: 60 / DATA_KEY_PERIOD_SECONDS,
  };
}

/**
 * The first minute after N instances start with empty local caches AND an empty Redis (a
 * scale-out from zero after the entries expired; a rollout of a new revision usually finds the old
 * revision's entries and mints even less): each key requested in that minute is minted once for
 * the fleet, each instance reads each key it sees, and each instance unwraps the data key once.
 */
export function sharedTierRolloutFirstMinute(params: ScaleParams): SharedTierRates {
  const n = params.instances;
  let mints = 0;
  let redisReads = 0;
  for (const key of describeKeys(params)) {
    mints += 1 - Math.exp(-key.ratePerSecond * 60);
    redisReads += n * (1 - Math.exp(-(key.ratePerSecond / n) * 60));
  }
  return { mints, redisReads, redisWrites: 3 * mints, kmsDecrypts: n, kmsEncrypts: 1 };
}
