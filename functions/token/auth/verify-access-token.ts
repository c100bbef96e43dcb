import { boundedFetch, FetchError, type BoundedResponse } from '../../../shared/http/bounded-fetch.js';
import { SingleFlight } from '../../../shared/http/singleflight.js';
import { parseJsonObject } from '../../../shared/json.js';
import { freezeClaims } from './freeze-claims.js';
import {
  CallerAuthReason,
  CallerAuthUnavailableReason,
  rejectCaller,
  verificationUnavailable,
} from './reasons.js';
import type { CallerIdentity } from './types.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

const GOOGLE_ISSUER = 'https://accounts.google.com';

export interface AccessTokenVerifierOptions {
  tokeninfoUrl: string;
  cacheMaxEntries: number;
  fetchTimeoutMs: number;
  maxDocumentBytes: number;
  now: () => number;
  fetchImpl: typeof fetch | undefined;
}

export interface AccessTokenVerifier {
  /** Checks an opaque Google access token at tokeninfo (or the cache) and returns its caller. */
  verify(token: string): Promise<CallerIdentity>;
  /** What `verify` answers from its cache for the token with this {@link VerifiedTokenCache.keyOf} key, if anything. */
  cached(key: string): CallerIdentity | undefined;
}

/**
 * Verifies opaque Google access tokens at Google's tokeninfo endpoint. Cache policy: a verified
 * identity is kept until the token's own expiry, keyed by the token's SHA-256 (never the token),
 * in an LRU of `cacheMaxEntries`; concurrent checks of one token share a request. Failures are
 * not cached: a negative entry would lock out a caller after a transient error, and an attacker
 * can vary tokens anyway. The token travels only in the request URL, which is never logged.
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const { now, cacheMaxEntries } = options;
  const cache = new VerifiedTokenCache(cacheMaxEntries, now);
  const flights = new SingleFlight<string, CallerIdentity>();

  return {
    cached: (key) => cache.lookup(key),
    async verify(token) {
      // Google OAuth access tokens start with "ya29."; anything else is refused without spending
      // a tokeninfo call on it (an unauthenticated caller must not make us call Google at will).
      if (!token.startsWith('ya29.'))
        throw rejectCaller(
          CallerAuthReason.ACCESS_TOKEN_INVALID,
          'not a Google OAuth access token (no ya29. prefix)',
        );
      const { key, identity } = cache.get(token);
      if (identity !== undefined) return identity;
      return flights.do(key, async () => {
        const verified = await askTokeninfo(token, options);
        cache.set(key, verified);
        return verified;
      });
    },
  };
}

async function askTokeninfo(token: string, options: AccessTokenVerifierOptions): Promise<CallerIdentity> {
  const url = new URL(options.tokeninfoUrl);
  url.searchParams.set('access_token', token);
  const sentAtMs = options.now();
  let response: BoundedResponse;
  try {
    response = await boundedFetch(url.href, {
      timeoutMs: options.fetchTimeoutMs,
      maxBytes: options.maxDocumentBytes,
      ...(options.fetchImpl === undefined ? {} : { fetchImpl: options.fetchImpl }),
    });
  } catch (error) {
    // No `cause`: a transport error could quote the URL, and the URL carries the token.
    const kind = error instanceof FetchError ? error.kind : 'network';
    throw verificationUnavailable(
      CallerAuthUnavailableReason.TOKENINFO_UNAVAILABLE,
      `tokeninfo request failed: ${kind}`,
    );
  }
  const body = parseJsonObject(response.text);
  if (response.status === 400 && body?.error === 'invalid_token') {
    throw rejectCaller(CallerAuthReason.ACCESS_TOKEN_INVALID, 'tokeninfo: invalid_token');
  }
  if (response.status !== 200 || body === undefined) {
    throw verificationUnavailable(
      CallerAuthUnavailableReason.TOKENINFO_UNAVAILABLE,
      `tokeninfo answered HTTP ${response.status}${body === undefined ? ' without a JSON object' : ''}`,
    );
  }
  return toIdentity(body, sentAtMs, options.now());
}

function toIdentity(info: Record<string, unknown>, sentAtMs: number, nowMs: number): CallerIdentity {
  const subject = nonEmptyString(info.sub) ?? nonEmptyString(info.azp);
  if (subject === undefined)
    throw rejectCaller(CallerAuthReason.CLAIM_MISSING, 'tokeninfo returned neither "sub" nor "azp"');
  const exp = integer(info.exp);
  const expiresIn = integer(info.expires_in);
  // Prefer the absolute expiry; else count from when the request was sent, never from the answer.
  const expiresAtMs =
    exp !== undefined ? exp * 1000 : expiresIn !== undefined ? sentAtMs + expiresIn * 1000 : undefined;
  if (expiresAtMs === undefined)
    throw rejectCaller(CallerAuthReason.CLAIM_MISSING, 'tokeninfo returned neither "exp" nor "expires_in"');
  if (expiresAtMs <= nowMs)
    throw rejectCaller(CallerAuthReason.EXPIRED, 'tokeninfo reports an expired access token');
  const email = nonEmptyString(info.email);
  // tokeninfo sends "true"/"false" as strings.
  const emailVerified =
    email === undefined ? undefined : info.email_verified === 'true' || info.email_verified === true;
  // An access token carries no audience for us. Accept only a service account's own token: one
  // issued to a user through some OAuth app (azp = the app's client) could be replayed here by
  // that app, and a service account's token names the account itself as its OAuth client.
  const azp = nonEmptyString(info.azp);
  const sub = nonEmptyString(info.sub);
  if (sub !== undefined && azp !== undefined && sub !== azp) {
    throw rejectCaller(
      CallerAuthReason.ACCESS_TOKEN_NOT_SERVICE_ACCOUNT,
      'access token was issued to another OAuth client (azp differs from sub)',
    );
  }
  if (email === undefined || emailVerified !== true || !/\.gserviceaccount\.com$/.test(email)) {
    throw rejectCaller(
      CallerAuthReason.ACCESS_TOKEN_NOT_SERVICE_ACCOUNT,
      'access tokens are accepted only from service accounts with a verified email (userinfo.email scope)',
    );
  }
  const audience = nonEmptyString(info.aud);
  const { access_token: _dropped, ...claims } = info;
  return {
    kind: 'google_access_token',
    issuer: GOOGLE_ISSUER,
    subject,
    ...(email !== undefined && emailVerified === true ? { email } : {}),
    ...(emailVerified === undefined ? {} : { emailVerified }),
    ...(audience === undefined ? {} : { audience }),
    expiresAtMs,
    claims: freezeClaims(claims),
  };
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function integer(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}
