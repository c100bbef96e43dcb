/**
 * Who is at the browser: the user Identity-Aware Proxy authenticated, from its signed header
 * `x-goog-iap-jwt-assertion`, checked as Google says (cloud.google.com/iap/docs/signed-headers-howto,
 * "Securing your app with signed headers"): header `alg` ES256 (pinned: `none`, HS256 and RS256
 * are refused) with a `kid` of IAP's published keys (`TVS_IAP_JWKS_URL`); `iss`
 * `https://cloud.google.com/iap`; `aud` this backend (`TVS_IAP_AUDIENCE`); `exp` in the future and
 * `iat` in the past, 30 s skew either way; a lifetime of at most 10 minutes + 2 × skew.
 * The unsigned `x-goog-authenticated-user-*` headers are never read: anyone who bypasses IAP can
 * set them.
 *
 * Only Google accounts are accepted (`sub` = `accounts.google.com:<numeric id>`): the consent flow
 * binds the IAP user to the Google account that consents, through that numeric id (callback.ts).
 */
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';

export const IAP_ISSUER = 'https://cloud.google.com/iap';
export const IAP_HEADER = 'x-goog-iap-jwt-assertion';
const SKEW_SECONDS = 30;
const MAX_LIFETIME_SECONDS = 600 + 2 * SKEW_SECONDS;
const GOOGLE_SUB = /^accounts\.google\.com:(\d{1,30})$/;

export interface IapUser {
  /** As IAP says it: `accounts.google.com:<id>`. */
  iapSub: string;
  /** The Google account's numeric id: the `sub` of its ID tokens. */
  googleSub: string;
  email: string;
}

export class IapAssertionRejected extends Error {
  override readonly name = 'IapAssertionRejected';
}

export interface IapVerifierOptions {
  jwksUrl: string;
  audience: string;
  /** Tests pass their own key set; default: the remote JWKS, cached by jose. */
  keys?: JWTVerifyGetKey;
  now?: () => number;
}

export function createIapVerifier(
  options: IapVerifierOptions,
): (assertion: string | undefined) => Promise<IapUser> {
  const keys =
    options.keys ??
    createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  return async (assertion) => {
    if (!assertion || assertion.length > 8192) throw new IapAssertionRejected('no IAP assertion');
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, keys, {
        algorithms: ['ES256'],
        issuer: IAP_ISSUER,
        audience: options.audience,
        clockTolerance: SKEW_SECONDS,
        maxTokenAge: MAX_LIFETIME_SECONDS,
        requiredClaims: ['sub', 'email', 'iat', 'exp'],
        ...(options.now ? { currentDate: new Date(options.now()) } : {}),
      }));
    } catch (err) {
      // jose's code names the failed check (e.g. ERR_JWT_EXPIRED); the token itself never goes anywhere.
      const code = (err as { code?: unknown }).code;
      throw new IapAssertionRejected(
        `IAP assertion rejected: ${typeof code === 'string' ? code : 'invalid'}`,
      );
    }
    if (payload.exp! - payload.iat! > MAX_LIFETIME_SECONDS)
      throw new IapAssertionRejected('IAP assertion rejected: lifetime too long');
    const m = GOOGLE_SUB.exec(String(payload.sub));
    if (!m || typeof payload.email !== 'string')
      throw new IapAssertionRejected('IAP assertion rejected: not a Google account');
    return { iapSub: m[0], googleSub: m[1], email: payload.email };
  };
}
