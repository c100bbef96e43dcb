/** Signs the jwt-bearer assertion for a service account with jose (RS256, `kid` = private_key_id). */
import { importPKCS8, SignJWT } from 'jose';
import type { ServiceAccountKey } from './sa-key.js';

/** A key ready to sign with: the PEM is parsed once, not per assertion. */
export interface SigningKey {
  email: string;
  keyId: string;
  tokenUri: string;
  privateKey: Awaited<ReturnType<typeof importPKCS8>>;
}

/** What the assertion asks for: access-token scopes, or an ID-token audience. */
export type AssertionTarget = { scopes: readonly string[] } | { targetAudience: string };

/** Assertions live for the maximum Google accepts; they are used once, immediately. */
export const ASSERTION_LIFETIME_SECONDS = 3600;

/** Imports a key file's private key (PKCS#8 PEM) once, for repeated signing. */
export async function toSigningKey(key: ServiceAccountKey): Promise<SigningKey> {
  const privateKey = await importPKCS8(key.private_key, 'RS256');
  return { email: key.client_email, keyId: key.private_key_id, tokenUri: key.token_uri, privateKey };
}

/** Builds and signs the assertion. `nowSeconds` is injectable for tests. */
export async function signAssertion(
  key: SigningKey,
  target: AssertionTarget,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<string> {
  const claims =
    'scopes' in target ? { scope: target.scopes.join(' ') } : { target_audience: target.targetAudience };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.keyId })
    .setIssuer(key.email)
    .setAudience(key.tokenUri)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + ASSERTION_LIFETIME_SECONDS)
    .sign(key.privateKey);
}
