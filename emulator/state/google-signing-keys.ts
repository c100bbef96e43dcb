import { randomBytes, type KeyObject } from 'node:crypto';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { generateRsaKeyPair } from './rsa-key.js';
import { GOOGLE_CERT_COMMON_NAME, selfSignedCertificatePem } from './x509-self-signed.js';

/** Issuer of Google-signed ID tokens. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

/** Lifetime of Google-signed ID tokens. */
export const ID_TOKEN_LIFETIME_SECONDS = 3600;

/** Validity of the published certificates (Google's run about two weeks; keys rotate well before). */
const CERT_VALIDITY_MS = 14 * 24 * 3600 * 1000;

interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
  /** Self-signed X.509 certificate of the public key (PEM), as `/oauth2/v1/certs` serves it. */
  readonly certificatePem: string;
}

/** Who an ID token is about. */
export interface IdTokenSubject {
  readonly email: string;
  readonly uniqueId: string;
}

export interface IdTokenRequest {
  readonly audience: string;
  readonly subject: IdTokenSubject;
  /** Add `email` and `email_verified` (default true). */
  readonly includeEmail?: boolean;
  readonly nowMs?: number;
}

/**
 * The emulator's stand-in for Google's OAuth signing keys: signs ID tokens and publishes
 * the JWKS. Rotation keeps retired keys in the JWKS so tokens already out stay verifiable.
 */
export class GoogleSigningKeys {
  private readonly keys: SigningKey[] = [];

  private constructor() {}

  /** Creates the key set with one freshly generated key. */
  static async create(): Promise<GoogleSigningKeys> {
    const keys = new GoogleSigningKeys();
    await keys.rotate();
    return keys;
  }

  /** `kid` of the key that signs new tokens. */
  get currentKid(): string {
    return this.current().kid;
  }

  /** Generates a new current key; older keys stay published (newest first). */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateRsaKeyPair();
    const kid = randomBytes(20).toString('hex');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    const now = Date.now();
    const certificatePem = selfSignedCertificatePem({
      privateKey,
      publicKey,
      commonName: GOOGLE_CERT_COMMON_NAME,
      notBefore: new Date(now),
      notAfter: new Date(now + CERT_VALIDITY_MS),
    });
    this.keys.unshift({ kid, privateKey, publicKey, jwk, certificatePem });
    return kid;
  }

  /** The JWKS document, as served at `/oauth2/v3/certs`. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => ({ ...k.jwk })) };
  }

  /** `{kid: PEM certificate}`, as served at `/oauth2/v1/certs` (newest first). */
  pemCertificates(): Record<string, string> {
    return Object.fromEntries(this.keys.map((k) => [k.kid, k.certificatePem]));
  }

  /** Public key for a `kid`, if it is one of ours. */
  publicKey(kid: string): KeyObject | undefined {
    return this.keys.find((k) => k.kid === kid)?.publicKey;
  }

  /** Signs a Google-style ID token for a service account (RS256, header `kid`). */
  async signIdToken(request: IdTokenRequest): Promise<string> {
    const claims: Record<string, unknown> = {
      azp: request.subject.uniqueId,
      ...(request.includeEmail === false ? {} : { email: request.subject.email, email_verified: true }),
    };
    return this.signGoogleIdToken(claims, {
      audience: request.audience,
      subject: request.subject.uniqueId,
      nowMs: request.nowMs,
    });
  }

  /**
   * Signs an ID token with Google's issuer, the given audience and subject, `iat` now and `exp` one
   * hour later, plus `claims` (for a user: `azp`, `email`, `email_verified`, `at_hash`, ...).
   */
  async signGoogleIdToken(
    claims: Record<string, unknown>,
    options: { readonly audience: string; readonly subject: string; readonly nowMs?: number },
  ): Promise<string> {
    const key = this.current();
    const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .setIssuer(GOOGLE_ISSUER)
      .setAudience(options.audience)
      .setSubject(options.subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ID_TOKEN_LIFETIME_SECONDS)
      .sign(key.privateKey);
  }

  private current(): SigningKey {
    return this.keys[0];
  }
}
