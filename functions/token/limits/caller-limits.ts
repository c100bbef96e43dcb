/**
 * Quotas per caller and per rule, enforced by `decide.ts` in two steps:
 *
 * 1. `admitRequest`, after the policy allowed the request: the caller's request bucket under the
 *    rule that matched, then the rule's aggregate bucket (if the policy sets one). After, not
 *    before, the decision, so only callers some rule admits take table space: anyone holding a
 *    token from a configured issuer (any GitHub repository, say) cannot fill the tables with
 *    identities the policy never heard of. A denial costs no upstream call, so it needs no quota.
 * 2. `admitMint`, just before minting, only when the token is not in the cache: the caller's mint
 *    bucket, the rule's aggregate mint bucket, and the cap on distinct tokens per caller per hour.
 *    A cache hit costs no mint. A refusal is thrown before the minter is called, so nothing is
 *    minted and no other caller's coalesced mint is touched.
 *
 * A request is checked against every bucket before it takes from any, so a refusal by one bucket
 * never spends another's token. A miss that joins a mint already running for its key costs no
 * mint: the check and the minter call happen in one synchronous step, so of a burst of identical
 * misses exactly the first is charged.
 *
 * The "caller" is the verified principal: issuer and subject (whatever credential kind carried
 * them), or the OAuth client id; buckets are per (rule, caller). State lives here, in the token
 * function, not in the compiled policy: it survives policy reloads; each check reads the limits of
 * the policy in force. Everything is per instance (docs/policy.md, "Quotas and rate limits").
 */
import { createHash } from 'node:crypto';
import { ResourceExhaustedError } from '../../../shared/errors.js';
import {
  accessTokenCacheKey,
  idTokenCacheKey,
  type TargetServiceAccount,
} from '../../../shared/minting/minter.js';
import type { PolicyCaller, PolicyRequest } from '../policy/compile-policy.js';
import { DistinctKeyTracker } from './distinct-keys.js';
import type { ResolvedLimits } from './limits-schema.js';
import { retryAfterSeconds, TokenBucketTable } from './token-bucket.js';

export type QuotaReason =
  | 'CALLER_RATE_LIMITED'
  | 'RULE_RATE_LIMITED'
  | 'CALLER_MINT_RATE_LIMITED'
  | 'RULE_MINT_RATE_LIMITED'
  | 'TOO_MANY_DISTINCT_TOKENS';

const MESSAGES: Record<QuotaReason, string> = {
  CALLER_RATE_LIMITED: 'Too many token requests from this caller; retry after the time in Retry-After.',
  RULE_RATE_LIMITED:
    'Too many token requests from the callers of this policy rule; retry after the time in Retry-After.',
  CALLER_MINT_RATE_LIMITED:
    'Too many new tokens minted for this caller; reuse cached tokens or retry after the time in Retry-After.',
  RULE_MINT_RATE_LIMITED:
    'Too many new tokens minted for the callers of this policy rule; retry after the time in Retry-After.',
  TOO_MANY_DISTINCT_TOKENS:
    'Too many different tokens (service account, scopes, audience, lifetime) requested by this caller this hour; reuse tokens or retry after the time in Retry-After.',
};

const HOUR_MS = 3_600_000;
/** Caller keys longer than this are kept as their SHA-256, so a long subject cannot bloat the tables. */
const MAX_KEY_LENGTH = 256;

export interface CallerLimitsOptions {
  /** Callers (per rule) each table holds; the least recently used is evicted beyond it. */
  maxCallers: number;
  /**
   * Whether a request for this cache key would cost no new mint: served from the token cache, or
   * joining a mint already running for it (so a burst of one caller's identical requests on a
   * cold cache is charged one mint, not one each).
   */
  isCached(cacheKey: string): boolean;
  now?: () => number;
}

export interface CallerLimits {
  /** Charges one request; throws `ResourceExhaustedError` (429) when over. Returns the caller's key for `admitMint`. */
  admitRequest(caller: PolicyCaller, rule: string, limits: ResolvedLimits): string;
  /** Charges one mint unless `cacheKey` is cached; throws `ResourceExhaustedError` (429) when over. */
  admitMint(callerKey: string, rule: string, limits: ResolvedLimits, cacheKey: string): void;
}

