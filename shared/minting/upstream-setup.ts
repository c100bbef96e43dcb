/**
 * What the minter and the downscoper share: their token cache and how they call an upstream
 * (retry with capped backoff and full jitter inside an overall deadline, and a per-attempt timeout).
 */
import { retryUpstreamUnavailable, type RetryOptions } from '../http/retry.js';
import type { MintedToken } from './minter.js';
import { TokenCache } from './token-cache.js';

export interface CacheOptions {
  maxEntries: number;
  refreshAheadMs: number;
  minRemainingMs: number;
}

export interface UpstreamOptions {
  deadlineMs: number;
  maxAttempts: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  attemptTimeoutMs?: number;
}

export function tokenCache(
  cache: CacheOptions,
  now: () => number,
  onBackgroundError?: (err: unknown, cacheKey: string) => void,
): TokenCache<MintedToken> {
  return new TokenCache<MintedToken>({ ...cache, now, onBackgroundError });
}

/** Retries what `retryUpstreamUnavailable` calls transient; each attempt gets at most 5 s (or the deadline). */
export function upstreamRetry(
  upstream: UpstreamOptions,
  now: () => number,
): { retry: RetryOptions; attemptTimeoutMs: number } {
  return {
    retry: {
      maxAttempts: upstream.maxAttempts,
      deadlineMs: upstream.deadlineMs,
      baseDelayMs: upstream.baseDelayMs ?? 100,
      maxDelayMs: upstream.maxDelayMs ?? 2_000,
      now,
      classify: retryUpstreamUnavailable,
    },
    // Stryker disable next-line MethodExpression: with Math.max, withRetry's overall deadline (started first) still ends the attempt first
    attemptTimeoutMs: upstream.attemptTimeoutMs ?? Math.min(5_000, upstream.deadlineMs),
  };
}
