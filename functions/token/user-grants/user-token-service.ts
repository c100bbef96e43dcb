/**
 * User-delegated access tokens (issue 19): a user's stored grant (shared/user-grants) turned into
 * short-lived access tokens, cached and coalesced like the service-account path, and the admin
 * revocation of a grant. Created by the token function on the first user route, so its cold start
 * opens no grant store, KMS or Firestore client and its service-account hit path never touches it.
 *
 * Cache (`TokenCache`, as the minter's): key = (OAuth client, user `sub`, sorted scopes); refreshed
 * ahead of expiry by reads; concurrent misses share one refresh at Google. Tokens of a user are
 * dropped when this instance revokes the grant or Google answers `invalid_grant`. A cached token is
 * served without reading the grant for at most `grantRecheckMs` (TVS_USER_GRANT_RECHECK_SECONDS,
 * default 60 s) after the grant was last read live; then the grant is read again, so a tombstone
 * written by another instance or by the consent function stops this instance within that period.
 *
 * Google's `invalid_grant` on refresh tombstones the grant (reason GOOGLE_INVALID_GRANT) before the
 * request is answered, and the answer is the same USER_GRANT_REVOKED every later request gets.
 */
import {
  FailedPreconditionError,
  InternalError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  TvsError,
} from '../../../shared/errors.js';
import { describe } from '../../../shared/google-error.js';
import type { TokenServiceConfig } from '../../../shared/config.js';
import type { SecretAccessor } from '../../../shared/gcp/secret-access.js';
import { retryUpstreamUnavailable, withRetry } from '../../../shared/http/retry.js';
import { SingleFlight } from '../../../shared/http/singleflight.js';
import type { OwnCredential } from '../../../shared/minting/own-credential.js';
import { TokenCache } from '../../../shared/minting/token-cache.js';
import type { OpsLog } from '../../../shared/ops-log.js';
import {
  createFirestoreGrantStore,
  type GrantStore,
  type RevocationReason,
  type StoredGrant,
} from '../../../shared/user-grants/grant-store.js';
import type { UserGrantsConfig } from '../../../shared/user-grants/user-grants-config.js';
import { retryAfterSeconds, TokenBucketTable } from '../limits/token-bucket.js';
import type { ResolvedUserLimits } from '../policy/user-token-rules.js';
import { GrantRejectedByGoogle, refreshUserAccessToken, revokeAtGoogle } from './google-oauth.js';

/** A cached user access token: never logged; `sub` and `email` say whose it is. */
export interface UserAccessToken {
  token: string;
  expiresAtMs: number;
  sub: string;
  email: string;
  /** The `updatedAt` of the grant it was refreshed from: a newer grant (revoked and consented again) retires it. */
  grantUpdatedAtMs: number;
}

/** A grant as read for one request: its record and, while it is live, its refresh token. */
export interface LoadedGrant {
  grant: StoredGrant;
  refreshToken?: string;
}

export interface UserTokenServiceOptions {
  config: UserGrantsConfig;
  projectId: string;
  secrets: SecretAccessor;
  /** The function's own identity: Firestore, KMS. */
  credential: OwnCredential;
  cache: TokenServiceConfig['cache'];
  upstream: TokenServiceConfig['upstream'];
  log: OpsLog;
  /** Users per quota table (LRU beyond). */
  maxUsers?: number;
  /** Tests: another store. */
  grants?: GrantStore;
  now?: () => number;
  fetchImpl?: typeof fetch;
}

export interface UserTokenService {
  readonly clientId: string;
  readonly cache: TokenCache<UserAccessToken>;
  cacheKey(sub: string, scopes: readonly string[]): string;
  /** The grant (one read shared by concurrent requests for the user); undefined when there is none. */
  loadGrant(sub: string): Promise<LoadedGrant | undefined>;
  /**
   * The email stored with the user's grant (live or revoked), for rules that name users by email:
   * a Firestore read that never opens the refresh token (no KMS, no decryption) — what a caller
   * the policy may still refuse can make us do.
   */
  grantEmail(sub: string): Promise<string | undefined>;
  /** Per-user quotas of `rule`: one request, and a refresh unless `cacheKey` is cached or being refreshed. */
  admitUser(sub: string, rule: string, limits: ResolvedUserLimits, cacheKey: string): void;
  /** The cached token, synchronously, or undefined. */
  cached(sub: string, scopes: readonly string[]): UserAccessToken | undefined;
  /** The user's token for `scopes`: cached, or refreshed at Google from the grant (`loaded`, if this request read it). */
  accessToken(
    sub: string,
    scopes: readonly string[],
    loaded?: LoadedGrant,
  ): Promise<{ value: UserAccessToken; hit: boolean }>;
  /** Tombstones the grant, drops its tokens here, and revokes the refresh token at Google. */
  revoke(
    sub: string,
    reason: RevocationReason,
  ): Promise<{ found: false } | { found: true; revokedAtGoogle: boolean; googleError?: string }>;
  /** Drops this instance's cached tokens of `sub`. */
  dropUser(sub: string): number;
}