/** The key of a caller under a rule: unambiguous (rule names have no space; the issuer is length-prefixed). */
export function callerKey(caller: PolicyCaller, rule: string): string {
  const key =
    caller.kind === 'client'
      ? `${rule} c:${caller.clientId}`
      : `${rule} ${caller.issuer.length}:${caller.issuer}${caller.subject}`;
  return key.length <= MAX_KEY_LENGTH
    ? key
    : `${rule} sha256:${createHash('sha256').update(key).digest('base64')}`;
}

/** The minter's cache key for `request` (the key the mint quota and the distinct cap count). */
export function mintCacheKey(
  sa: TargetServiceAccount,
  request: PolicyRequest & { includeEmail?: boolean },
): string {
  return request.kind === 'access_token'
    ? accessTokenCacheKey(sa, request.scopes, request.lifetimeSeconds)
    : idTokenCacheKey(sa, request.audience, request.includeEmail ?? false);
}

export function createCallerLimits(options: CallerLimitsOptions): CallerLimits {
  const now = options.now ?? Date.now;
  const table = () => new TokenBucketTable({ maxEntries: options.maxCallers, now });
  const requests = table();
  const mints = table();
  // Keyed by rule name: at most the policy's rules (≤ 1000) plus names of rules since removed.
  const ruleRequests = table();
  const ruleMints = table();
  const distinct = new DistinctKeyTracker({ windowMs: HOUR_MS, maxEntries: options.maxCallers, now });

  return {
    admitRequest(caller, rule, limits) {
      const t = now();
      const key = callerKey(caller, rule);
      const waitMs = requests.wait(key, limits.requestsPerMinute, limits.requestBurst, t);
      if (waitMs > 0) throw refused('CALLER_RATE_LIMITED', waitMs, rule, limits.requestsPerMinute);
      const ruleRate = limits.perRule.requestsPerMinute;
      if (ruleRate !== undefined) {
        const ruleWaitMs = ruleRequests.wait(rule, ruleRate, ruleRate, t);
        if (ruleWaitMs > 0) throw refused('RULE_RATE_LIMITED', ruleWaitMs, rule, ruleRate);
        ruleRequests.take(rule, ruleRate, t);
      }
      requests.take(key, limits.requestsPerMinute, t);
      return key;
    },

    admitMint(key, rule, limits, cacheKey) {
      if (options.isCached(cacheKey)) return;
      const t = now();
      const waitMs = mints.wait(key, limits.mintsPerMinute, limits.mintBurst, t);
      if (waitMs > 0) throw refused('CALLER_MINT_RATE_LIMITED', waitMs, rule, limits.mintsPerMinute);
      const ruleRate = limits.perRule.mintsPerMinute;
      if (ruleRate !== undefined) {
        const ruleWaitMs = ruleMints.wait(rule, ruleRate, ruleRate, t);
        if (ruleWaitMs > 0) throw refused('RULE_MINT_RATE_LIMITED', ruleWaitMs, rule, ruleRate);
      }
      const digest = distinct.digest(cacheKey);
      const distinctWaitMs = distinct.wait(key, digest, limits.distinctTokensPerHour, t);
      if (distinctWaitMs > 0)
        throw refused('TOO_MANY_DISTINCT_TOKENS', distinctWaitMs, rule, limits.distinctTokensPerHour, 'hour');
      mints.take(key, limits.mintsPerMinute, t);
      if (ruleRate !== undefined) ruleMints.take(rule, ruleRate, t);
      distinct.record(key, digest, t);
    },
  };
}

function refused(
  reason: QuotaReason,
  waitMs: number,
  rule: string,
  limit: number,
  per: 'minute' | 'hour' = 'minute',
): ResourceExhaustedError {
  return new ResourceExhaustedError(MESSAGES[reason], {
    reason,
    retryAfterSeconds: retryAfterSeconds(waitMs),
    // The rule's name and the limit are for the log: denials never name rules to callers.
    detail: `rule ${rule}: limit ${limit} per ${per} per instance`,
  });
}
