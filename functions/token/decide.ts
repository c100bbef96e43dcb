/**
 * The decision shared by every route: the caller, the policy and the request go in; a minted
 * token or a typed error comes out. The HTTP front ends only translate wire formats.
 */
import { fingerprintOf } from '../../shared/audit-log.js';
import {
  InternalError,
  NotFoundError,
  PermissionDeniedError,
  UnavailableError,
} from '../../shared/errors.js';
import { boundaryFingerprint, type AccessBoundary } from '../../shared/minting/downscope.js';
import { downscopedCacheKey, type Downscoper } from '../../shared/minting/downscoped-tokens.js';
import type { Minter, MintResult, TargetServiceAccount } from '../../shared/minting/minter.js';
import { mintCacheKey, type CallerLimits } from './limits/caller-limits.js';
import type { SharedTier } from '../../shared/minting/shared-tier/shared-tier.js';
import { DEFAULT_LIMITS } from './limits/limits-schema.js';
import type { AcceptedAudiences } from './policy/accepted-audiences.js';
import type { CompiledPolicy, DenialReason, PolicyCaller, PolicyRequest } from './policy/compile-policy.js';
import { describeDenial } from './policy/compile-policy.js';
import type { DenyReason } from './policy/deny-list.js';
import type { PolicyProvider } from './policy/policy-provider.js';

export interface Grant {
  minted: MintResult;
  rule: string;
  backend: TargetServiceAccount['backend'];
  /** Set when the token is downscoped: how many boundary rules, and the rendered boundary's fingerprint (no claim values). */
  accessBoundary?: { rules: number; fingerprint: string };
}

const DENIAL_MESSAGES: Record<DenialReason, string> = {
  NO_RULE_FOR_CALLER: 'The caller is not allowed to obtain tokens from this service.',
  SERVICE_ACCOUNT_NOT_ALLOWED: 'The caller is not allowed to obtain tokens for this service account.',
  SCOPE_NOT_ALLOWED: 'The caller is not allowed one or more of the requested scopes.',
  LIFETIME_EXCEEDS_POLICY: 'The requested lifetime exceeds what the policy allows this caller.',
  AUDIENCE_NOT_ALLOWED: 'The caller is not allowed ID tokens for this audience.',
};

const DENY_MESSAGES: Record<DenyReason, string> = {
  CALLER_DENIED: 'The caller is not allowed to obtain tokens from this service.',
  SERVICE_ACCOUNT_DENIED: 'Tokens for this service account are not issued now.',
};

type DecideDeps = {
  policy: PolicyProvider;
  minter: Minter;
  acceptedAudiences: AcceptedAudiences;
  downscoper?: Downscoper;
  /** The minter's shared cache tier (absent: none configured). */
  sharedTier?: SharedTier;
  /** Quotas (limits/caller-limits.ts); absent when TVS_RATE_LIMITS=off. */
  limits?: CallerLimits;
};

type Request = PolicyRequest & { includeEmail?: boolean };

/** What the policy decided for one request, before any token is looked up. */
interface Plan {
  request: Request;
  rule: string;
  sa: TargetServiceAccount;
  /** The rendered boundary when the token is downscoped. */
  boundary?: AccessBoundary;
  /** The downscoper serving `boundary`. */
  downscoper?: Downscoper;
  deny: CompiledPolicy['deny'];
}

/**
 * Denied → PermissionDeniedError; allowed but the SA is not configured → NotFoundError. Then mints.
 * An ID token for an audience this service accepts from callers is refused whatever the policy
 * says: presented back here, it would authenticate its holder as the target service account.
 */
export async function decideAndMint(
  deps: DecideDeps,
  caller: PolicyCaller,
  request: Request,
): Promise<Grant> {
  return decide(deps, caller, request);
}

/**
 * {@link decideAndMint} without a promise when nothing has to wait (the policy needs no re-read and
 * the token is cached): returns the grant, or throws, synchronously; otherwise a promise of it.
 * Every check, quota charge and audit-relevant outcome is the same on both paths: they share `plan`.
 */
export function decide(deps: DecideDeps, caller: PolicyCaller, request: Request): Grant | Promise<Grant> {
  if (request.kind === 'id_token' && deps.acceptedAudiences.includes(request.audience)) {
    throw new PermissionDeniedError(
      'ID tokens are not issued for an audience this service accepts from its callers.',
      { reason: 'AUDIENCE_IS_THIS_SERVICE' },
    );
  }
  const policy = deps.policy.currentIfFresh();
  if (policy === undefined)
    return deps.policy.currentForRequest().then((p) => grant(deps, plan(deps, caller, request, p)));
  return grant(deps, plan(deps, caller, request, policy));
}

