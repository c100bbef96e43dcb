import { createHash, randomBytes } from 'node:crypto';
import { CodeChallengeMethod } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_CODE_LIFETIME_MS } from '../../../emulator/state/user-grants.js';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import {
  admin,
  consent,
  DRIVE_METADATA,
  getWithBearer,
  OPENID,
  openAuthorizationUrl,
  postToken,
  refusalOf,
  registerClient,
  stockClient,
  type RegisteredClient,
} from './support/user-consent.js';

const REDIRECT = 'https://app.example.com/oauth/callback';
const ADA = { email: 'ada@example.com', sub: '110248495921238986420' };
const SA = 'worker@tvs-errors-test.iam.gserviceaccount.com';

let emulator: Emulator;
let client: RegisteredClient;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: 'tvs-errors-test',
      projectNumber: '135792468013',
      serviceAccounts: [{ email: SA }],
      oauthUsers: [ADA],
    },
  });
  client = await registerClient(emulator, REDIRECT);
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(() => {
  emulator.state.userGrants.codeLifetimeMs = DEFAULT_CODE_LIFETIME_MS;
  emulator.state.consent.clear();
});

/** An authorization URL for `client` with these parameters on top of the usual ones. */
function authUrl(params: Record<string, string>, base: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: OPENID,
    ...base,
    ...params,
  });
  for (const [name, value] of Object.entries(params)) if (value === '\0') query.delete(name);
  return `${emulator.authUrl}?${query.toString()}`;
}

/** A code for `client` (S256 challenge when a verifier is given); the code value. */
async function codeFor(
  options: { verifier?: string; scope?: string; method?: 'S256' | 'plain' } = {},
): Promise<string> {
  const challenge: Record<string, string> =
    options.verifier === undefined
      ? {}
      : {
          code_challenge:
            options.method === 'plain'
              ? options.verifier
              : createHash('sha256').update(options.verifier).digest('base64url'),
          code_challenge_method: options.method ?? 'S256',
        };
  // prompt=consent: a refresh token every time, whatever the user granted before.
  const params = await consent(
    authUrl({ access_type: 'offline', prompt: 'consent', scope: options.scope ?? OPENID, ...challenge }),
  );
  return params.get('code')!;
}

function exchange(code: string, extra: Record<string, string> = {}): ReturnType<typeof postToken> {
  return postToken(emulator, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    ...extra,
  });
}

const verifier = (): string => randomBytes(48).toString('base64url');

