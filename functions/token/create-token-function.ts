/**
 * Wires the token function from configuration: caller authentication, policy, key store, minter,
 * audit log. Used by `index.ts` (Cloud Functions), the local stack and the tests alike.
 */
import type { Writable } from 'node:stream';
import { createAuditLog } from '../../shared/audit-log.js';
import type { TokenServiceConfig } from '../../shared/config.js';
import { GOOGLE_DEFAULTS } from '../../shared/config.js';
import { describe } from '../../shared/google-error.js';
import { createRestSecretAccessor } from '../../shared/gcp/secret-manager-rest.js';
import { applicationDefaultCredential } from '../../shared/minting/own-credential.js';
import { ServiceAccountKeyStore } from '../../shared/minting/key-store.js';
import { createKeylessBackend } from '../../shared/minting/keyless-backend.js';
import { createMinter, type Minter } from '../../shared/minting/minter.js';
import { createDownscoper, type Downscoper } from '../../shared/minting/downscoped-tokens.js';
import { createOpsLog } from '../../shared/ops-log.js';
import { createUserTokenService, type UserTokenService } from './user-grants/user-token-service.js';
import { sharedTierFromConfig } from '../../shared/minting/shared-tier/from-config.js';
import type { SharedTier } from '../../shared/minting/shared-tier/shared-tier.js';
import { policyHealthLog } from './policy/policy-health-log.js';
import { createTokenHandler, type TokenHandler } from './app.js';
import { createCallerAuthenticator } from './auth/authenticate-caller.js';
import { acceptedAudiences } from './policy/accepted-audiences.js';
import { createClientAuthenticator } from './oauth/client-authenticator.js';
import { createFailureThrottle } from './oauth/failure-throttle.js';
import { createCallerLimits } from './limits/caller-limits.js';
import {
  createPolicyProvider,
  filePolicySource,
  secretPolicySource,
  type PolicyProvider,
} from './policy/policy-provider.js';

export interface TokenFunction {
  handler: TokenHandler;
  minter: Minter;
  /** Downscoped tokens (rules with an accessBoundary) and their cache. */
  downscoper: Downscoper;
  keys: ServiceAccountKeyStore;
  policy: PolicyProvider;
  /** The shared cache tier, when TVS_SHARED_CACHE_URL is set. */
  sharedTier?: SharedTier;
  /** Resolves when audit entries written so far reached the transport. */
  flushAudit(): Promise<void>;
  /** The user-token service (built on first use); absent when user tokens are off. */
  userTokens?: () => Promise<UserTokenService>;
}

export interface TokenFunctionOverrides {
  /** Where audit entries go (default: stdout, which Cloud Logging ingests). */
  auditTransport?: Writable;
  /** Where operational log lines go (default: stderr). */
  opsLogWrite?: (line: string) => void;
  /** How often loaded SA keys are re-read from Secret Manager (default 5 min; tests of rotation use less). */
  keyRefreshIntervalMs?: number;
  /** The policy provider's clock (default `Date.now`; tests of the TTL bound move it). */
  policyClock?: () => number;
}

