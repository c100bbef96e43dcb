/**
 * Mints access and ID tokens for target service accounts behind one cache: concurrent misses for
 * one (SA, scopes | audience) share one upstream exchange and one key read; transient upstream
 * failures are retried with capped backoff and full jitter inside an overall deadline.
 */
import { tokenFingerprint } from '../audit-log.js';
import { InternalError, InvalidArgumentError } from '../errors.js';
import { withRetry } from '../http/retry.js';
import type { ServiceAccountKeyStore } from './key-store.js';
import { signAssertion, type AssertionTarget } from './sign-assertion.js';
import { tagMint, tagUpstream, type MintInfo, type Upstream } from './mint-info.js';
import type { SharedTier } from './shared-tier/shared-tier.js';
import type { TokenCache } from './token-cache.js';
import { tokenCache, upstreamRetry, type CacheOptions, type UpstreamOptions } from './upstream-setup.js';
import { exchangeAssertion, isKeyRefused, type ExchangeResult } from './token-exchange.js';

export interface MintedToken {
  token: string;
  expiresAtMs: number;
  /** `tokenFingerprint(token)`, computed once per mint so cache hits do not hash the token again. */
  fingerprint?: string;
}

export interface MintResult extends MintedToken {
  cacheHit: boolean;
  /** Issue 16: set only on the request that started the mint (a coalesced waiter or a hit has none). */
  mint?: MintInfo;
}

/** A target service account as the policy configures it. */
export type TargetServiceAccount =
  { email: string; backend: 'key'; keySecret: string } | { email: string; backend: 'keyless' };

/** Mints without any key, through the IAM Service Account Credentials API (see keyless-backend.ts). */
export interface KeylessBackend {
  /** IAM honours `lifetimeSeconds` exactly (default 3600). */
  accessToken(
    email: string,
    scopes: readonly string[],
    signal: AbortSignal,
    lifetimeSeconds?: number,
  ): Promise<MintedToken>;
  idToken(email: string, audience: string, includeEmail: boolean, signal: AbortSignal): Promise<MintedToken>;
}

/** Tokens from Google's jwt-bearer grant (the key backend) always live one hour. */
export const KEY_BACKEND_LIFETIME_SECONDS = 3600;

export interface MinterOptions {
  keys: ServiceAccountKeyStore;
  keyless?: KeylessBackend;
  cache: CacheOptions;
  upstream: UpstreamOptions;
  fetchImpl?: typeof fetch;
  now?: () => number;
  onBackgroundError?: (err: unknown, cacheKey: string) => void;
  /**
   * The fleet's shared, encrypted cache tier (docs/shared-cache.md): a local miss is served from
   * it, or minted once per fleet under its lock. Absent: every instance mints for itself.
   */
  sharedTier?: SharedTier;
}

export interface Minter {
  /**
   * An access token living at most `lifetimeSeconds` (default 3600). The key backend can only
   * mint one-hour tokens, so it refuses shorter lifetimes rather than hand out a longer-lived token.
   */
  accessToken(
    sa: TargetServiceAccount,
    scopes: readonly string[],
    lifetimeSeconds?: number,
  ): Promise<MintResult>;
  idToken(sa: TargetServiceAccount, audience: string, includeEmail: boolean): Promise<MintResult>;
  /**
   * What {@link accessToken} answers when it is a cache hit, synchronously (a hit is counted and a
   * refresh-ahead may start, exactly as there); `undefined` when it would mint, wait or refuse.
   */
  cachedAccessToken(
    sa: TargetServiceAccount,
    scopes: readonly string[],
    lifetimeSeconds?: number,
  ): MintResult | undefined;
  /** {@link idToken}'s cache hit, synchronously; `undefined` otherwise. */
  cachedIdToken(sa: TargetServiceAccount, audience: string, includeEmail: boolean): MintResult | undefined;
  readonly cache: TokenCache<MintedToken>;
}

