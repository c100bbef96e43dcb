/**
 * Downscoped access tokens behind their own cache: the source SA token comes from the minter (and
 * stays cached there as always); the downscoped token is cached under a key naming the SA, how it
 * is minted, the lifetime, the scopes AND the rendered boundary's fingerprint, so two boundaries
 * never share a token. Concurrent misses for one key share one STS exchange; transient STS failures
 * are retried like every other upstream; failures are never cached.
 */
import { retryUpstreamUnavailable, withRetry } from '../http/retry.js';
import { tagUpstream } from './mint-info.js';
import { boundaryFingerprint, downscopeAccessToken, type AccessBoundary } from './downscope.js';
import {
  accessTokenCacheKey,
  type MintedToken,
  type Minter,
  type MintResult,
  type TargetServiceAccount,
} from './minter.js';
import { TokenCache } from './token-cache.js';

export interface DownscoperOptions {
  minter: Minter;
  /** Google STS token endpoint (`TVS_STS_URL`). */
  stsUrl: string;
  cache: { maxEntries: number; refreshAheadMs: number; minRemainingMs: number };
  upstream: { deadlineMs: number; maxAttempts: number; baseDelayMs?: number; maxDelayMs?: number };
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
  const cache = new TokenCache<MintedToken>({
    ...options.cache,
    now,
    onBackgroundError: options.onBackgroundError,
  });
  const retry = {
    maxAttempts: options.upstream.maxAttempts,
    deadlineMs: options.upstream.deadlineMs,
    baseDelayMs: options.upstream.baseDelayMs ?? 100,
    maxDelayMs: options.upstream.maxDelayMs ?? 2_000,
    now,
    classify: retryUpstreamUnavailable,
  };
  const attemptTimeoutMs = Math.min(5_000, options.upstream.deadlineMs);

  return {
    cache,
    async accessToken(sa, scopes, lifetimeSeconds, boundary) {
      const { value, hit } = await cache.get(
        downscopedCacheKey(sa, scopes, lifetimeSeconds, boundary),
        async () => {
          // The source token: from the minter's cache or freshly minted (its own retries). In the
          // refresh-ahead window the minter may still hand back the old source (refreshing it in the
          // background); the downscoped token then shares its expiry and is refreshed again on a later
          // read: one extra STS call, never a token that outlives its source.
          const source = await options.minter.accessToken(sa, scopes, lifetimeSeconds);
          return withRetry(
            (signal) =>
              downscopeAccessToken(options.stsUrl, source.token, source.expiresAtMs, boundary, {
                signal,
                timeoutMs: attemptTimeoutMs,
                fetchImpl: options.fetchImpl,
                now,
              }),
            retry,
          ).catch((err: unknown) => {
            // Issue 16: an STS outage is named on the error entry (`upstream: "sts"`).
            const code = (err as { code?: unknown } | null)?.code;
            if (code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED') tagUpstream(err, 'sts');
            throw err;
          });
        },
      );
      return { ...value, cacheHit: hit };
    },
  };
}