/** Builds the token function. Throws (failing cold start) on a bad policy. */
export async function createTokenFunction(
  config: TokenServiceConfig,
  overrides: TokenFunctionOverrides = {},
): Promise<TokenFunction> {
  const log = createOpsLog('token', overrides.opsLogWrite);
  // The function's own identity (ADC, loaded on first use): Secret Manager reads over REST,
  // keyless mints, the shared tier's KMS calls.
  const ownCredential = applicationDefaultCredential({ projectId: config.projectId });
  const secrets = createRestSecretAccessor({
    endpoint: config.secretManagerEndpoint,
    credential: ownCredential,
  });

  const issuers = [
    {
      issuer: GOOGLE_DEFAULTS.googleIssuer,
      jwksUri: config.googleJwksUrl,
      audiences: config.audiences,
      algorithms: ['RS256' as const],
    },
    ...config.issuers.map((i) => ({ ...i, audiences: i.audiences ?? config.audiences })),
  ];
  // Every audience a caller's token may carry; the service never mints an ID token for one.
  const accepted = acceptedAudiences(issuers.flatMap((i) => i.audiences));

  const policySource = config.policy.file
    ? filePolicySource(config.policy.file)
    : secretPolicySource(secrets, config.policy.secretVersion!);
  const policy = await createPolicyProvider({
    source: policySource,
    acceptedAudiences: accepted,
    ttlMs: config.policy.ttlSeconds * 1000,
    maxStalenessMs: config.policy.maxStalenessSeconds * 1000,
    ...(overrides.policyClock ? { now: overrides.policyClock } : {}),
    ...policyHealthLog(log, policySource.describe(), config.policy.maxStalenessSeconds),
  });

  const auth = createCallerAuthenticator({
    issuers,
    clockToleranceSeconds: config.clockSkewSeconds,
    googleAccessTokens: config.acceptGoogleAccessTokens
      ? { tokeninfoUrl: config.googleTokeninfoUrl }
      : undefined,
  });

  const keys = new ServiceAccountKeyStore({
    secrets,
    tokenUriAllowlist: config.tokenUriAllowlist,
    timeoutMs: Math.min(5_000, config.upstream.deadlineMs),
    ...(overrides.keyRefreshIntervalMs !== undefined
      ? { refreshIntervalMs: overrides.keyRefreshIntervalMs }
      : {}),
    onBackgroundError: (err, secret) =>
      log('WARNING', 'background key refresh failed; keeping the loaded key', {
        secret,
        error: describe(err),
      }),
  });

  const sharedTier = config.sharedCache
    ? sharedTierFromConfig(config.sharedCache, {
        secrets,
        credential: ownCredential,
        cache: config.cache,
        upstreamDeadlineMs: config.upstream.deadlineMs,
        log,
      })
    : undefined;

  const minter = createMinter({
    keys,
    keyless: createKeylessBackend({
      iamCredentialsUrl: config.iamCredentialsUrl,
      credential: ownCredential,
      timeoutMs: Math.min(5_000, config.upstream.deadlineMs),
    }),
    ...(sharedTier ? { sharedTier } : {}),
    cache: config.cache,
    upstream: config.upstream,
    onBackgroundError: (err, cacheKey) =>
      log('WARNING', 'background token refresh failed', {
        cacheKey: cacheKey.split('|').slice(0, 2).join('|'),
        error: describe(err),
      }),
  });

  const downscoper = createDownscoper({
    minter,
    stsUrl: config.stsUrl,
    cache: config.cache,
    upstream: config.upstream,
    onBackgroundError: (err, cacheKey) =>
      log('WARNING', 'background downscoped token refresh failed', {
        cacheKey: cacheKey.split('|').slice(0, 2).join('|'),
        error: describe(err),
      }),
  });

  // User-delegated tokens (issue 19): the service is built on the first user request (no grant
  // store, KMS or Firestore client before then). Its code is imported statically: a lazy import
  // made esbuild split the start path into 12 chunks, ~10 ms slower to load than one (A/B in
  // docs/performance.md).
  const userGrants = config.userGrants;
  let userTokens: Promise<UserTokenService> | undefined;
  let userCache: UserTokenService['cache'] | undefined;
  const loadUserTokens = (): Promise<UserTokenService> =>
    (userTokens ??= Promise.resolve().then(() => {
      const service = createUserTokenService({
        config: userGrants!,
        projectId: config.projectId!,
        secrets,
        credential: ownCredential,
        cache: config.cache,
        upstream: config.upstream,
        log,
        ...(config.rateLimits ? { maxUsers: config.rateLimits.maxCallers } : {}),
      });
      userCache = service.cache;
      return service;
    }));

  const audit = createAuditLog({
    logName: config.auditLogName,
    projectId: config.projectId,
    transport: overrides.auditTransport,
  });
  const handle = createTokenHandler({
    authenticate: (authorization) => auth.authenticate(authorization),
    authenticateCached: (authorization) => auth.authenticateCached(authorization),
    verifySubjectToken: (token) => auth.verifyJwt(token),
    policy,
    acceptedAudiences: accepted,
    clientAuth: createClientAuthenticator({
      throttle: createFailureThrottle(config.oauthClientThrottle),
      sourceThrottle: createFailureThrottle({ ...config.oauthSourceThrottle, whenFull: 'untracked' }),
    }),
    minter,
    downscoper,
    ...(sharedTier ? { sharedTier } : {}),
    audit,
    projectId: config.projectId,
    ...(config.policy.notifier
      ? {
          policyNotifications: {
            notifierServiceAccount: config.policy.notifier,
            policySecretId: config.policy.secretVersion?.split('/')[3],
          },
        }
      : {}),
    // Quotas: state here, outside the compiled policy, so it survives policy reloads.
    limits: config.rateLimits
      ? createCallerLimits({
          maxCallers: config.rateLimits.maxCallers,
          // Served from the cache, or joining a mint already running: neither costs a new mint.
          isCached: (cacheKey) =>
            [minter.cache, downscoper.cache, userCache].some(
              (cache) =>
                cache !== undefined && (cache.peek(cacheKey) !== undefined || cache.pending(cacheKey)),
            ),
        })
      : undefined,
    forwardedForTrustedHops: config.forwardedForTrustedHops,
    ...(userGrants ? { userTokens: loadUserTokens } : {}),
  });
  // Back-pressure: while more audit lines wait than the writer's bound, a request waits for them
  // to reach stdout before it is handled, so entries are never dropped and memory stays bounded.
  const handler: TokenHandler = (req, res) =>
    audit.backlogged ? audit.drained().then(() => handle(req, res)) : handle(req, res);
  return {
    handler,
    minter,
    downscoper,
    keys,
    policy,
    ...(sharedTier ? { sharedTier } : {}),
    flushAudit: () => audit.flush(),
    ...(userGrants ? { userTokens: loadUserTokens } : {}),
  };
}
