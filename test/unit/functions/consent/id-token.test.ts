import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createIdTokenVerifier, IdTokenRejected } from '../../../../functions/consent/id-token.js';

const CLIENT = '123456789012-abc.apps.googleusercontent.com';
const NONCE = 'n-0123456789';
let privateKey: CryptoKey;
let jwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
});

const verifier = () =>
  createIdTokenVerifier({
    jwksUrl: 'https://unused.example/certs',
    clientId: CLIENT,
    keys: async () => {
      const { importJWK } = await import('jose');
      return importJWK(jwk, 'RS256');
    },
  });

const sign = (claims: Record<string, unknown>, aud: string | string[] = CLIENT) =>
  new SignJWT({ email: 'ada@example.com', email_verified: true, nonce: NONCE, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer('https://accounts.google.com')
    .setSubject('110248495921238986420')
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);

describe('the ID token of the code exchange', () => {
  it('is accepted for this client, with or without azp naming it', async () => {
    await expect(verifier()(await sign({}), NONCE)).resolves.toEqual({
      sub: '110248495921238986420',
      email: 'ada@example.com',
    });
    await expect(verifier()(await sign({ azp: CLIENT }), NONCE)).resolves.toMatchObject({
      sub: '110248495921238986420',
    });
    await expect(verifier()(await sign({ azp: CLIENT }, [CLIENT, 'other']), NONCE)).resolves.toMatchObject({
      sub: '110248495921238986420',
    });
  });

  it.each([
    ['another client as azp', { azp: 'other.apps.googleusercontent.com' }, CLIENT, 'INVALID'],
    ['several audiences without azp', {}, [CLIENT, 'other'], 'INVALID'],
    ['several audiences, azp another client', { azp: 'other' }, [CLIENT, 'other'], 'INVALID'],
    ['another audience', {}, 'other', 'INVALID'],
    ['another nonce', { nonce: 'n-other' }, CLIENT, 'NONCE_MISMATCH'],
    ['an unverified email', { email_verified: false }, CLIENT, 'EMAIL_NOT_VERIFIED'],
    ['email_verified as the string "true"', { email_verified: 'true' }, CLIENT, 'EMAIL_NOT_VERIFIED'],
  ])('is refused with %s', async (_name, claims, aud, reason) => {
    const rejection = verifier()(await sign(claims, aud), NONCE);
    await expect(rejection).rejects.toBeInstanceOf(IdTokenRejected);
    await expect(rejection).rejects.toMatchObject({ reason });
  });

  it('refuses alg none and HS256 (algorithm pinned to RS256)', async () => {
    const body = Buffer.from(
      JSON.stringify({
        iss: 'https://accounts.google.com',
        aud: CLIENT,
        sub: '1',
        nonce: NONCE,
        email: 'a@b.c',
        email_verified: true,
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 300,
      }),
    ).toString('base64url');
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`;
    await expect(verifier()(none, NONCE)).rejects.toMatchObject({ reason: 'INVALID' });
    const hs = await new SignJWT({ nonce: NONCE, email: 'a@b.c', email_verified: true })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer('https://accounts.google.com')
      .setSubject('1')
      .setAudience(CLIENT)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-xxxx'));
    await expect(verifier()(hs, NONCE)).rejects.toMatchObject({ reason: 'INVALID' });
  });
});
