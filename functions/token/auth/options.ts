import { isTrustedFetchUrl } from './key-url.js';
import { CALLER_TOKEN_ALGORITHMS, type CallerAuthOptions, type CallerTokenAlgorithm } from './types.js';

/** A configured issuer after validation, with defaults applied. */
export interface ResolvedIssuer {
  issuer: string;
  jwksUri: string | undefined;
  audiences: readonly string[];
  algorithms: readonly CallerTokenAlgorithm[];
}

export interface ResolvedCallerAuthOptions {
  issuers: readonly ResolvedIssuer[];
  clockToleranceSeconds: number;
  maxTokenBytes: number;
  googleAccessTokens: { tokeninfoUrl: string; cacheMaxEntries: number } | undefined;
  fetchTimeoutMs: number;
  maxDocumentBytes: number;
  jwksCacheMaxAgeMs: number;
  jwksRefetchCooldownMs: number;
  now: () => number;
  fetchImpl: typeof fetch | undefined;
}

export const DEFAULT_MAX_TOKEN_BYTES = 16 * 1024;
export const DEFAULT_FETCH_TIMEOUT_MS = 3000;
export const DEFAULT_MAX_DOCUMENT_BYTES = 256 * 1024;
export const DEFAULT_JWKS_CACHE_MAX_AGE_MS = 60 * 60 * 1000;
export const DEFAULT_JWKS_REFETCH_COOLDOWN_MS = 30 * 1000;
export const DEFAULT_ACCESS_TOKEN_CACHE_MAX_ENTRIES = 1000;
export const MAX_CLOCK_TOLERANCE_SECONDS = 60;

/** Validates options once, at creation; misuse throws `TypeError` naming the option. */
export function resolveCallerAuthOptions(options: CallerAuthOptions): ResolvedCallerAuthOptions {
  const { clockToleranceSeconds } = options;
  if (
    !Number.isFinite(clockToleranceSeconds) ||
    clockToleranceSeconds < 0 ||
    clockToleranceSeconds > MAX_CLOCK_TOLERANCE_SECONDS
  ) {
    throw new TypeError(`clockToleranceSeconds must be between 0 and ${MAX_CLOCK_TOLERANCE_SECONDS}`);
  }
  if (!Array.isArray(options.issuers) || options.issuers.length === 0)
    throw new TypeError('issuers must be a non-empty array');
  const seen = new Set<string>();
  const issuers = options.issuers.map((config): ResolvedIssuer => {
    if (typeof config.issuer !== 'string' || !isTrustedFetchUrl(config.issuer)) {
      throw new TypeError(
        `issuers[].issuer must be an https URL (http only for loopback): ${JSON.stringify(config.issuer)}`,
      );
    }
    if (seen.has(config.issuer))
      throw new TypeError(`issuers[].issuer is configured twice: ${config.issuer}`);
    seen.add(config.issuer);
    if (config.jwksUri !== undefined && !isTrustedFetchUrl(config.jwksUri)) {
      throw new TypeError(
        `issuers[].jwksUri of ${config.issuer} must be an https URL (http only for loopback)`,
      );
    }
    if (
      !Array.isArray(config.audiences) ||
      config.audiences.length === 0 ||
      config.audiences.some((a) => typeof a !== 'string' || a === '')
    ) {
      throw new TypeError(
        `issuers[].audiences of ${config.issuer} must be a non-empty array of non-empty strings`,
      );
    }
    const algorithms = config.algorithms ?? ['RS256'];
    if (
      !Array.isArray(algorithms) ||
      algorithms.length === 0 ||
      algorithms.some((a) => !CALLER_TOKEN_ALGORITHMS.includes(a))
    ) {
      throw new TypeError(
        `issuers[].algorithms of ${config.issuer} must be a non-empty subset of ${CALLER_TOKEN_ALGORITHMS.join(', ')}`,
      );
    }
    return {
      issuer: config.issuer,
      jwksUri: config.jwksUri,
      audiences: [...config.audiences],
      algorithms: [...algorithms],
    };
  });

  let googleAccessTokens: ResolvedCallerAuthOptions['googleAccessTokens'];
  if (options.googleAccessTokens !== undefined) {
    const { tokeninfoUrl, cacheMaxEntries = DEFAULT_ACCESS_TOKEN_CACHE_MAX_ENTRIES } =
      options.googleAccessTokens;
    if (typeof tokeninfoUrl !== 'string' || !isTrustedFetchUrl(tokeninfoUrl)) {
      throw new TypeError('googleAccessTokens.tokeninfoUrl must be an https URL (http only for loopback)');
    }
    googleAccessTokens = {
      tokeninfoUrl,
      cacheMaxEntries: positiveInteger('googleAccessTokens.cacheMaxEntries', cacheMaxEntries),
    };
  }

  return {
    issuers,
    clockToleranceSeconds,
    maxTokenBytes: positiveInteger('maxTokenBytes', options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES),
    googleAccessTokens,
    fetchTimeoutMs: positiveInteger('fetchTimeoutMs', options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS),
    maxDocumentBytes: positiveInteger(
      'maxDocumentBytes',
      options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
    ),
    jwksCacheMaxAgeMs: positiveInteger(
      'jwksCacheMaxAgeMs',
      options.jwksCacheMaxAgeMs ?? DEFAULT_JWKS_CACHE_MAX_AGE_MS,
    ),
    jwksRefetchCooldownMs: positiveInteger(
      'jwksRefetchCooldownMs',
      options.jwksRefetchCooldownMs ?? DEFAULT_JWKS_REFETCH_COOLDOWN_MS,
    ),
    now: options.now ?? Date.now,
    fetchImpl: options.fetchImpl,
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`${name} must be a positive integer`);
  return value;
}
