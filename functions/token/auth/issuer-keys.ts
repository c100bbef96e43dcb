import { createLocalJWKSet, errors, type CryptoKey, type JWK } from 'jose';
import { freshnessSeconds } from './cache-control.js';
import { discoverJwksUri } from './discover-jwks-uri.js';
import { fetchJsonDocument, type DocumentFetchLimits } from './fetch-json-document.js';
import type { ResolvedIssuer } from './options.js';
import {
  CallerAuthReason,
  CallerAuthUnavailableReason,
  quoteForDetail,
  rejectCaller,
  verificationUnavailable,
} from './reasons.js';

/** How long past its freshness a key set may still be used while its endpoint is failing. */
export const JWKS_STALE_MAX_MS = 24 * 60 * 60 * 1000;

export interface IssuerKeysOptions extends DocumentFetchLimits {
  jwksCacheMaxAgeMs: number;
  jwksRefetchCooldownMs: number;
  now: () => number;
}

/** The only header fields that select a key: `jku`, `x5u`, `jwk` and `x5c` are never consulted. */
export interface KeySelector {
  alg: string;
  kid: string | undefined;
}

/** One issuer's verification keys, fetched only from its configured or discovered JWKS. */
export interface IssuerKeys {
  /** Resolves the public key for a token header, or throws Unauthenticated / Unavailable. */
  getKey(selector: KeySelector): Promise<CryptoKey>;
}

interface KeySnapshot {
  select: ReturnType<typeof createLocalJWKSet>;
  freshUntilMs: number;
  usableUntilMs: number;
}

const NO_MATCH = Symbol('no matching key');

/**
 * A cached JWKS for one issuer. Cache policy: fresh for `Cache-Control: max-age` bounded by
 * `jwksCacheMaxAgeMs` (and at least the cooldown, so `max-age=0` cannot cause a fetch per
 * request); then refetched, with one in-flight fetch shared by all waiters. A failed refetch keeps
 * the old keys for up to {@link JWKS_STALE_MAX_MS} and is retried at most once per cooldown. An
 * unknown `kid` causes at most one refetch per cooldown; after that it is simply unknown.
 */