describe('the authorization endpoint refuses with an error page, never a redirect', () => {
  it.each<[string, Record<string, string>, number, string, RegExp]>([
    [
      'an unregistered redirect URI',
      { redirect_uri: 'https://evil.example/cb' },
      400,
      'redirect_uri_mismatch',
      /redirect_uri=https:\/\/evil\.example\/cb/,
    ],
    [
      'a redirect URI differing only by a trailing slash',
      { redirect_uri: `${REDIRECT}/` },
      400,
      'redirect_uri_mismatch',
      /register the redirect URI/,
    ],
    [
      'a missing redirect URI',
      { redirect_uri: '\0' },
      400,
      'invalid_request',
      /Missing required parameter: redirect_uri/,
    ],
    [
      'an unknown client',
      { client_id: '1-nope.apps.googleusercontent.com' },
      401,
      'invalid_client',
      /The OAuth client was not found\./,
    ],
    [
      'a missing client id',
      { client_id: '\0' },
      400,
      'invalid_request',
      /Missing required parameter: client_id/,
    ],
    [
      'an unknown scope',
      { scope: 'openid https://www.googleapis.com/auth/made-up' },
      400,
      'invalid_scope',
      /Some requested scopes cannot be shown: \[https:\/\/www\.googleapis\.com\/auth\/made-up\]/,
    ],
    ['a missing scope', { scope: '\0' }, 400, 'invalid_request', /Missing required parameter: scope/],
    [
      'a missing response_type',
      { response_type: '\0' },
      400,
      'invalid_request',
      /Required parameter is missing: response_type/,
    ],
    ['an unsupported response_type', { response_type: 'token' }, 400, 'unsupported_response_type', /token/],
    [
      'a lower-case s256 challenge method',
      { code_challenge: 'a'.repeat(43), code_challenge_method: 's256' },
      400,
      'invalid_request',
      /for code_challenge_method: &#39;s256&#39; is not a valid CodeChallengeMethod/,
    ],
    [
      'a challenge method without a challenge',
      { code_challenge_method: 'S256' },
      400,
      'invalid_request',
      /Missing required parameter: code_challenge/,
    ],
    [
      'an S256 challenge that is not a base64url SHA-256',
      { code_challenge: 'short', code_challenge_method: 'S256' },
      400,
      'invalid_request',
      /code_challenge/,
    ],
    [
      'a plain challenge under 43 characters',
      { code_challenge: 'x'.repeat(42) },
      400,
      'invalid_request',
      /code_challenge/,
    ],
    [
      'a plain challenge with a character outside RFC 7636',
      { code_challenge: `${'x'.repeat(42)}+` },
      400,
      'invalid_request',
      /code_challenge/,
    ],
    [
      'an unknown access_type',
      { access_type: 'forever' },
      400,
      'invalid_request',
      /for access_type: &#39;forever&#39; is not a valid AccessType/,
    ],
    ['prompt=none with another prompt', { prompt: 'none consent' }, 400, 'invalid_request', /prompt/],
    [
      'a login_hint naming no user',
      { login_hint: 'nobody@example.com' },
      400,
      'invalid_request',
      /nobody@example\.com/,
    ],
  ])('refuses %s', async (_name, params, status, error, description) => {
    const answer = await openAuthorizationUrl(authUrl(params));
    expect(answer.status).toBe(status);
    expect(answer.location).toBeUndefined();
    expect(answer.body).toContain(`Error ${status}: ${error}`);
    expect(answer.body).toMatch(description);
  });

  it('escapes what the request sent when it shows it', async () => {
    const answer = await openAuthorizationUrl(authUrl({ redirect_uri: 'https://x.example/<script>' }));
    expect(answer.body).not.toContain('<script>');
    expect(answer.body).toContain('&#60;script&#62;');
  });

  it('accepts a plain challenge (RFC 7636 default method) and checks the verifier against it', async () => {
    const value = verifier();
    const code = await codeFor({ verifier: value, method: 'plain' });
    expect((await exchange(code, { code_verifier: `${value}x` })).json).toEqual({
      error: 'invalid_grant',
      error_description: 'Invalid code verifier.',
    });
    expect((await exchange(code, { code_verifier: value })).status).toBe(200);
  });
});