/** USER_GRANT_REVOKED, as every path answers it. */
export function grantRevokedError(reason: RevocationReason): FailedPreconditionError {
  return new FailedPreconditionError("The user's grant has been revoked; the user must consent again.", {
    reason: 'USER_GRANT_REVOKED',
    metadata: { revokedReason: reason },
  });
}

export function createUserTokenService(options: UserTokenServiceOptions): UserTokenService {
  const { config, log } = options;
  const now = options.now ?? Date.now;
  const grants =
    options.grants ??
    createFirestoreGrantStore({
      firestoreUrl: config.firestoreUrl,
      projectId: options.projectId,
      databaseId: config.databaseId,
      credential: options.credential,
      kms: { url: config.kmsUrl, keyName: config.kmsKey },
      log,
      now,
      ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
    });
  const cache = new TokenCache<UserAccessToken>({
    ...options.cache,
    now,
    onBackgroundError: (err, key) =>
      log('WARNING', 'background user token refresh failed', {
        user: key.split('|')[1],
        error: describe(err),
      }),
  });
  const loads = new SingleFlight<string, LoadedGrant | undefined>();
  const describes = new SingleFlight<string, StoredGrant | undefined>();
  const timeoutMs = Math.min(5_000, options.upstream.deadlineMs);
  const retry = {
    maxAttempts: options.upstream.maxAttempts,
    baseDelayMs: 100,
    maxDelayMs: 2_000,
    deadlineMs: options.upstream.deadlineMs,
    classify: retryUpstreamUnavailable,
  };

  // The OAuth client secret: read once, kept; read again after Google refuses it (rotated).
  let secret: Promise<string> | undefined;
  const clientSecret = (): Promise<string> => {
    secret ??= options.secrets.access(config.clientSecretVersion, { timeoutMs }).then(
      (payload) => payload.data.toString('utf8').trim(),
      (err: unknown) => {
        secret = undefined;
        throw err;
      },
    );
    return secret;
  };

  const maxUsers = options.maxUsers ?? 10_000;
  const userRequests = new TokenBucketTable({ maxEntries: maxUsers, now });
  const userRefreshes = new TokenBucketTable({ maxEntries: maxUsers, now });

  const cacheKey = (sub: string, scopes: readonly string[]) =>
    `${config.clientId}|${sub}|${[...new Set(scopes)].sort().join(' ')}`;

  /** When each user's grant was last read here and found live (bounded like the quota tables). */
  const grantSeenAt = new Map<string, number>();
  const sawLiveGrant = (sub: string) => {
    grantSeenAt.delete(sub);
    grantSeenAt.set(sub, now());
    while (grantSeenAt.size > maxUsers) grantSeenAt.delete(grantSeenAt.keys().next().value!);
  };
  const recheckDue = (sub: string) => {
    const seen = grantSeenAt.get(sub);
    return seen === undefined || now() - seen >= config.grantRecheckMs;
  };

  const loadGrant = (sub: string) =>
    loads.do(sub, async () => {
      const loaded = await grants.load(config.clientId, sub);
      if (loaded && !loaded.grant.revoked) sawLiveGrant(sub);
      else grantSeenAt.delete(sub);
      return loaded;
    });

  /** The grant's record without its token (no KMS call); a live one counts as a recheck. */
  const describeGrant = (sub: string) =>
    describes.do(sub, async () => {
      const grant = await grants.describe(config.clientId, sub);
      if (grant && !grant.revoked) sawLiveGrant(sub);
      else grantSeenAt.delete(sub);
      return grant;
    });

  const dropUser = (sub: string) => {
    grantSeenAt.delete(sub);
    return cache.deleteWhere((t) => t.sub === sub);
  };

  /**
   * Before a cached token is served: the grant read again when the last read is older than the
   * recheck period. A grant gone or tombstoned meanwhile (another instance, the consent function)
   * drops the user's tokens here and refuses as every later request will.
   */
  const recheckGrant = async (sub: string, loaded?: LoadedGrant): Promise<void> => {
    if (loaded !== undefined || !recheckDue(sub)) return;
    const fresh = await describeGrant(sub);
    if (fresh && !fresh.revoked) {
      // Replaced since (revoked and consented again, or scopes added): tokens of the old grant go.
      const updatedAtMs = fresh.updatedAt.getTime();
      cache.deleteWhere((t) => t.sub === sub && t.grantUpdatedAtMs !== updatedAtMs);
      return;
    }
    dropUser(sub);
    if (!fresh)
      throw new NotFoundError('The user has not granted access to this service.', {
        reason: 'USER_GRANT_NOT_FOUND',
      });
    throw grantRevokedError(fresh.revoked!.reason);
  };

  const refresh = async (sub: string, scopes: readonly string[], given?: LoadedGrant) => {
    const loaded = given ?? (await loadGrant(sub));
    if (!loaded)
      throw new NotFoundError('The user has not granted access to this service.', {
        reason: 'USER_GRANT_NOT_FOUND',
      });
    const { grant, refreshToken } = loaded;
    if (grant.revoked) throw grantRevokedError(grant.revoked.reason);
    const missing = scopes.filter((s) => !grant.scopes.includes(s));
    if (missing.length > 0)
      throw new PermissionDeniedError('The user has not consented to one or more of the requested scopes.', {
        reason: 'SCOPE_NOT_CONSENTED',
        detail: `${missing.length} requested scope(s) not consented: ${missing.join(' ').slice(0, 500)}`,
      });
    if (refreshToken === undefined)
      throw new InternalError('Internal error.', {
        reason: 'USER_GRANT_INTEGRITY',
        detail: 'live grant without a token',
      });
    const client = { clientId: config.clientId, clientSecret: await clientSecret() };
    try {
      const minted = await withRetry(
        (signal) =>
          refreshUserAccessToken(config.oauthTokenUrl, client, refreshToken, scopes, {
            timeoutMs,
            signal,
            now,
            ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
          }),
        retry,
      );
      return { ...minted, sub, email: grant.email, grantUpdatedAtMs: grant.updatedAt.getTime() };
    } catch (err) {
      if (err instanceof GrantRejectedByGoogle) {
        // The grant is dead at Google: erase the refresh token for good and say so, now and later.
        await grants.revoke(config.clientId, sub, 'GOOGLE_INVALID_GRANT');
        dropUser(sub);
        log('WARNING', "Google rejected a user's grant; it is tombstoned", {
          event: 'user_grant_invalid_grant',
          user: sub,
          detail: err.detail,
        });
        throw grantRevokedError('GOOGLE_INVALID_GRANT');
      }
      if (err instanceof TvsError && err.reason === 'OAUTH_CLIENT_REJECTED') secret = undefined;
      throw err;
    }
  };

  return {
    clientId: config.clientId,
    cache,
    cacheKey,
    loadGrant,
    dropUser,
    grantEmail: async (sub) => (await describeGrant(sub))?.email,

    admitUser(sub, rule, limits, key) {
      const t = now();
      const userKey = `${rule} ${sub}`;
      const requestWait = userRequests.wait(userKey, limits.requestsPerMinute, limits.requestsPerMinute, t);
      if (requestWait > 0)
        throw userRefused('USER_RATE_LIMITED', requestWait, rule, limits.requestsPerMinute);
      const needsRefresh = cache.peek(key) === undefined && !cache.pending(key);
      if (needsRefresh) {
        const refreshWait = userRefreshes.wait(userKey, limits.mintsPerMinute, limits.mintsPerMinute, t);
        if (refreshWait > 0)
          throw userRefused('USER_MINT_RATE_LIMITED', refreshWait, rule, limits.mintsPerMinute);
        userRefreshes.take(userKey, limits.mintsPerMinute, t);
      }
      userRequests.take(userKey, limits.requestsPerMinute, t);
    },

    cached(sub, scopes) {
      if (recheckDue(sub)) return undefined;
      const key = cacheKey(sub, scopes);
      return cache.getCached(key, () => refresh(sub, scopes));
    },

    async accessToken(sub, scopes, loaded) {
      const key = cacheKey(sub, scopes);
      if (cache.peek(key) !== undefined) await recheckGrant(sub, loaded);
      return cache.get(key, () => refresh(sub, scopes, loaded));
    },

    async revoke(sub, reason) {
      const erased = await grants.revoke(config.clientId, sub, reason);
      dropUser(sub);
      if (erased === undefined) return { found: false };
      if (erased.refreshToken === undefined) return { found: true, revokedAtGoogle: false };
      try {
        const revokedAtGoogle = await withRetry(
          (signal) =>
            revokeAtGoogle(config.oauthRevokeUrl, erased.refreshToken!, {
              timeoutMs,
              signal,
              now,
              ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
            }),
          retry,
        );
        return { found: true, revokedAtGoogle };
      } catch (err) {
        // The grant is tombstoned and its token erased here: nobody can use it through us. Google
        // keeps it until the user removes the app or it expires; the log says so.
        log('ERROR', "revoking a user's refresh token at Google failed; the grant is tombstoned here", {
          event: 'user_grant_google_revoke_failed',
          user: sub,
          error: describe(err),
        });
        return { found: true, revokedAtGoogle: false, googleError: describe(err) };
      }
    },
  };
}

function userRefused(
  reason: 'USER_RATE_LIMITED' | 'USER_MINT_RATE_LIMITED',
  waitMs: number,
  rule: string,
  limit: number,
): ResourceExhaustedError {
  return new ResourceExhaustedError(
    reason === 'USER_RATE_LIMITED'
      ? "Too many requests for this user's tokens; retry after the time in Retry-After."
      : 'Too many new tokens for this user; reuse cached tokens or retry after the time in Retry-After.',
    {
      reason,
      retryAfterSeconds: retryAfterSeconds(waitMs),
      detail: `user token rule ${rule}: limit ${limit} per minute per user per instance`,
    },
  );
}
