import { createPrivateKey, type KeyObject } from 'node:crypto';
import { JWT } from 'google-auth-library';
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type CreatedKey, type Emulator } from '../../../emulator/index.js';

const PROJECT = 'tvs-oauth-test';
const CALLER = `caller@${PROJECT}.iam.gserviceaccount.com`;
const ROTATED = `rotated@${PROJECT}.iam.gserviceaccount.com`;
const DISABLED_SA = `switched-off@${PROJECT}.iam.gserviceaccount.com`;
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const USERINFO_EMAIL = 'https://www.googleapis.com/auth/userinfo.email';

const BAD_SIGNATURE = { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' };
const BAD_TIMES = {
  error: 'invalid_grant',
  error_description:
    'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
};
const BAD_AUDIENCE = {
  error: 'invalid_grant',
  error_description:
    'Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token',
};
const ACCOUNT_NOT_FOUND = { error: 'invalid_grant', error_description: 'Invalid grant: account not found' };
const NO_SCOPE = { error: 'invalid_scope', error_description: 'Empty or missing scope not allowed.' };

let emulator: Emulator;
let callerKey: CreatedKey;
let disabledKey: CreatedKey;
let deletedKey: CreatedKey;
let disabledSaKey: CreatedKey;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: PROJECT,
      projectNumber: '210987654321',
      serviceAccounts: [{ email: CALLER }, { email: ROTATED }, { email: DISABLED_SA }],
    },
  });
  const sa = emulator.state.serviceAccounts;
  [callerKey, disabledKey, deletedKey, disabledSaKey] = await Promise.all([
    sa.createKey(CALLER),
    sa.createKey(ROTATED),
    sa.createKey(ROTATED),
    sa.createKey(DISABLED_SA),
  ]);
  sa.disableKey(ROTATED, disabledKey.keyId);
  sa.deleteKey(ROTATED, deletedKey.keyId);
  sa.disable(DISABLED_SA);
});

afterAll(async () => {
  await emulator?.stop();
});

function privateKeyOf(key: CreatedKey): KeyObject {
  return createPrivateKey(key.keyFile.private_key);
}

/** Signs an assertion like google-auth-library does, with overrides. */
async function assertion(options: {
  key?: KeyObject;
  kid?: string | null;
  claims?: Record<string, unknown>;
  iat?: number;
  exp?: number;
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = options.iat ?? now;
  const claims: JWTPayload = {
    iss: CALLER,
    scope: CLOUD_PLATFORM,
    aud: GOOGLE_TOKEN_URL,
    iat,
    exp: options.exp ?? iat + 3600,
    ...options.claims,
  };
  const kid = options.kid === undefined ? callerKey.keyId : options.kid;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(kid === null ? {} : { kid }) })
    .sign(options.key ?? privateKeyOf(callerKey));
}

