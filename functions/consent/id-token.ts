/**
 * The ID token of the code exchange, verified with jose against Google's keys
 * (`TVS_GOOGLE_JWKS_URL`): RS256 pinned, `iss` `accounts.google.com` or `https://accounts.google.com`
 * (Google issues both), `aud` our client id (and `azp` when present or with several audiences),
 * `exp`/`iat`, the `nonce` this flow sent, and
 * `email_verified` true. The caller compares `sub` with the IAP user's.
 */
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';

export class IdTokenRejected extends Error {
  override readonly name = 'IdTokenRejected';
  constructor(readonly reason: 'INVALID' | 'NONCE_MISMATCH' | 'EMAIL_NOT_VERIFIED') {
    super(`ID token rejected: ${reason}`);
  }
}

export interface IdTokenVerifierOptions {
  jwksUrl: string;
  clientId: string;
  keys?: JWTVerifyGetKey;
}

export function createIdTokenVerifier(
  options: IdTokenVerifierOptions,
): (idToken: string, nonce: string) => Promise<{ sub: string; email: string }> {
  const keys =
    options.keys ??
    createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  return async (idToken, nonce) => {
    let payload;
    try {
      ({ payload } = await jwtVerify(idToken, keys, {
        algorithms: ['RS256'],
        issuer: ['https://accounts.google.com', 'accounts.google.com'],
        audience: options.clientId,
        clockTolerance: 60,
        requiredClaims: ['sub', 'iat', 'exp'],
      }));
    } catch {
      throw new IdTokenRejected('INVALID');
    }
    // OIDC Core 3.1.3.7 (4, 5): with several audiences, or an azp at all, azp must be this client.
    if ((Array.isArray(payload.aud) && payload.aud.length > 1) || payload.azp !== undefined)
      if (payload.azp !== options.clientId) throw new IdTokenRejected('INVALID');
    if (payload.nonce !== nonce) throw new IdTokenRejected('NONCE_MISMATCH');
    if (payload.email_verified !== true || typeof payload.email !== 'string')
      throw new IdTokenRejected('EMAIL_NOT_VERIFIED');
    return { sub: String(payload.sub), email: payload.email };
  };
}
