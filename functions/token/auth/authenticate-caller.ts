import { checkTokenSize, parseBearerHeader } from './bearer-header.js';
import { createIssuerKeys } from './issuer-keys.js';
import { resolveCallerAuthOptions } from './options.js';
import { CallerAuthReason, rejectCaller } from './reasons.js';
import type { CallerAuthenticator, CallerAuthOptions } from './types.js';
import { createAccessTokenVerifier } from './verify-access-token.js';
import { VerifiedTokenCache } from './verified-token-cache.js';
import { looksLikeJwt, verifyIdToken, type TrustedIssuer } from './verify-id-token.js';

/** Bound of the verified-ID-token cache (hashes and identities, ~1 KB each). */
export const VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

/**
 * Builds the caller authenticator once, at cold start (invalid options throw `TypeError`). It
 * holds the per-issuer key caches and the access-token cache, so keep one per process.
 */
export function createCallerAuthenticator(options: CallerAuthOptions): CallerAuthenticator {
  const resolved = resolveCallerAuthOptions(options);
  const fetchLimits = {
    fetchTimeoutMs: resolved.fetchTimeoutMs,
    maxDocumentBytes: resolved.maxDocumentBytes,
    fetchImpl: resolved.fetchImpl,
  };
  const issuers = new Map<string, TrustedIssuer>(
    resolved.issuers.map((config) => [
      config.issuer,
      {
        config,
        keys: createIssuerKeys(config, {
          ...fetchLimits,
          jwksCacheMaxAgeMs: resolved.jwksCacheMaxAgeMs,
          jwksRefetchCooldownMs: resolved.jwksRefetchCooldownMs,
          now: resolved.now,
        }),
      },
    ]),
  );
  const idTokenDeps = { issuers, clockToleranceSeconds: resolved.clockToleranceSeconds, now: resolved.now };
  const verified = new VerifiedTokenCache(VERIFIED_TOKEN_CACHE_ENTRIES, resolved.now);
  const accessTokens =
    resolved.googleAccessTokens === undefined
      ? undefined
      : createAccessTokenVerifier({ ...resolved.googleAccessTokens, ...fetchLimits, now: resolved.now });

  return {
    authenticateCached(authorizationHeader) {
      const token = parseBearerHeader(authorizationHeader, resolved.maxTokenBytes);
      // Only tokens that passed full verification are in either cache, and only until they
      // expire: a hit is what `authenticate` would answer (the two caches never share a token: one
      // holds JWTs, the other ya29. access tokens).
      const key = VerifiedTokenCache.keyOf(token);
      return verified.lookup(key) ?? accessTokens?.cached(key);
    },
    async authenticate(authorizationHeader) {
      const token = parseBearerHeader(authorizationHeader, resolved.maxTokenBytes);
      // A token verified before is answered from the cache before anything else is looked at.
      const { key, identity } = verified.get(token);
      if (identity !== undefined) return identity;
      if (looksLikeJwt(token)) {
        const fresh = await verifyIdToken(token, idTokenDeps);
        verified.set(key, fresh);
        return fresh;
      }
      if (accessTokens !== undefined) return accessTokens.verify(token);
      throw rejectCaller(
        CallerAuthReason.NOT_A_JWT,
        'bearer token is not a JWT and access tokens are not accepted',
      );
    },
    async verifyJwt(token) {
      if (typeof token !== 'string' || token === '')
        throw rejectCaller(CallerAuthReason.MISSING, 'no token given');
      checkTokenSize(token, resolved.maxTokenBytes);
      return verifyIdToken(token, idTokenDeps);
    },
  };
}
