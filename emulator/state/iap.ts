/**
 * Identity-Aware Proxy's signing keys and its signed-in user (what the emulated IAP proxy,
 * emulator/iap-proxy.ts, asserts to the app behind it).
 *
 * What Google documents for the signed header `x-goog-iap-jwt-assertion`
 * (cloud.google.com/iap/docs/signed-headers-howto, "Securing your app with signed headers"):
 * header `alg` ES256 and a `kid` naming one of the keys published at
 * `https://www.gstatic.com/iap/verify/public_key-jwk` (JWK) and `…/public_key` (PEM by kid);
 * payload `iss` `https://cloud.google.com/iap`, `aud` the backend's resource
 * (`/projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID`, or `/projects/PROJECT_NUMBER/apps/PROJECT_ID`
 * on App Engine), `sub` the user's stable id (`accounts.google.com:<numeric id>` for Google
 * accounts), `email`, `hd` only for an account of a hosted domain, `iat` in the past and `exp` in
 * the future (30 s skew; a lifetime of at most 10 minutes), and a `google` object with
 * `access_levels` when access levels apply (not emitted here).
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import type { OAuthUser } from './oauth-users.js';

export const IAP_ISSUER = 'https://cloud.google.com/iap';
/** IAP's assertions live 10 minutes (Google: "maximum lifetime of the token is 10 minutes + 2 * skew"). */
export const IAP_ASSERTION_LIFETIME_SECONDS = 600;

interface IapKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
  readonly pem: string;
}

/** Claims of one assertion; `sub` and `email` default to the user's. */
export interface IapAssertionRequest {
  readonly audience: string;
  readonly user: Pick<OAuthUser, 'sub' | 'email'>;
  /** Hosted domain, for a Workspace account. */
  readonly hd?: string;
  readonly nowMs?: number;
}

export class IapState {
  private readonly keys: IapKey[] = [];
  /** The user signed in to IAP (a sub or an email); undefined: nobody. */
  signedIn: string | undefined;

  constructor() {
    this.rotate();
  }

  /** A new current key (P-256); older keys stay published, newest first. */
  rotate(): string {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = randomBytes(3).toString('base64url');
    const jwk = { ...exportJwkSync(publicKey), kid, alg: 'ES256', use: 'sig' };
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.keys.unshift({ kid, privateKey, jwk, pem });
    return kid;
  }

  /** `https://www.gstatic.com/iap/verify/public_key-jwk`. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => ({ ...k.jwk })) };
  }

  /** `https://www.gstatic.com/iap/verify/public_key`: `{kid: PEM}`. */
  pemKeys(): Record<string, string> {
    return Object.fromEntries(this.keys.map((k) => [k.kid, k.pem]));
  }

  /** Signs the assertion IAP puts in `x-goog-iap-jwt-assertion`. */
  sign(request: IapAssertionRequest): Promise<string> {
    const key = this.keys[0];
    const iat = Math.floor((request.nowMs ?? Date.now()) / 1000);
    return new SignJWT({ email: request.user.email, ...(request.hd ? { hd: request.hd } : {}) })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'JWT' })
      .setIssuer(IAP_ISSUER)
      .setAudience(request.audience)
      .setSubject(`accounts.google.com:${request.user.sub}`)
      .setIssuedAt(iat)
      .setExpirationTime(iat + IAP_ASSERTION_LIFETIME_SECONDS)
      .sign(key.privateKey);
  }
}

/** Node's own (synchronous) JWK export of a P-256 public key. */
function exportJwkSync(publicKey: KeyObject): JWK {
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  return { kty, crv, x, y };
}