describe("the token endpoint refuses bad exchanges with Google's errors", () => {
  it('refuses a code replay with invalid_grant and revokes what the first exchange issued', async () => {
    const code = await codeFor({ scope: `${OPENID} ${DRIVE_METADATA}` });
    const first = await exchange(code);
    expect(first.status).toBe(200);
    const { access_token: access, refresh_token: refresh } = first.json as Record<string, string>;
    expect((await getWithBearer(`${emulator.httpUrl}/drive/v3/about?fields=user`, access)).status).toBe(200);

    expect(await exchange(code)).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Bad Request' },
    });
    expect((await getWithBearer(`${emulator.httpUrl}/drive/v3/about?fields=user`, access)).status).toBe(401);
    const refreshed = await postToken(emulator, {
      grant_type: 'refresh_token',
      refresh_token: refresh,
      client_id: client.clientId,
      client_secret: client.clientSecret,
    });
    expect(refreshed).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
    });
  });

  it('refuses a wrong PKCE verifier without spending the code', async () => {
    const value = verifier();
    const code = await codeFor({ verifier: value });
    expect(await exchange(code, { code_verifier: verifier() })).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Invalid code verifier.' },
    });
    expect((await exchange(code, { code_verifier: value })).status).toBe(200);
  });

  it('refuses an exchange without the verifier when a challenge was sent', async () => {
    const code = await codeFor({ verifier: verifier() });
    expect(await exchange(code)).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Missing code verifier.' },
    });
  });

  it('refuses a verifier when no challenge was sent', async () => {
    const code = await codeFor();
    expect(await exchange(code, { code_verifier: verifier() })).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'code_verifier or verifier is not needed.' },
    });
  });

  it('refuses a wrong PKCE verifier through the stock client too', async () => {
    const oauth = stockClient(emulator, client);
    const { codeChallenge } = await oauth.generateCodeVerifierAsync();
    const params = await consent(
      oauth.generateAuthUrl({
        scope: [OPENID],
        code_challenge: codeChallenge,
        code_challenge_method: CodeChallengeMethod.S256,
      }),
    );
    const other = await oauth.generateCodeVerifierAsync();
    expect(
      await refusalOf(
        oauth.getToken({
          code: params.get('code')!,
          codeVerifier: other.codeVerifier,
          redirect_uri: REDIRECT,
        }),
      ),
    ).toEqual({ status: 400, data: { error: 'invalid_grant', error_description: 'Invalid code verifier.' } });
  });

  it.each<[string, Record<string, string>, Record<string, string>, number, Record<string, string>]>([
    [
      'a wrong client secret',
      { client_secret: 'GOCSPX-wrong' },
      {},
      401,
      { error: 'invalid_client', error_description: 'Unauthorized' },
    ],
    [
      'a missing client secret',
      { client_secret: '' },
      {},
      400,
      { error: 'invalid_request', error_description: 'client_secret is missing.' },
    ],
    [
      'an unknown client',
      { client_id: '9-nope.apps.googleusercontent.com' },
      {},
      401,
      { error: 'invalid_client', error_description: 'The OAuth client was not found.' },
    ],
    [
      'no client id at all',
      { client_id: '', client_secret: '' },
      {},
      400,
      { error: 'invalid_request', error_description: 'Could not determine client ID from request.' },
    ],
    [
      'a wrong secret over HTTP Basic',
      { client_id: '', client_secret: '' },
      { basic: 'GOCSPX-wrong' },
      401,
      { error: 'invalid_client', error_description: 'Unauthorized' },
    ],
    [
      "another redirect URI than the authorization request's",
      { redirect_uri: 'https://app.example.com/other' },
      {},
      400,
      { error: 'redirect_uri_mismatch', error_description: 'Bad Request' },
    ],
    [
      'a missing redirect URI',
      { redirect_uri: '' },
      {},
      400,
      { error: 'invalid_request', error_description: 'Missing required parameter: redirect_uri' },
    ],
  ])('refuses %s', async (_name, overrides, auth, status, body) => {
    const code = await codeFor();
    const form = Object.fromEntries(
      Object.entries({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        client_id: client.clientId,
        client_secret: client.clientSecret,
        ...overrides,
      }).filter(([, v]) => v !== ''),
    );
    const headers: Record<string, string> = auth.basic
      ? { authorization: `Basic ${Buffer.from(`${client.clientId}:${auth.basic}`).toString('base64')}` }
      : {};
    expect(await postToken(emulator, form, headers)).toEqual({ status, json: body });
    // None of these spends the code.
    expect((await exchange(code)).status).toBe(200);
  });

  it('accepts the client secret over HTTP Basic', async () => {
    const code = await codeFor();
    const basic = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64');
    const answer = await postToken(
      emulator,
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT },
      { authorization: `Basic ${basic}` },
    );
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ token_type: 'Bearer', expires_in: 3599, scope: OPENID });
  });

  it.each<[string, () => Promise<string>, string]>([
    ['a percent-encoded code', async () => encodeURIComponent(await codeFor()), 'Malformed auth code.'],
    ['a made-up code', () => Promise.resolve(`4/0A${randomBytes(40).toString('base64url')}`), 'Bad Request'],
    [
      'an expired code',
      async () => {
        // A code that lives 0 ms has expired by the time anyone presents it.
        emulator.state.userGrants.codeLifetimeMs = 0;
        return codeFor();
      },
      'Bad Request',
    ],
    [
      "another client's code",
      async () => {
        const other = await registerClient(emulator, REDIRECT);
        return (
          await consent(
            `${emulator.authUrl}?${new URLSearchParams({ client_id: other.clientId, redirect_uri: REDIRECT, response_type: 'code', scope: OPENID }).toString()}`,
          )
        ).get('code')!;
      },
      'Bad Request',
    ],
  ])('refuses %s with invalid_grant', async (_name, makeCode, description) => {
    expect(await exchange(await makeCode())).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: description },
    });
  });

  it('refuses an unknown grant type', async () => {
    expect(await postToken(emulator, { grant_type: 'password' })).toEqual({
      status: 400,
      json: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: password' },
    });
  });
});

