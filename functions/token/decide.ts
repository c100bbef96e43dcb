/**
 * The decision shared by every route: the caller, the policy and the request go in; a minted
 * token or a typed error comes out. The HTTP front ends only translate wire formats.
 */
import { NotFoundError, PermissionDeniedError } from '../../shared/errors.js';
import type { Minter, MintResult, TargetServiceAccount } from '../../shared/minting/minter.js';
import { mintCacheKey, type CallerLimits } from './limits/caller-limits.js';
import { DEFAULT_LIMITS } from './limits/limits-schema.js';
import type { AcceptedAudiences } from './policy/accepted-audiences.js';
import type { DenialReason, PolicyCaller, PolicyRequest } from './policy/compile-policy.js';
import { describeDenial } from './policy/compile-policy.js';
import type { PolicyProvider } from './policy/policy-provider.js';

export interface Grant {
  minted: MintResult;
  rule: string;
  backend: TargetServiceAccount['backend'];
}

const DENIAL_MESSAGES: Record<DenialReason, string> = {
  NO_RULE_FOR_CALLER: 'The caller is not allowed to obtain tokens from this service.',
  SERVICE_ACCOUNT_NOT_ALLOWED: 'The caller is not allowed to obtain tokens for this service account.',
  SCOPE_NOT_ALLOWED: 'The caller is not allowed one or more of the requested scopes.',
  LIFETIME_EXCEEDS_POLICY: 'The requested lifetime exceeds what the policy allows this caller.',
  AUDIENCE_NOT_ALLOWED: 'The caller is not allowed ID tokens for this audience.',
};

/**
 * Denied → PermissionDeniedError; allowed but the SA is not configured → NotFoundError. Then mints.
 * An ID token for an audience this service accepts from callers is refused whatever the policy
 * says: presented back here, it would authenticate its holder as the target service account.
 */
export async function decideAndMint(
  deps: {
    policy: PolicyProvider;
    minter: Minter;
    acceptedAudiences: AcceptedAudiences;
    /** Quotas (limits/caller-limits.ts); absent when TVS_RATE_LIMITS=off. */
    limits?: CallerLimits;
  },
  caller: PolicyCaller,
  request: PolicyRequest & { includeEmail?: boolean },
): Promise<Grant> {
  if (request.kind === 'id_token' && deps.acceptedAudiences.includes(request.audience)) {
    throw new PermissionDeniedError(
      'ID tokens are not issued for an audience this service accepts from its callers.',
      { reason: 'AUDIENCE_IS_THIS_SERVICE' },
    );
  }
  const decision = (await deps.policy.currentForRequest()).authorize(caller, request);
  if (!decision.allowed) {
    throw new PermissionDeniedError(DENIAL_MESSAGES[decision.reason], {
      reason: decision.reason,
      detail: describeDenial(decision),
    });
  }
  // Quotas, step 1 of 2: one request of this caller under the rule that matched (429 when over).
  const limits = decision.limits ?? DEFAULT_LIMITS;
  const quotaKey = deps.limits?.admitRequest(caller, decision.rule, limits);
  const entry = decision.serviceAccount;
  if (!entry) {
    // The caller may use this SA by pattern, so telling it the SA is unknown leaks nothing.
    throw new NotFoundError('The service account is not configured in this service.', {
      reason: 'SERVICE_ACCOUNT_NOT_FOUND',
      detail: `rule ${decision.rule}`,
    });
  }
  const sa: TargetServiceAccount =
    entry.backend === 'key'
      ? { email: entry.email, backend: 'key', keySecret: entry.keySecret }
      : { email: entry.email, backend: 'keyless' };
  // Quotas, step 2 of 2: a mint, charged only when the token is not cached; a 429 mints nothing.
  if (deps.limits && quotaKey !== undefined)
    deps.limits.admitMint(quotaKey, decision.rule, limits, mintCacheKey(sa, request));
  const minted =
    request.kind === 'access_token'
      ? await deps.minter.accessToken(sa, request.scopes, request.lifetimeSeconds)
      : await deps.minter.idToken(sa, request.audience, request.includeEmail ?? false);
  return { minted, rule: decision.rule, backend: sa.backend };
}
