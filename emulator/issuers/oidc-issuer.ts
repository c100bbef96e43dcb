import { randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import { generateRsaKeyPair } from '../state/rsa-key.js';

/** One emulated OIDC issuer: an RS256 key, its discovery document and JWKS, and a signer. */
export interface OidcIssuer {
  /** The `iss` of its tokens, e.g. `http://127.0.0.1:8085/issuers/github-actions`. */
  readonly issuer: string;
  readonly kid: string;
  /** Where its JWKS is served: the real system's path under the issuer. */
  readonly jwksUri: string;
  /** The OpenID Connect Discovery 1.0 document, as served at `${issuer}/.well-known/openid-configuration`. */
  discovery(): Record<string, unknown>;
  jwks(): { keys: JWK[] };
  /**
   * Signs `claims` (RS256, header `kid` and `typ: JWT`), adding `iss`, `jti`, `iat`, `nbf` and
   * `exp = iat + lifetimeSeconds`. `claims` must not carry those five.
   */
  sign(
    claims: Record<string, unknown>,
    options: { lifetimeSeconds: number; nowMs?: number },
  ): Promise<string>;
}

export interface OidcIssuerOptions {
  issuer: string;
  /** Claims listed in the discovery document's `claims_supported`. */
  claimsSupported: readonly string[];
  /** Extra discovery members (e.g. `subject_types_supported`). */
  discoveryExtras?: Record<string, unknown>;
  /** The JWKS path under the issuer, as the real system serves it (e.g. `/.well-known/jwks`). */
  jwksPath: string;
  /** How the real system derives `kid`: a random id (GitHub, GitLab) or the key's SHA-256 thumbprint (Kubernetes). */
  kid?: 'random' | 'thumbprint';
}

/** Creates an issuer with a freshly generated RSA-2048 key. */
export async function createOidcIssuer(options: OidcIssuerOptions): Promise<OidcIssuer> {
  const { privateKey, publicKey } = await generateRsaKeyPair();
  const publicJwk = await exportJWK(publicKey);
  const kid =
    options.kid === 'thumbprint'
      ? await calculateJwkThumbprint(publicJwk, 'sha256')
      : randomBytes(20).toString('hex');
  const jwk: JWK = { ...publicJwk, kid, alg: 'RS256', use: 'sig' };
  const jwksUri = `${options.issuer}${options.jwksPath}`;
  return {
    issuer: options.issuer,
    kid,
    jwksUri,
    discovery: () => ({
      issuer: options.issuer,
      jwks_uri: jwksUri,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public', 'pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: [...options.claimsSupported],
      ...options.discoveryExtras,
    }),
    jwks: () => ({ keys: [{ ...jwk }] }),
    sign: (claims, { lifetimeSeconds, nowMs }) =>
      signWith(privateKey, kid, options.issuer, claims, lifetimeSeconds, nowMs),
  };
}

async function signWith(
  privateKey: KeyObject,
  kid: string,
  issuer: string,
  claims: Record<string, unknown>,
  lifetimeSeconds: number,
  nowMs: number | undefined,
): Promise<string> {
  const iat = Math.floor((nowMs ?? Date.now()) / 1000);
  return new SignJWT({ jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + lifetimeSeconds)
    .sign(privateKey);
}