function unsigned(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(claims)}.`;
}

async function postToken(
  body: Record<string, string>,
  contentType = 'application/x-www-form-urlencoded',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: contentType === 'application/json' ? JSON.stringify(body) : new URLSearchParams(body).toString(),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function exchange(jwt: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return postToken({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt });
}

/** A stock JWT client whose hard-coded Google token URL is redirected to the emulator. */
function stockJwtClient(key: CreatedKey, scopes?: string[]): { client: JWT; redirected: string[] } {
  const client = new JWT({
    email: key.keyFile.client_email,
    key: key.keyFile.private_key,
    ...(scopes ? { scopes } : {}),
  });
  const redirected: string[] = [];
  client.transporter.interceptors.request.add({
    resolved: (config) => {
      if (config.url.href === GOOGLE_TOKEN_URL) {
        redirected.push(config.url.href);
        config.url = new URL(emulator.tokenUrl);
      }
      return Promise.resolve(config);
    },
  });
  return { client, redirected };
}

describe('POST /token with the stock google-auth-library JWT client', () => {
  it('issues an access token that tokeninfo attributes to the service account and its scopes', async () => {
    const before = emulator.faults.count('oauth.token');
    const { client, redirected } = stockJwtClient(callerKey, [CLOUD_PLATFORM, USERINFO_EMAIL]);

    const { token } = await client.getAccessToken();

    expect(redirected).toEqual([GOOGLE_TOKEN_URL]);
    expect(emulator.faults.count('oauth.token')).toBe(before + 1);
    expect(token).toMatch(/^ya29\./);
    const info = await fetch(`${emulator.tokeninfoUrl}?access_token=${encodeURIComponent(token!)}`);
    expect(info.status).toBe(200);
    const uniqueId = emulator.state.serviceAccounts.get(CALLER)!.uniqueId;
    expect(await info.json()).toMatchObject({
      azp: uniqueId,
      aud: uniqueId,
      scope: `${CLOUD_PLATFORM} ${USERINFO_EMAIL}`,
      email: CALLER,
      email_verified: 'true',
      expires_in: expect.stringMatching(/^35\d\d$/),
    });
    // google-auth-library signs without `kid`: the emulator found the key itself.
    expect(emulator.state.tokens.lookup(token!)).toMatchObject({
      email: CALLER,
      keyId: callerKey.keyId,
      scopes: [CLOUD_PLATFORM, USERINFO_EMAIL],
    });
  });

  it('issues a Google-signed ID token for target_audience that verifies against the JWKS', async () => {
    const { client, redirected } = stockJwtClient(callerKey);
    const audience = 'https://tvs.example.test/token';

    const idToken = await client.fetchIdToken(audience);

    expect(redirected).toEqual([GOOGLE_TOKEN_URL]);
    const { payload, protectedHeader } = await jwtVerify(
      idToken,
      createRemoteJWKSet(new URL(emulator.jwksUrl)),
      {
        algorithms: ['RS256'],
        issuer: 'https://accounts.google.com',
        audience,
      },
    );
    const uniqueId = emulator.state.serviceAccounts.get(CALLER)!.uniqueId;
    expect(protectedHeader.kid).toBe(emulator.state.signingKeys.currentKid);
    expect(payload).toMatchObject({ sub: uniqueId, azp: uniqueId, email: CALLER, email_verified: true });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });
});

describe('POST /token success details', () => {
  it.each([
    ['the Google token URL', GOOGLE_TOKEN_URL],
    ['the legacy v4 token URL', 'https://www.googleapis.com/oauth2/v4/token'],
    ['the emulator token URL', 'EMULATOR'],
  ])('accepts an assertion whose aud is %s', async (_name, aud) => {
    const { status, json } = await exchange(
      await assertion({ claims: { aud: aud === 'EMULATOR' ? emulator.tokenUrl : aud } }),
    );
    expect(status).toBe(200);
    expect(json).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      expires_in: 3599,
      token_type: 'Bearer',
    });
  });

  it('records the key named by kid and the requested scopes on the issued token', async () => {
    const { json } = await exchange(
      await assertion({ claims: { scope: `${CLOUD_PLATFORM}  https://www.googleapis.com/auth/made-up` } }),
    );
    const record = emulator.state.tokens.lookup(json.access_token as string);
    expect(record).toMatchObject({
      email: CALLER,
      keyId: callerKey.keyId,
      scopes: [CLOUD_PLATFORM, 'https://www.googleapis.com/auth/made-up'],
    });
    expect(record!.expiresAtMs - record!.issuedAtMs).toBe(3599_000);
  });

  it('answers with no-store caching headers', async () => {
    const response = await fetch(emulator.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: await assertion({}),
      }).toString(),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toContain('no-store');
  });
});

