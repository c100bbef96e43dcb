/**
 * Downscoped access tokens behind their own cache: the source SA token comes from the minter (and
 * stays cached there as always); the downscoped token is cached under a key naming the SA, how it
 * is minted, the lifetime, the scopes AND the rendered boundary's fingerprint, so two boundaries
 * never share a token. Concurrent misses for one key share one STS exchange; transient STS failures
 * are retried like every other upstream; failures are never cached.
 */
import { withRetry } from '../http/retry.js';
import { tagMint, tagUpstream, type MintInfo } from './mint-info.js';
import { boundaryFingerprint, downscopeAccessToken, type AccessBoundary } from './downscope.js';
import {
  accessTokenCacheKey,
  type MintedToken,
  type Minter,
  type MintResult,
  type TargetServiceAccount,
  withFingerprint,
} from './minter.js';
import type { TokenCache } from './token-cache.js';
import { tokenCache, upstreamRetry, type CacheOptions, type UpstreamOptions } from './upstream-setup.js';

export interface DownscoperOptions {
  minter: Minter;
  /** Google STS token endpoint (`TVS_STS_URL`). */
  stsUrl: string;
  cache: CacheOptions;
  upstream: UpstreamOptions;
  fetchImpl?: typeof fetch;
  now?: () => number;
  onBackgroundError?: (err: unknown, cacheKey: string) => void;
}

export interface Downscoper {
  /** A token for `sa` with `scopes`, bounded by `boundary`; `cacheHit` says whether it came from this cache. */
  accessToken(
    sa: TargetServiceAccount,
    scopes: readonly string[],
    lifetimeSeconds: number,
    boundary: AccessBoundary,
  ): Promise<MintResult>;
  /** {@link accessToken}'s cache hit, synchronously (a refresh-ahead may start); `undefined` otherwise. */
  cachedAccessToken(
    sa: TargetServiceAccount,
    scopes: readonly string[],
    lifetimeSeconds: number,
    boundary: AccessBoundary,
  ): MintResult | undefined;
  readonly cache: TokenCache<MintedToken>;
}

/**
 * The cache key of a downscoped token: the source token's key (SA, how it is minted, lifetime,
 * scopes) and the boundary's fingerprint, so two boundaries never share a token.
 */
export function downscopedCacheKey(
  sa: TargetServiceAccount,
  scopes: readonly string[],
  lifetimeSeconds: number,
  boundary: AccessBoundary,
): string {
  return `cab|${accessTokenCacheKey(sa, scopes, lifetimeSeconds)}|${boundaryFingerprint(boundary)}`;
}

export function createDownscoper(options: DownscoperOptions): Downscoper {
  const now = options.now ?? Date.now;
  const cache = tokenCache(options.cache, now, options.onBackgroundError);
  const { retry, attemptTimeoutMs } = upstreamRetry(options.upstream, now);

  /** Mints the downscoped token: the source token from the minter, then one STS exchange. */
  const loader =
    (
      sa: TargetServiceAccount,
      scopes: readonly string[],
      lifetimeSeconds: number,
      boundary: AccessBoundary,
      onMinted: (info: MintInfo) => void = () => {},
    ) =>
    async (): Promise<MintedToken> => {
      const startedMs = now();
      // The source token: from the minter's cache or freshly minted (its own retries). In the
      // refresh-ahead window the minter may still hand back the old source (refreshing it in the
      // background); the downscoped token then shares its expiry and is refreshed again on a later
      // read: one extra STS call, never a token that outlives its source.
      const source = await options.minter.accessToken(sa, scopes, lifetimeSeconds);
      let stsAttempts = 0;
      const spent = () => ({
        backend: sa.backend,
        latencyMs: now() - startedMs,
        attempts: (source.mint?.attempts ?? 0) + stsAttempts,
      });
      return withRetry((signal) => {
        stsAttempts++;
        return downscopeAccessToken(options.stsUrl, source.token, source.expiresAtMs, boundary, {
          signal,
          timeoutMs: attemptTimeoutMs,
          fetchImpl: options.fetchImpl,
          now,
        });
      }, retry).then(
        (minted) => {
          onMinted(spent());
          return withFingerprint(minted);
        },
        (err: unknown) => {
          // Issue 16: an STS outage is named on the error entry (`upstream: "sts"`).
          const code = (err as { code?: unknown } | null)?.code;
          if (code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED') tagUpstream(err, 'sts');
          tagMint(err, spent());
          throw err;
        },
      );
    };

  return {
    cache,
    async accessToken(sa, scopes, lifetimeSeconds, boundary) {
      // Issue 16: the request that starts the flight gets `mint`: the source token's mint when this
      // request made it, plus the STS exchange (latency from the start, attempts of both).
      let info: MintInfo | undefined;
      const { value, hit } = await cache.get(
        downscopedCacheKey(sa, scopes, lifetimeSeconds, boundary),
        loader(sa, scopes, lifetimeSeconds, boundary, (i) => (info = i)),
      );
      const result: MintResult = { ...value, cacheHit: hit };
      if (!hit && info !== undefined) result.mint = info;
      return result;
    },
    cachedAccessToken(sa, scopes, lifetimeSeconds, boundary) {
      // One cache lookup; the loader is built only if a refresh-ahead starts.
      const value = cache.getCached(downscopedCacheKey(sa, scopes, lifetimeSeconds, boundary), () =>
        loader(sa, scopes, lifetimeSeconds, boundary)(),
      );
      return value === undefined ? undefined : { ...value, cacheHit: true };
    },
  };
}