function grant(deps: DecideDeps, planned: Plan): Grant | Promise<Grant> {
  return cachedGrant(deps, planned) ?? mintedGrant(deps, planned);
}

/** Judges the request by `policy` and charges its quotas; throws the refusal. Nothing is minted. */
function plan(deps: DecideDeps, caller: PolicyCaller, request: Request, policy: CompiledPolicy): Plan {
  // Break-glass first: a denied caller or service account gets nothing, not even from the cache.
  const denied = policy.deny.check(caller, request.serviceAccount);
  if (denied) {
    throw new PermissionDeniedError(DENY_MESSAGES[denied.reason], {
      reason: denied.reason,
      detail: `policy ${denied.entry}`,
    });
  }
  const decision = policy.authorize(caller, request);
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
  // A bounded rule: rendered with the caller's verified claims before anything is minted (a claim
  // that cannot fill it refuses the request); the grant's token is then the downscoped one.
  const boundary =
    request.kind === 'access_token'
      ? decision.accessBoundary?.render(caller.kind === 'client' ? {} : caller.claims)
      : undefined;
  if (boundary && !deps.downscoper)
    throw new InternalError('Internal error.', {
      reason: 'DOWNSCOPER_NOT_CONFIGURED',
      detail: `rule ${decision.rule} has an accessBoundary but no downscoper is wired`,
    });
  // Quotas, step 2 of 2: a mint, charged only when the token is not cached; a 429 mints nothing.
  if (deps.limits && quotaKey !== undefined) {
    const cacheKey =
      boundary && request.kind === 'access_token'
        ? downscopedCacheKey(sa, request.scopes, request.lifetimeSeconds, boundary)
        : mintCacheKey(sa, request);
    deps.limits.admitMint(quotaKey, decision.rule, limits, cacheKey);
  }
  return boundary
    ? { request, rule: decision.rule, sa, boundary, downscoper: deps.downscoper, deny: policy.deny }
    : { request, rule: decision.rule, sa, deny: policy.deny };
}

/** The grant when the token is cached (and not on the deny list), synchronously; else undefined. */
function cachedGrant(deps: DecideDeps, planned: Plan): Grant | undefined {
  const { request, sa, boundary, downscoper } = planned;
  const minted =
    request.kind === 'id_token'
      ? deps.minter.cachedIdToken(sa, request.audience, request.includeEmail ?? false)
      : downscoper && boundary
        ? downscoper.cachedAccessToken(sa, request.scopes, request.lifetimeSeconds, boundary)
        : deps.minter.cachedAccessToken(sa, request.scopes, request.lifetimeSeconds);
  if (minted === undefined) return undefined;
  // A cached token listed as leaked: mintedGrant drops it and mints a new one.
  if (planned.deny.hasTokenFingerprints && planned.deny.deniesToken(fingerprintOf(minted))) return undefined;
  return toGrant(planned, minted);
}

async function mintedGrant(deps: DecideDeps, planned: Plan): Promise<Grant> {
  const { request, sa, boundary, downscoper, deny } = planned;
  const mint = (): Promise<MintResult> => {
    if (request.kind === 'id_token')
      return deps.minter.idToken(sa, request.audience, request.includeEmail ?? false);
    if (downscoper && boundary)
      return downscoper.accessToken(sa, request.scopes, request.lifetimeSeconds, boundary);
    return deps.minter.accessToken(sa, request.scopes, request.lifetimeSeconds);
  };
  let minted = await mint();
  if (deny.hasTokenFingerprints && deny.deniesToken(fingerprintOf(minted))) {
    // A token listed as leaked is never handed out again: drop it from the cache, mint a new one.
    const leaked = minted.token;
    (downscoper ?? deps.minter).cache.deleteWhere((cached) => cached.token === leaked);
    // The shared tier would hand the same token back to the next mint (downscoped tokens are not in it).
    if (!downscoper) await deps.sharedTier?.discard(mintCacheKey(sa, request), leaked);
    minted = await mint();
    if (deny.deniesToken(fingerprintOf(minted)))
      throw new UnavailableError('No token can be issued for this request now; try again later.', {
        reason: 'ISSUED_TOKEN_DENIED',
        detail: 'a freshly minted token is on the deny list',
      });
  }
  return toGrant(planned, minted);
}

function toGrant(planned: Plan, minted: MintResult): Grant {
  const { rule, sa, boundary } = planned;
  if (boundary) {
    const accessBoundary = {
      rules: boundary.accessBoundaryRules.length,
      fingerprint: boundaryFingerprint(boundary),
    };
    return { minted, rule, backend: sa.backend, accessBoundary };
  }
  return { minted, rule, backend: sa.backend };
}
