/**
 * The policy's `limits`: at the top level the defaults for every caller, and per rule an override
 * of any of them for the callers that rule admits. Unset fields fall back field by field: rule →
 * top level → {@link DEFAULT_LIMITS}. Parsed strictly (unknown keys refused), every number a
 * positive integer within bounds, so a typo never silently means "unlimited".
 *
 * The numbers are per instance of the token function (see docs/policy.md, "Quotas and rate limits").
 */
import * as z from '../../../shared/zod.js';

const count = (max: number) => z.number().check(z.int(), z.minimum(1), z.maximum(max));

/** Bounds on what a policy may set (the bound on the distinct cap also bounds memory per caller). */
export const LIMIT_BOUNDS = {
  requestsPerMinute: 1_000_000,
  mintsPerMinute: 100_000,
  distinctTokensPerHour: 10_000,
} as const;

const d = (schema: z.ZodMiniNumber, description: string) => z.optional(schema.check(z.describe(description)));

const perRuleSchema = z.strictObject({
  requestsPerMinute: d(
    count(LIMIT_BOUNDS.requestsPerMinute),
    'Requests of ALL callers of the rule together, per minute per instance (default: no aggregate limit).',
  ),
  mintsPerMinute: d(
    count(LIMIT_BOUNDS.mintsPerMinute),
    'Mints (cache misses) of ALL callers of the rule together, per minute per instance (default: no aggregate limit).',
  ),
});

export const limitsSchema = z.strictObject({
  requestsPerMinute: d(
    count(LIMIT_BOUNDS.requestsPerMinute),
    'Token requests per caller per minute per instance, cache hits included (default 1200).',
  ),
  requestBurst: d(
    count(LIMIT_BOUNDS.requestsPerMinute),
    'Requests a caller may make at once before the per-minute rate applies (default: requestsPerMinute).',
  ),
  mintsPerMinute: d(
    count(LIMIT_BOUNDS.mintsPerMinute),
    'New tokens minted (cache misses) per caller per minute per instance; a cache hit costs none (default 60).',
  ),
  mintBurst: d(
    count(LIMIT_BOUNDS.mintsPerMinute),
    'Mints a caller may cause at once (default: mintsPerMinute).',
  ),
  distinctTokensPerHour: d(
    count(LIMIT_BOUNDS.distinctTokensPerHour),
    'Different tokens (service account, scopes or audience, lifetime) minted for one caller per hour per instance (default 100).',
  ),
  perRule: z.optional(perRuleSchema.check(z.describe('Limits over all callers of a rule together.'))),
});

export type LimitsDocument = z.infer<typeof limitsSchema>;

/** Limits with every field resolved (aggregates undefined = none). */
export interface ResolvedLimits {
  requestsPerMinute: number;
  requestBurst: number;
  mintsPerMinute: number;
  mintBurst: number;
  distinctTokensPerHour: number;
  perRule: { requestsPerMinute?: number; mintsPerMinute?: number };
}

/**
 * Defaults that never bother a normal CI job or backend (per caller, per instance):
 * - 1,200 requests a minute with a burst of 1,200: a 256-job CI matrix sharing one subject that
 *   asks for a few tokens per job fits in the burst; a backend that (wrongly) asks per call still
 *   gets 20 a second sustained. Hits are cheap; this bounds CPU and audit volume per caller.
 * - 60 mints a minute, burst 60: a caller needs a new mint only per distinct token per hour or so
 *   (the cache serves the rest, shared with every caller), so 60 is far above need, while one
 *   caller cannot spend more than 3,600 of the project's IAM mints an hour per instance.
 * - 100 distinct tokens an hour: a job or backend uses a handful of (SA, scopes/audience)
 *   combinations; 100 covers a backend calling dozens of Cloud Run services by ID token.
 * - No per-rule aggregate unless the policy sets one.
 */
export const DEFAULT_LIMITS: ResolvedLimits = Object.freeze({
  requestsPerMinute: 1200,
  requestBurst: 1200,
  mintsPerMinute: 60,
  mintBurst: 60,
  distinctTokensPerHour: 100,
  perRule: Object.freeze({}),
});

/** Merges a rule's override over the policy's defaults over {@link DEFAULT_LIMITS}. */
export function resolveLimits(
  defaults: LimitsDocument | undefined,
  override: LimitsDocument | undefined,
): ResolvedLimits {
  const pick = <K extends 'requestsPerMinute' | 'mintsPerMinute' | 'distinctTokensPerHour'>(key: K) =>
    override?.[key] ?? defaults?.[key] ?? DEFAULT_LIMITS[key];
  const requestsPerMinute = pick('requestsPerMinute');
  const mintsPerMinute = pick('mintsPerMinute');
  // A burst follows its own rate unless set at the same level or below: a rule raising the rate
  // without a burst gets a burst of its new rate, not the old default's.
  const requestBurst =
    override?.requestBurst ??
    (override?.requestsPerMinute !== undefined ? undefined : defaults?.requestBurst) ??
    requestsPerMinute;
  const mintBurst =
    override?.mintBurst ??
    (override?.mintsPerMinute !== undefined ? undefined : defaults?.mintBurst) ??
    mintsPerMinute;
  return {
    requestsPerMinute,
    requestBurst,
    mintsPerMinute,
    mintBurst,
    distinctTokensPerHour: pick('distinctTokensPerHour'),
    perRule: {
      requestsPerMinute: override?.perRule?.requestsPerMinute ?? defaults?.perRule?.requestsPerMinute,
      mintsPerMinute: override?.perRule?.mintsPerMinute ?? defaults?.perRule?.mintsPerMinute,
    },
  };
}