export function createIssuerKeys(issuer: ResolvedIssuer, options: IssuerKeysOptions): IssuerKeys {
  const { now, jwksCacheMaxAgeMs, jwksRefetchCooldownMs } = options;
  let snapshot: KeySnapshot | undefined;
  let inFlight: Promise<KeySnapshot> | undefined;
  let lastAttemptMs = Number.NEGATIVE_INFINITY;
  /** When a fetch with nothing cached last failed: bounds outbound fetches while the issuer is down. */
  let coldFailure: { atMs: number; error: unknown } | undefined;
  const coldBackoffMs = Math.min(5_000, jwksRefetchCooldownMs);
  let discovered: { uri: string; atMs: number } | undefined;

  async function resolveJwksUri(): Promise<string> {
    if (issuer.jwksUri !== undefined) return issuer.jwksUri;
    if (discovered !== undefined && now() - discovered.atMs < jwksCacheMaxAgeMs) return discovered.uri;
    try {
      const uri = await discoverJwksUri(issuer.issuer, options);
      discovered = { uri, atMs: now() };
      return uri;
    } catch (error) {
      if (discovered !== undefined) return discovered.uri; // discovery down: the last answer still stands
      throw error;
    }
  }

  async function fetchSnapshot(): Promise<KeySnapshot> {
    const uri = await resolveJwksUri();
    const { body, headers } = await fetchJsonDocument(uri, options);
    if (!Array.isArray(body.keys)) throw new Error(`JWKS at ${uri} has no "keys" array`);
    const keys = (body.keys as unknown[]).filter(isPublicSigningJwk);
    if (keys.length === 0) throw new Error(`JWKS at ${uri} has no public signing keys`);
    const maxAgeSeconds = freshnessSeconds(headers);
    const floorMs = Math.min(jwksRefetchCooldownMs, jwksCacheMaxAgeMs);
    const freshForMs = Math.min(
      jwksCacheMaxAgeMs,
      Math.max(floorMs, (maxAgeSeconds ?? Number.POSITIVE_INFINITY) * 1000),
    );
    const fetchedAtMs = now();
    return {
      select: createLocalJWKSet({ keys }),
      freshUntilMs: fetchedAtMs + freshForMs,
      usableUntilMs: fetchedAtMs + freshForMs + JWKS_STALE_MAX_MS,
    };
  }

  function refresh(): Promise<KeySnapshot> {
    if (inFlight === undefined) {
      lastAttemptMs = now();
      inFlight = fetchSnapshot()
        .then((fetched) => (snapshot = fetched))
        .finally(() => {
          inFlight = undefined;
        });
    }
    return inFlight;
  }

  async function currentSnapshot(): Promise<KeySnapshot> {
    const t = now();
    if (snapshot !== undefined && t < snapshot.freshUntilMs) return snapshot;
    const stale = snapshot !== undefined && t < snapshot.usableUntilMs ? snapshot : undefined;
    if (stale !== undefined && inFlight === undefined && t - lastAttemptMs < jwksRefetchCooldownMs)
      return stale;
    // Nothing usable cached and the last attempt failed moments ago: answer unavailable without
    // another fetch, so requests while the issuer is down cannot drive fetches at their own rate.
    if (
      coldFailure !== undefined &&
      t - coldFailure.atMs < coldBackoffMs &&
      // Stryker disable next-line ConditionalExpression: no fetch succeeds within a cold failure's backoff
      stale === undefined &&
      // Stryker disable next-line ConditionalExpression: nor starts (every other start needs usable keys)
      inFlight === undefined
    ) {
      throw unavailable(coldFailure.error);
    }
    try {
      const fresh = await refresh();
      coldFailure = undefined;
      return fresh;
    } catch (error) {
      if (stale !== undefined) return stale;
      coldFailure = { atMs: now(), error };
      throw unavailable(error);
    }
  }

  function unavailable(error: unknown): Error {
    // fetchSnapshot fails only with Errors: fetchJsonDocument and discoverJwksUri wrap whatever they catch.
    const why = (error as Error).message;
    return verificationUnavailable(
      CallerAuthUnavailableReason.ISSUER_KEYS_UNAVAILABLE,
      `issuer ${issuer.issuer}: ${why}`,
      error,
    );
  }

  async function select(from: KeySnapshot, selector: KeySelector): Promise<CryptoKey | typeof NO_MATCH> {
    try {
      // An undefined kid selects like an absent one.
      return await from.select({ alg: selector.alg, kid: selector.kid });
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey) return NO_MATCH;
      const why =
        error instanceof errors.JWKSMultipleMatchingKeys
          ? 'the token has no kid and several keys match'
          : `the matching key is unusable (${String(error)})`;
      throw rejectCaller(CallerAuthReason.KEY_UNKNOWN, `issuer ${issuer.issuer}: ${why}`);
    }
  }

  return {
    async getKey(selector) {
      const found = await select(await currentSnapshot(), selector);
      if (found !== NO_MATCH) return found;
      if (inFlight !== undefined || now() - lastAttemptMs >= jwksRefetchCooldownMs) {
        let refreshed: KeySnapshot;
        try {
          refreshed = await refresh();
        } catch (error) {
          throw unavailable(error);
        }
        const retried = await select(refreshed, selector);
        if (retried !== NO_MATCH) return retried;
      }
      throw rejectCaller(
        CallerAuthReason.KEY_UNKNOWN,
        `issuer ${issuer.issuer}: no key matches kid ${quoteForDetail(selector.kid)} and alg ${quoteForDetail(selector.alg)}`,
      );
    },
  };
}

/** Keys for `use: enc`, symmetric (`oct`) keys and anything carrying private parts are ignored. */
function isPublicSigningJwk(value: unknown): value is JWK {
  // JSON gives no primitive or array a string `kty`: this check alone admits only objects.
  const jwk = value as Record<string, unknown> | null;
  if (typeof jwk?.kty !== 'string' || jwk.kty === 'oct') return false;
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  return !['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((member) => member in jwk);
}