describe('the refresh_token grant', () => {
  async function refreshToken(scope = `${OPENID} ${DRIVE_METADATA}`): Promise<string> {
    return ((await exchange(await codeFor({ scope }))).json as Record<string, string>).refresh_token;
  }

  function refresh(
    token: string,
    extra: Record<string, string> = {},
    who: RegisteredClient = client,
  ): ReturnType<typeof postToken> {
    return postToken(emulator, {
      grant_type: 'refresh_token',
      refresh_token: token,
      client_id: who.clientId,
      client_secret: who.clientSecret,
      ...extra,
    });
  }

  it('narrows the scope on request, and refuses a wider one with invalid_scope', async () => {
    const token = await refreshToken();
    const narrow = await refresh(token, { scope: DRIVE_METADATA });
    expect(narrow.status).toBe(200);
    expect(narrow.json).toMatchObject({ scope: DRIVE_METADATA, token_type: 'Bearer', expires_in: 3599 });
    expect(narrow.json).not.toHaveProperty('id_token');
    expect(narrow.json).not.toHaveProperty('refresh_token');
    const full = await refresh(token);
    expect(full.json).toMatchObject({ scope: `${OPENID} ${DRIVE_METADATA}`, id_token: expect.any(String) });
    expect((await refresh(token, { scope: 'https://www.googleapis.com/auth/drive' })).json).toEqual({
      error: 'invalid_scope',
      error_description: 'Bad Request',
    });
  });

  it('refuses an unknown refresh token, and one issued to another client', async () => {
    expect(await refresh(`1//0${randomBytes(40).toString('base64url')}`)).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
    });
    const other = await registerClient(emulator, REDIRECT);
    expect(await refresh(await refreshToken(), {}, other)).toEqual({
      status: 400,
      json: { error: 'unauthorized_client', error_description: 'Unauthorized' },
    });
  });

  it('refuses the refresh of a revoked grant with invalid_grant', async () => {
    const token = await refreshToken();
    const revoked = await fetch(`${emulator.revokeUrl}?token=${encodeURIComponent(token)}`, {
      method: 'POST',
    });
    expect(revoked.status).toBe(200);
    expect(await refresh(token)).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
    });
  });
});

describe('the revoke endpoint', () => {
  const revoke = (token: string, inBody = false): Promise<Response> =>
    inBody
      ? fetch(emulator.revokeUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token }).toString(),
        })
      : fetch(`${emulator.revokeUrl}?token=${encodeURIComponent(token)}`, { method: 'POST' });

  it('revokes once (token in the form body), then answers invalid_token', async () => {
    const { access_token: access } = (await exchange(await codeFor())).json as Record<string, string>;
    expect((await revoke(access, true)).status).toBe(200);
    const again = await revoke(access, true);
    expect(again.status).toBe(400);
    expect(await again.json()).toEqual({
      error: 'invalid_token',
      error_description: 'Token expired or revoked',
    });
  });

  it('answers invalid_token for an unknown token, 404 for GET', async () => {
    const unknown = await revoke('ya29.a0made-up');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toEqual({
      error: 'invalid_token',
      error_description: 'Token expired or revoked',
    });
    expect((await fetch(`${emulator.revokeUrl}?token=x`)).status).toBe(404);
  });

  it("cannot revoke a service account's access token, which keeps working", async () => {
    const token = emulator.state.tokens.issue({
      email: SA,
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      issuedBy: 'test',
    });
    expect((await revoke(token.value)).status).toBe(400);
    expect((await fetch(`${emulator.tokeninfoUrl}?access_token=${token.value}`)).status).toBe(200);
  });
});

