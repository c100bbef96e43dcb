import { generateKeyPairSync } from 'node:crypto';
import { OAuth2Client } from 'google-auth-library';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';

const PROJECT = 'tvs-jwks-test';
const SA = `reader@${PROJECT}.iam.gserviceaccount.com`;
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const USERINFO_EMAIL = 'https://www.googleapis.com/auth/userinfo.email';
const INVALID = { error: 'invalid_token', error_description: 'Invalid Value' };

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: { projectId: PROJECT, projectNumber: '555000111222', serviceAccounts: [{ email: SA }] },
  });
});

afterAll(async () => {
  await emulator?.stop();
});

function uniqueId(): string {
  return emulator.state.serviceAccounts.get(SA)!.uniqueId;
}

async function tokeninfo(query: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${emulator.tokeninfoUrl}?${query}`);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('GET /oauth2/v3/certs', () => {
  it('serves the signing keys as a cacheable JWKS', async () => {
    const response = await fetch(emulator.jwksUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toEqual([
      {
        kty: 'RSA',
        alg: 'RS256',
        use: 'sig',
        kid: emulator.state.signingKeys.currentKid,
        n: expect.any(String),
        e: 'AQAB',
      },
    ]);
    expect(emulator.faults.count('oauth.certs')).toBeGreaterThanOrEqual(1);
  });

  it('verifies ID tokens the emulator signs', async () => {
    const idToken = await emulator.state.signingKeys.signIdToken({
      audience: 'https://aud.example',
      subject: { email: SA, uniqueId: uniqueId() },
    });
    const jwks = (await (await fetch(emulator.jwksUrl)).json()) as Parameters<typeof createLocalJWKSet>[0];
    const { payload } = await jwtVerify(idToken, createLocalJWKSet(jwks), {
      algorithms: ['RS256'],
      audience: 'https://aud.example',
      issuer: 'https://accounts.google.com',
    });
    expect(payload.email).toBe(SA);
  });
});

describe('GET /tokeninfo for access tokens', () => {
  it('describes a token with the email scope, including sub, email and email_verified', async () => {
    const token = emulator.state.tokens.issue({
      email: SA,
      scopes: [CLOUD_PLATFORM, USERINFO_EMAIL],
      issuedBy: 'test',
    });
    const { status, json } = await tokeninfo(`access_token=${token.value}`);
    expect(status).toBe(200);
    expect(json).toEqual({
      azp: uniqueId(),
      aud: uniqueId(),
      scope: `${CLOUD_PLATFORM} ${USERINFO_EMAIL}`,
      exp: String(Math.floor(token.expiresAtMs / 1000)),
      expires_in: expect.stringMatching(/^35\d\d$/),
      sub: uniqueId(),
      email: SA,
      email_verified: 'true',
      access_type: 'online',
    });
  });

  it('leaves out the email when the token lacks the email scope', async () => {
    const token = emulator.state.tokens.issue({ email: SA, scopes: [CLOUD_PLATFORM], issuedBy: 'test' });
    const { status, json } = await tokeninfo(`access_token=${token.value}`);
    expect(status).toBe(200);
    expect(json).not.toHaveProperty('email');
    expect(json).not.toHaveProperty('email_verified');
    expect(json).not.toHaveProperty('sub');
    expect(json.scope).toBe(CLOUD_PLATFORM);
  });

  it('answers the stock OAuth2Client.getTokenInfo (POST with a bearer header)', async () => {
    const token = emulator.state.tokens.issue({
      email: SA,
      scopes: [CLOUD_PLATFORM, 'email'],
      issuedBy: 'test',
    });
    const client = new OAuth2Client({ endpoints: { tokenInfoUrl: emulator.tokeninfoUrl } });
    const info = await client.getTokenInfo(token.value);
    expect(info).toMatchObject({ email: SA, scopes: [CLOUD_PLATFORM, 'email'], aud: uniqueId() });
    expect(info.expiry_date).toBeGreaterThan(Date.now());
  });

  it('accepts the token in a POSTed form', async () => {
    const token = emulator.state.tokens.issue({ email: SA, scopes: [CLOUD_PLATFORM], issuedBy: 'test' });
    const response = await fetch(emulator.tokeninfoUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: token.value }).toString(),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { aud: string }).aud).toBe(uniqueId());
  });

  it.each([
    ['an unknown token', (): string => 'ya29.unknown'],
    [
      'an expired token',
      (): string =>
        emulator.state.tokens.issue({
          email: SA,
          scopes: [CLOUD_PLATFORM],
          issuedBy: 'test',
          nowMs: Date.now() - 3600_000,
        }).value,
    ],
  ])('refuses %s with invalid_token', async (_name, value) => {
    expect(await tokeninfo(`access_token=${encodeURIComponent(value())}`)).toEqual({
      status: 400,
      json: INVALID,
    });
  });

  it('asks for a token when none is given', async () => {
    expect(await tokeninfo('')).toEqual({
      status: 400,
      json: {
        error: 'invalid_request',
        error_description: 'Either access_token, id_token, or token_handle required',
      },
    });
  });
});

describe('GET /tokeninfo for ID tokens', () => {
  it('returns the claims as strings with the header fields', async () => {
    const idToken = await emulator.state.signingKeys.signIdToken({
      audience: 'https://svc.example',
      subject: { email: SA, uniqueId: uniqueId() },
    });
    const { status, json } = await tokeninfo(`id_token=${idToken}`);
    expect(status).toBe(200);
    expect(json).toEqual({
      iss: 'https://accounts.google.com',
      aud: 'https://svc.example',
      azp: uniqueId(),
      sub: uniqueId(),
      email: SA,
      email_verified: 'true',
      iat: expect.stringMatching(/^\d+$/),
      exp: expect.stringMatching(/^\d+$/),
      alg: 'RS256',
      kid: emulator.state.signingKeys.currentKid,
      typ: 'JWT',
    });
  });

  it.each([
    [
      'an expired ID token',
      () =>
        emulator.state.signingKeys.signIdToken({
          audience: 'a',
          subject: { email: SA, uniqueId: uniqueId() },
          nowMs: Date.now() - 7200_000,
        }),
    ],
    [
      'an ID token signed by a key that is not Google’s',
      () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({ email: SA })
          .setProtectedHeader({ alg: 'RS256', kid: emulator.state.signingKeys.currentKid })
          .setIssuer('https://accounts.google.com')
          .setAudience('a')
          .setIssuedAt(now)
          .setExpirationTime(now + 3600)
          .sign(privateKey);
      },
    ],
    ['garbage', () => Promise.resolve('a.b.c')],
  ])('refuses %s with invalid_token', async (_name, make) => {
    expect(await tokeninfo(`id_token=${await make()}`)).toEqual({ status: 400, json: INVALID });
  });
});