/** Normalises scopes for the cache key: order and duplicates do not make a different token. */
export function scopeKey(scopes: readonly string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

export function createMinter(options: MinterOptions): Minter {
  const now = options.now ?? Date.now;
  const cache = tokenCache(options.cache, now, options.onBackgroundError);
  const { retry, attemptTimeoutMs } = upstreamRetry(options.upstream, now);

  /** One jwt-bearer exchange with the SA's key; on `invalid_grant` re-reads the key once (it may have rotated). */
  const exchangeWithKey = async (
    sa: Extract<TargetServiceAccount, { backend: 'key' }>,
    target: AssertionTarget,
    signal: AbortSignal,
    calling: (upstream: Upstream) => void = () => {},
  ): Promise<ExchangeResult> => {
    calling('secret_manager');
    let key = await options.keys.get(sa.keySecret, sa.email);
    for (let reloaded = false; ; reloaded = true) {
      calling('token_endpoint');
      const assertion = await signAssertion(key, target, Math.floor(now() / 1000));
      try {
        return await exchangeAssertion(key.tokenUri, assertion, {
          signal,
          timeoutMs: attemptTimeoutMs,
          fetchImpl: options.fetchImpl,
          now,
          serviceAccount: sa.email,
        });
      } catch (err) {
        if (reloaded || !isKeyRefused(err)) throw err;
        calling('secret_manager');
        const fresh = await options.keys.reload(sa.keySecret, sa.email, key.keyId);
        if (fresh.keyId === key.keyId) throw err;
        key = fresh;
      }
    }
  };

  // Every backend (key store, token endpoint, IAM Credentials) raises UpstreamUnavailable for its
  // transient failures and our final errors for the rest: one check decides the retry.
  const mint = (run: (signal: AbortSignal) => Promise<MintedToken>): Promise<MintedToken> =>
    withRetry((signal) => run(signal), retry).then(withFingerprint);

  /**
   * The loader of `key`: mints with the SA's backend (the keyless call or a key exchange), and
   * reports the mint (`onMinted`) only to the request that started it.
   */
  const loader =
    (
      sa: TargetServiceAccount,
      target: AssertionTarget,
      keyless: (backend: KeylessBackend, signal: AbortSignal) => Promise<MintedToken>,
      onMinted: (info: MintInfo) => void = () => {},
    ) =>
    (): Promise<MintedToken> => {
      const startedMs = now();
      let attempts = 0;
      let upstream: Upstream = sa.backend === 'keyless' ? 'iam_credentials' : 'secret_manager';
      return mint(async (signal) => {
        attempts++;
        if (sa.backend === 'keyless') return keyless(requireKeyless(options.keyless), signal);
        const { token, expiresAtMs } = await exchangeWithKey(sa, target, signal, (u) => (upstream = u));
        return { token, expiresAtMs };
      }).then(
        (minted) => {
          onMinted({ backend: sa.backend, latencyMs: now() - startedMs, attempts });
          return minted;
        },
        (err: unknown) => {
          tagUpstreamIfTransient(err, upstream);
          if (attempts > 0) tagMint(err, { backend: sa.backend, latencyMs: now() - startedMs, attempts });
          throw err;
        },
      );
    };

  /**
   * With a shared tier, the loader of `key` (a local miss, or a refresh ahead started by a hit)
   * first asks the fleet; `load` runs only if this instance is the one to mint.
   */
  const viaSharedTier = (key: string, load: () => Promise<MintedToken>) => (): Promise<MintedToken> =>
    options.sharedTier ? options.sharedTier.load(key, load) : load();

  /** Serves `key` from the cache, or mints it. */
  const cached = async (
    key: string,
    sa: TargetServiceAccount,
    target: AssertionTarget,
    keyless: (backend: KeylessBackend, signal: AbortSignal) => Promise<MintedToken>,
  ): Promise<MintResult> => {
    // Issue 16: only the loader of the request that starts a flight runs, so only that request
    // gets `mint` (coalesced waiters and hits do not; a background refresh is not this request's).
    let info: MintInfo | undefined;
    const { value, hit } = await cache.get(
      key,
      viaSharedTier(
        key,
        loader(sa, target, keyless, (i) => (info = i)),
      ),
    );
    const result: MintResult = { ...value, cacheHit: hit };
    if (!hit && info !== undefined) result.mint = info;
    return result;
  };

  /**
   * {@link cached} when `key` is a hit, synchronously (a refresh-ahead starts in the background);
   * else undefined. One cache lookup; the loader is built only if a refresh starts.
   */
  const hit = (
    key: string,
    sa: TargetServiceAccount,
    targetOf: () => {
      target: AssertionTarget;
      keyless: (backend: KeylessBackend, signal: AbortSignal) => Promise<MintedToken>;
    },
  ): MintResult | undefined => {
    const value = cache.getCached(key, () => {
      const { target, keyless } = targetOf();
      return viaSharedTier(key, loader(sa, target, keyless))();
    });
    return value === undefined ? undefined : { ...value, cacheHit: true };
  };

  const accessTarget = (sa: TargetServiceAccount, scopeList: string, lifetimeSeconds: number) => {
    const sorted = scopeList.split(' ');
    return {
      target: { scopes: sorted },
      keyless: (backend: KeylessBackend, signal: AbortSignal) =>
        backend.accessToken(sa.email, sorted, signal, lifetimeSeconds),
    };
  };
  const idTarget = (sa: TargetServiceAccount, audience: string, includeEmail: boolean) => ({
    target: { targetAudience: audience },
    keyless: (backend: KeylessBackend, signal: AbortSignal) =>
      backend.idToken(sa.email, audience, includeEmail, signal),
  });

  return {
    cache,
    accessToken(sa, scopes, lifetimeSeconds = KEY_BACKEND_LIFETIME_SECONDS) {
      if (sa.backend === 'key' && lifetimeSeconds < KEY_BACKEND_LIFETIME_SECONDS) {
        return Promise.reject(
          new InvalidArgumentError(
            `Tokens for ${sa.email} are minted from a key and live ${KEY_BACKEND_LIFETIME_SECONDS}s; ask for "${KEY_BACKEND_LIFETIME_SECONDS}s" (or use a keyless service account for shorter lifetimes).`,
            {
              reason: 'LIFETIME_NOT_SUPPORTED_BY_BACKEND',
              metadata: { field: 'lifetime' },
            },
          ),
        );
      }
      const scopeList = scopeKey(scopes);
      const { target, keyless } = accessTarget(sa, scopeList, lifetimeSeconds);
      return cached(accessKey(sa, scopeList, lifetimeSeconds), sa, target, keyless);
    },
    idToken(sa, audience, includeEmail) {
      const { target, keyless } = idTarget(sa, audience, includeEmail);
      return cached(idTokenCacheKey(sa, audience, includeEmail), sa, target, keyless);
    },
    cachedAccessToken(sa, scopes, lifetimeSeconds = KEY_BACKEND_LIFETIME_SECONDS) {
      // What accessToken refuses is never a hit.
      if (sa.backend === 'key' && lifetimeSeconds < KEY_BACKEND_LIFETIME_SECONDS) return undefined;
      const scopeList = scopeKey(scopes);
      return hit(accessKey(sa, scopeList, lifetimeSeconds), sa, () =>
        accessTarget(sa, scopeList, lifetimeSeconds),
      );
    },
    cachedIdToken(sa, audience, includeEmail) {
      return hit(idTokenCacheKey(sa, audience, includeEmail), sa, () => idTarget(sa, audience, includeEmail));
    },
  };
}

// Cache keys say where a token came from: backend and key secret (a policy change never serves
// a token minted the old way) and, for keyless access tokens, the lifetime IAM minted it with.
// Exported so the token function can tell a hit from a miss before minting (its mint quota
// charges misses only), with no second copy of the key format.
// Stryker disable next-line StringLiteral: any constant key-backend suffix keeps the keys as distinct
const NO_LIFETIME_PART = '';
const origin = (sa: TargetServiceAccount): string => {
  if (sa.backend === 'key') return `key:${sa.keySecret}`;
  // Stryker disable next-line StringLiteral: any other constant differs from every "key:…" origin too
  return 'keyless';
};

/** The cache key of {@link Minter.accessToken}`(sa, scopes, lifetimeSeconds)`. */
export function accessTokenCacheKey(
  sa: TargetServiceAccount,
  scopes: readonly string[],
  lifetimeSeconds: number = KEY_BACKEND_LIFETIME_SECONDS,
): string {
  return accessKey(sa, scopeKey(scopes), lifetimeSeconds);
}

function accessKey(sa: TargetServiceAccount, scopeList: string, lifetimeSeconds: number): string {
  // Key-backed tokens always live an hour (asked for less is refused): no lifetime part.
  const lifetime = sa.backend === 'keyless' ? `:${lifetimeSeconds}` : NO_LIFETIME_PART;
  return `at|${sa.email}|${origin(sa)}${lifetime}|${scopeList}`;
}

/** The cache key of {@link Minter.idToken}`(sa, audience, includeEmail)`. */
export function idTokenCacheKey(sa: TargetServiceAccount, audience: string, includeEmail: boolean): string {
  // Stryker disable next-line StringLiteral: the two parts only need to differ, and any one emptied still does
  const email = includeEmail ? 'email' : 'noemail';
  return `id|${sa.email}|${origin(sa)}|${email}|${audience}`;
}

/** The minted token with its fingerprint (what audit entries and the deny list compare). */
export function withFingerprint(minted: MintedToken): MintedToken {
  return {
    token: minted.token,
    expiresAtMs: minted.expiresAtMs,
    fingerprint: tokenFingerprint(minted.token),
  };
}

/** Tags transient (UNAVAILABLE / DEADLINE_EXCEEDED) failures with the upstream being called when they happened. */
function tagUpstreamIfTransient(err: unknown, upstream: Upstream): void {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED') tagUpstream(err, upstream);
}

function requireKeyless(backend: KeylessBackend | undefined): KeylessBackend {
  if (!backend)
    throw new InternalError('Internal error.', {
      reason: 'KEYLESS_BACKEND_NOT_CONFIGURED',
      detail: 'a keyless service account was requested but no keyless backend is wired',
    });
  return backend;
}