describe('user-data endpoints refuse what they must', () => {
  async function accessToken(scope: string): Promise<string> {
    return ((await exchange(await codeFor({ scope }))).json as Record<string, string>).access_token;
  }

  it('userinfo: 401 invalid_request without a token, or for a token without an identity scope', async () => {
    for (const token of [undefined, 'ya29.a0nope', await accessToken(DRIVE_METADATA)]) {
      const answer = await getWithBearer(emulator.userinfoUrl, token);
      expect(answer.status).toBe(401);
      expect(answer.json).toEqual({ error: 'invalid_request', error_description: 'Invalid Credentials' });
    }
  });

  it('tokeninfo: a token without identity scopes shows neither sub nor email; online access by default', async () => {
    const token = await accessToken(DRIVE_METADATA);
    const info = (await getWithBearer(`${emulator.tokeninfoUrl}?access_token=${token}`, undefined)).json;
    expect(info).toEqual({
      azp: client.clientId,
      aud: client.clientId,
      scope: DRIVE_METADATA,
      exp: expect.stringMatching(/^\d+$/),
      expires_in: expect.stringMatching(/^\d+$/),
      access_type: 'offline',
    });
    const online = await consent(authUrl({ scope: `${OPENID} email` }));
    const onlineToken = ((await exchange(online.get('code')!)).json as Record<string, string>).access_token;
    const onlineInfo = (
      await getWithBearer(`${emulator.tokeninfoUrl}?access_token=${onlineToken}`, undefined)
    ).json;
    expect(onlineInfo).toMatchObject({
      sub: ADA.sub,
      email: ADA.email,
      email_verified: 'true',
      access_type: 'online',
    });
  });

  it('Drive about: 401 CREDENTIALS_MISSING without a token, 400 without fields or with an unknown field', async () => {
    const url = `${emulator.httpUrl}/drive/v3/about`;
    const missing = await getWithBearer(`${url}?fields=user`, undefined);
    expect(missing.status).toBe(401);
    expect(missing.json).toMatchObject({
      error: {
        code: 401,
        status: 'UNAUTHENTICATED',
        errors: [
          {
            message: 'Login Required.',
            domain: 'global',
            reason: 'required',
            location: 'Authorization',
            locationType: 'header',
          },
        ],
        details: [
          {
            reason: 'CREDENTIALS_MISSING',
            metadata: { service: 'drive.googleapis.com', method: 'google.apps.drive.v3.DriveAbout.Get' },
          },
        ],
      },
    });
    const token = await accessToken(DRIVE_METADATA);
    const noFields = await getWithBearer(url, token);
    expect(noFields.status).toBe(400);
    expect(noFields.json).toMatchObject({
      error: { message: "The 'fields' parameter is required for this method." },
    });
    const badField = await getWithBearer(`${url}?fields=storageQuota`, token);
    expect(badField.status).toBe(400);
    expect(badField.json).toMatchObject({
      error: {
        message: 'Invalid field selection storageQuota',
        errors: [{ reason: 'invalidParameter', location: 'fields', locationType: 'parameter' }],
      },
    });
    const all = await getWithBearer(`${url}?fields=*`, token);
    expect(all.json).toMatchObject({ kind: 'drive#about', user: { emailAddress: ADA.email } });
  });

  it('lists grants and queued answers through test control without any token value', async () => {
    await exchange(await codeFor());
    const { json } = await admin(emulator, 'GET', `oauth/grants?user=${ADA.sub}`);
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/ya29\.|1\/\/0|4\/0A/);
    expect((json as { grants: unknown[] }).grants.length).toBeGreaterThan(0);
  });
});