describe('POST /token refusals', () => {
  const now = (): number => Math.floor(Date.now() / 1000);

  it.each<[string, () => Promise<string>, number, Record<string, unknown>]>([
    ['a forged signature', async () => assertion({ key: privateKeyOf(disabledSaKey) }), 400, BAD_SIGNATURE],
    [
      'a forged signature without kid',
      async () => assertion({ key: privateKeyOf(disabledSaKey), kid: null }),
      400,
      BAD_SIGNATURE,
    ],
    [
      'a wrong aud',
      async () => assertion({ claims: { aud: 'https://example.com/token' } }),
      400,
      BAD_AUDIENCE,
    ],
    ['an expired assertion', async () => assertion({ iat: now() - 7200, exp: now() - 3600 }), 400, BAD_TIMES],
    ['an iat in the future', async () => assertion({ iat: now() + 600, exp: now() + 1200 }), 400, BAD_TIMES],
    [
      'an over-long lifetime (exp - iat > 3600)',
      async () => assertion({ iat: now(), exp: now() + 3601 }),
      400,
      BAD_TIMES,
    ],
    ['exp before iat', async () => assertion({ iat: now(), exp: now() - 10 }), 400, BAD_TIMES],
    ['an unknown kid', async () => assertion({ kid: 'f'.repeat(40) }), 400, BAD_SIGNATURE],
    [
      'a disabled key',
      async () =>
        assertion({ key: privateKeyOf(disabledKey), kid: disabledKey.keyId, claims: { iss: ROTATED } }),
      400,
      BAD_SIGNATURE,
    ],
    [
      'a disabled key without kid',
      async () => assertion({ key: privateKeyOf(disabledKey), kid: null, claims: { iss: ROTATED } }),
      400,
      BAD_SIGNATURE,
    ],
    [
      'a deleted key',
      async () =>
        assertion({ key: privateKeyOf(deletedKey), kid: deletedKey.keyId, claims: { iss: ROTATED } }),
      400,
      BAD_SIGNATURE,
    ],
    [
      'an unknown service account',
      async () => assertion({ claims: { iss: `nobody@${PROJECT}.iam.gserviceaccount.com` } }),
      400,
      ACCOUNT_NOT_FOUND,
    ],
    [
      'a disabled service account',
      async () =>
        assertion({
          key: privateKeyOf(disabledSaKey),
          kid: disabledSaKey.keyId,
          claims: { iss: DISABLED_SA },
        }),
      400,
      ACCOUNT_NOT_FOUND,
    ],
    [
      'alg none',
      () =>
        Promise.resolve(
          unsigned(
            { alg: 'none', typ: 'JWT' },
            { iss: CALLER, scope: CLOUD_PLATFORM, aud: GOOGLE_TOKEN_URL, iat: now(), exp: now() + 3600 },
          ),
        ),
      400,
      BAD_SIGNATURE,
    ],
    [
      'HS256',
      async () =>
        new SignJWT({
          iss: CALLER,
          scope: CLOUD_PLATFORM,
          aud: GOOGLE_TOKEN_URL,
          iat: now(),
          exp: now() + 3600,
        })
          .setProtectedHeader({ alg: 'HS256', kid: callerKey.keyId })
          .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!')),
      400,
      BAD_SIGNATURE,
    ],
    ['a missing scope', async () => assertion({ claims: { scope: undefined } }), 400, NO_SCOPE],
    ['a blank scope', async () => assertion({ claims: { scope: '   ' } }), 400, NO_SCOPE],
    ['a garbage assertion', () => Promise.resolve('not-a-jwt'), 400, BAD_SIGNATURE],
  ])('refuses %s with Google’s error', async (_name, makeAssertion, status, body) => {
    const result = await exchange(await makeAssertion());
    expect(result).toEqual({ status, json: body });
  });

  it('refuses a wrong grant type with unsupported_grant_type', async () => {
    expect(await postToken({ grant_type: 'client_credentials', assertion: await assertion({}) })).toEqual({
      status: 400,
      json: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: client_credentials' },
    });
  });

  it('refuses a missing assertion with invalid_request', async () => {
    expect(await postToken({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' })).toEqual({
      status: 400,
      json: { error: 'invalid_request', error_description: 'Missing required parameter: assertion' },
    });
  });

  it('refuses a body that is not form-encoded with invalid_request', async () => {
    const result = await postToken(
      { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: await assertion({}) },
      'application/json',
    );
    expect(result.status).toBe(400);
    expect(result.json.error).toBe('invalid_request');
  });

  it('refuses GET with 405', async () => {
    const response = await fetch(emulator.tokenUrl);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('makes the stock JWT client fail with invalid_grant for a deleted key', async () => {
    const { client } = stockJwtClient(deletedKey);
    await expect(client.getAccessToken()).rejects.toThrow('invalid_grant: Invalid JWT Signature.');
  });
});
