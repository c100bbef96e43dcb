import { createHash } from 'node:crypto';
import { CodeChallengeMethod } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import {
  admin,
  consent,
  DRIVE_METADATA,
  EMAIL,
  getWithBearer,
  OPENID,
  openAuthorizationUrl,
  queueConsent,
  refusalOf,
  registerClient,
  SHEETS,
  stockClient,
  type RegisteredClient,
} from './support/user-consent.js';

const PROJECT_NUMBER = '246813579024';
const SEEDED_CLIENT = `${PROJECT_NUMBER}-consentbroker.apps.googleusercontent.com`;
const REDIRECT = 'http://127.0.0.1:9/v1/consent/callback';
const ADA = { email: 'ada@example.com', sub: '110248495921238986420', name: 'Ada Lovelace' };
const GRACE = { email: 'grace@example.com', sub: '117350918440571250137' };

let emulator: Emulator;
let seeded: RegisteredClient;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: 'tvs-consent-test',
      projectNumber: PROJECT_NUMBER,
      oauthClients: [{ clientId: SEEDED_CLIENT, redirectUris: [REDIRECT] }],
      oauthUsers: [ADA, GRACE],
    },
  });
  const client = emulator.state.oauthClients.get(SEEDED_CLIENT)!;
  seeded = { clientId: client.clientId, clientSecret: client.clientSecret, redirectUri: REDIRECT };
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(() => {
  emulator.faults.reset();
  emulator.state.consent.clear();
});

/** A fresh client per test, so grants of one test never leak into another. */
async function freshClient(): Promise<RegisteredClient> {
  return registerClient(emulator, REDIRECT);
}

function driveAboutUrl(fields = 'user'): string {
  return `${emulator.httpUrl}/drive/v3/about?fields=${encodeURIComponent(fields)}`;
}

describe('the authorization-code flow with a stock OAuth2Client', () => {
  it('consents, exchanges the code with PKCE, verifies the ID token and calls user-data endpoints', async () => {
    const oauth = stockClient(emulator, seeded);
    const { codeVerifier, codeChallenge } = await oauth.generateCodeVerifierAsync();
    const url = oauth.generateAuthUrl({
      access_type: 'offline',
      scope: [OPENID, 'email', DRIVE_METADATA],
      state: 'csrf-123',
      code_challenge: codeChallenge,
      code_challenge_method: CodeChallengeMethod.S256,
      login_hint: ADA.email,
      include_granted_scopes: true,
      prompt: 'consent',
      nonce: 'n-0S6_WzA2Mj',
    });
    expect(url.startsWith(`${emulator.authUrl}?`)).toBe(true);

    const answer = await openAuthorizationUrl(url);
    expect(answer.status).toBe(302);
    expect(`${answer.location!.origin}${answer.location!.pathname}`).toBe(REDIRECT);
    const query = answer.location!.searchParams;
    expect([...query.keys()]).toEqual(['state', 'code', 'scope', 'authuser', 'prompt']);
    expect(query.get('state')).toBe('csrf-123');
    expect(query.get('code')).toMatch(/^4\/0A[A-Za-z0-9_-]+$/);
    expect(query.get('scope')!.split(' ').sort()).toEqual(['email', EMAIL, DRIVE_METADATA, OPENID].sort());
    expect(query.get('authuser')).toBe('0');
    expect(query.get('prompt')).toBe('consent');

    const { tokens } = await oauth.getToken({
      code: query.get('code')!,
      codeVerifier,
      redirect_uri: REDIRECT,
    });
    expect(tokens.access_token).toMatch(/^ya29\.a0/);
    expect(tokens.refresh_token).toMatch(/^1\/\/0/);
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.scope).toBe(`${OPENID} ${EMAIL} ${DRIVE_METADATA}`);
    expect(tokens.expiry_date! - Date.now()).toBeGreaterThan(3_500_000);

    // The ID token verifies with the stock client against the emulator's certificates.
    const ticket = await oauth.verifyIdToken({ idToken: tokens.id_token!, audience: seeded.clientId });
    const payload = ticket.getPayload()!;
    expect(payload).toMatchObject({
      iss: 'https://accounts.google.com',
      aud: seeded.clientId,
      azp: seeded.clientId,
      sub: ADA.sub,
      email: ADA.email,
      email_verified: true,
      nonce: 'n-0S6_WzA2Mj',
    });
    expect(payload.exp - payload.iat).toBe(3600);
    const atHash = createHash('sha256')
      .update(tokens.access_token!)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
    expect(payload.at_hash).toBe(atHash);

    // tokeninfo, userinfo and a scope-guarded API accept the user's token.
    const info = await oauth.getTokenInfo(tokens.access_token!);
    expect(info).toMatchObject({
      aud: seeded.clientId,
      sub: ADA.sub,
      email: ADA.email,
      access_type: 'offline',
    });
    expect(info.scopes).toEqual([OPENID, EMAIL, DRIVE_METADATA]);
    expect(info.expiry_date - Date.now()).toBeGreaterThan(3_500_000);

    const userinfo = await getWithBearer(emulator.userinfoUrl, tokens.access_token!);
    expect(userinfo).toMatchObject({
      status: 200,
      json: { sub: ADA.sub, email: ADA.email, email_verified: true },
    });

    oauth.setCredentials(tokens);
    const about = await oauth.request<{ user: Record<string, unknown> }>({ url: driveAboutUrl() });
    expect(about.data).toEqual({
      user: {
        kind: 'drive#user',
        displayName: ADA.name,
        photoLink: expect.any(String),
        me: true,
        permissionId: expect.stringMatching(/^\d{20}$/),
        emailAddress: ADA.email,
      },
    });

    expect(emulator.faults.count('oauth.authorize')).toBe(1);
    expect(emulator.faults.count('oauth.token')).toBe(1);
    expect(emulator.faults.count('oauth.certs.v1')).toBe(1);
    expect(emulator.faults.count('oauth.tokeninfo')).toBe(1);
    expect(emulator.faults.count('oauth.userinfo')).toBe(1);
    expect(emulator.faults.count('drive.about.get')).toBe(1);
  });

  it('refreshes with the stock client, then the refresh token stops working once the user revokes an access token', async () => {
    const client = await freshClient();
    const oauth = stockClient(emulator, client);
    const params = await consent(
      oauth.generateAuthUrl({
        access_type: 'offline',
        scope: [OPENID, DRIVE_METADATA],
        login_hint: GRACE.sub,
      }),
    );
    const { tokens } = await oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT });
    expect(tokens.refresh_token).toBeDefined();

    oauth.setCredentials({ refresh_token: tokens.refresh_token });
    const { token: refreshed } = await oauth.getAccessToken();
    expect(refreshed).toMatch(/^ya29\.a0/);
    expect(refreshed).not.toBe(tokens.access_token);
    expect((await getWithBearer(driveAboutUrl('user(emailAddress)'), refreshed!)).json).toEqual({
      user: { emailAddress: GRACE.email },
    });
    const { credentials } = await oauth.refreshAccessToken();
    expect(credentials.access_token).not.toBe(refreshed);
    // Google does not rotate refresh tokens: the same one keeps working.
    expect(credentials.refresh_token).toBe(tokens.refresh_token);

    // Revoking one access token revokes the whole grant: its refresh token and every access token.
    const revoked = await oauth.revokeToken(tokens.access_token!);
    expect(revoked.status).toBe(200);

    expect(await refusalOf(oauth.refreshAccessToken())).toEqual({
      status: 400,
      data: { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
    });
    for (const token of [tokens.access_token!, refreshed!, credentials.access_token!]) {
      const drive = await getWithBearer(driveAboutUrl(), token);
      expect(drive.status).toBe(401);
      expect(drive.json).toMatchObject({
        error: { status: 'UNAUTHENTICATED', errors: [{ reason: 'authError' }] },
      });
    }
    const grants = (
      await admin(emulator, 'GET', `oauth/grants?clientId=${encodeURIComponent(client.clientId)}`)
    ).json as { grants: Array<{ revoked: boolean; liveRefreshTokens: number }> };
    expect(grants.grants).toEqual([expect.objectContaining({ revoked: true, liveRefreshTokens: 0 })]);
  });

  it('revokes the whole grant from its refresh token too', async () => {
    const oauth = stockClient(emulator, await freshClient());
    const params = await consent(oauth.generateAuthUrl({ access_type: 'offline', scope: [OPENID] }));
    const { tokens } = await oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT });
    expect((await oauth.revokeToken(tokens.refresh_token!)).status).toBe(200);
    const info = await fetch(`${emulator.tokeninfoUrl}?access_token=${tokens.access_token!}`);
    expect(info.status).toBe(400);
    expect(await info.json()).toEqual({ error: 'invalid_token', error_description: 'Invalid Value' });
  });
});

describe('consent answers chosen by the test', () => {
  it('signs in the first seeded user when nothing says otherwise, and the queued user when queued', async () => {
    const client = await freshClient();
    const oauth = stockClient(emulator, client);
    const url = oauth.generateAuthUrl({ scope: [OPENID] });

    const first = await consent(url);
    const firstTokens = (await oauth.getToken({ code: first.get('code')!, redirect_uri: REDIRECT })).tokens;
    expect((await oauth.getTokenInfo(firstTokens.access_token!)).sub).toBe(ADA.sub);

    await queueConsent(emulator, { user: GRACE.email, decision: 'approve' });
    const second = await consent(url);
    const secondTokens = (await oauth.getToken({ code: second.get('code')!, redirect_uri: REDIRECT })).tokens;
    expect((await oauth.getTokenInfo(secondTokens.access_token!)).sub).toBe(GRACE.sub);
  });

  it('redirects access_denied with the state, and no code, when the user denies', async () => {
    const client = await freshClient();
    await queueConsent(emulator, { user: ADA.email, decision: 'deny', clientId: client.clientId });
    const answer = await openAuthorizationUrl(
      stockClient(emulator, client).generateAuthUrl({ scope: [OPENID, DRIVE_METADATA], state: 'xyz' }),
    );
    expect(answer.status).toBe(302);
    expect(`${answer.location!.origin}${answer.location!.pathname}`).toBe(REDIRECT);
    expect([...answer.location!.searchParams]).toEqual([
      ['state', 'xyz'],
      ['error', 'access_denied'],
    ]);
  });

  it('keeps an answer queued for one client away from another client', async () => {
    const [mine, other] = [await freshClient(), await freshClient()];
    await queueConsent(emulator, { user: ADA.email, decision: 'deny', clientId: mine.clientId });
    const otherAnswer = await consent(stockClient(emulator, other).generateAuthUrl({ scope: [OPENID] }));
    expect(otherAnswer.get('code')).toBeTruthy();
    const mineAnswer = await consent(stockClient(emulator, mine).generateAuthUrl({ scope: [OPENID] }));
    expect(mineAnswer.get('error')).toBe('access_denied');
  });

  it('grants only the scopes the user left checked (granular consent), and Drive then refuses the token', async () => {
    const client = await freshClient();
    const oauth = stockClient(emulator, client);
    await queueConsent(emulator, { user: ADA.sub, decision: 'approve', scopes: [SHEETS] });
    const params = await consent(oauth.generateAuthUrl({ scope: [OPENID, 'email', DRIVE_METADATA, SHEETS] }));
    expect(params.get('scope')!.split(' ').sort()).toEqual(['email', EMAIL, OPENID, SHEETS].sort());
    const { tokens } = await oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT });
    expect(tokens.scope).toBe(`${OPENID} ${EMAIL} ${SHEETS}`);

    const drive = await getWithBearer(driveAboutUrl(), tokens.access_token!);
    expect(drive.status).toBe(403);
    expect(drive.json).toEqual({
      error: {
        code: 403,
        message: 'Request had insufficient authentication scopes.',
        errors: [{ message: 'Insufficient Permission', domain: 'global', reason: 'insufficientPermissions' }],
        status: 'PERMISSION_DENIED',
        details: [
          {
            '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
            reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
            domain: 'googleapis.com',
            metadata: { service: 'drive.googleapis.com', method: 'google.apps.drive.v3.DriveAbout.Get' },
          },
        ],
      },
    });
    expect(drive.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('registers a client and a user through test control and runs the flow with them', async () => {
    const user = await admin(emulator, 'POST', 'oauth/users', { email: 'lin@example.org', name: 'Lin' });
    expect(user.status).toBe(200);
    const { sub } = user.json as { sub: string };
    expect(sub).toMatch(/^[1-9]\d{20}$/);
    const client = await freshClient();
    expect(client.clientId).toMatch(
      new RegExp(`^${PROJECT_NUMBER}-[a-z0-9]{32}\\.apps\\.googleusercontent\\.com$`),
    );
    expect(client.clientSecret).toMatch(/^GOCSPX-/);

    const oauth = stockClient(emulator, client);
    const params = await consent(
      oauth.generateAuthUrl({ scope: [OPENID, 'profile'], login_hint: 'lin@example.org' }),
    );
    const { tokens } = await oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT });
    const ticket = await oauth.verifyIdToken({ idToken: tokens.id_token!, audience: client.clientId });
    expect(ticket.getPayload()).toMatchObject({ sub, name: 'Lin' });
    // No email scope: no email claims anywhere.
    expect(ticket.getPayload()!.email).toBeUndefined();
    expect((await getWithBearer(emulator.userinfoUrl, tokens.access_token!)).json).toEqual({
      sub,
      name: 'Lin',
    });
  });
});

describe('incremental authorization', () => {
  it('unions earlier grants with include_granted_scopes, and returns a refresh token only when consent was shown', async () => {
    const client = await freshClient();
    const oauth = stockClient(emulator, client);
    const exchange = async (params: URLSearchParams) =>
      (await oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT })).tokens;

    const first = await consent(oauth.generateAuthUrl({ access_type: 'offline', scope: [OPENID, 'email'] }));
    expect(first.get('prompt')).toBe('consent');
    const firstTokens = await exchange(first);
    expect(firstTokens.scope).toBe(`${OPENID} ${EMAIL}`);
    expect(firstTokens.refresh_token).toBeDefined();

    // New scope, incremental: the token covers the union, and a new refresh token comes back.
    const second = await consent(
      oauth.generateAuthUrl({
        access_type: 'offline',
        scope: [DRIVE_METADATA],
        include_granted_scopes: true,
      }),
    );
    expect(second.get('prompt')).toBe('consent');
    expect(second.get('scope')!.split(' ').sort()).toEqual([OPENID, EMAIL, DRIVE_METADATA].sort());
    const secondTokens = await exchange(second);
    expect(secondTokens.scope!.split(' ').sort()).toEqual([OPENID, EMAIL, DRIVE_METADATA].sort());
    expect(secondTokens.refresh_token).toBeDefined();
    expect((await getWithBearer(driveAboutUrl(), secondTokens.access_token!)).status).toBe(200);
    // Its refresh token carries the union too.
    oauth.setCredentials({ refresh_token: secondTokens.refresh_token });
    const refreshed = (await oauth.refreshAccessToken()).credentials;
    expect(refreshed.scope!.split(' ').sort()).toEqual([OPENID, EMAIL, DRIVE_METADATA].sort());

    // Without include_granted_scopes the token has only what this request asked for.
    const third = await consent(oauth.generateAuthUrl({ access_type: 'offline', scope: [DRIVE_METADATA] }));
    expect(third.get('prompt')).toBe('none');
    const thirdTokens = await exchange(third);
    expect(thirdTokens.scope).toBe(DRIVE_METADATA);
    // Nothing new and no prompt=consent: no consent screen, so no refresh token.
    expect(thirdTokens.refresh_token).toBeUndefined();

    // prompt=consent shows the screen again, and a refresh token comes back.
    const fourth = await consent(
      oauth.generateAuthUrl({ access_type: 'offline', scope: [DRIVE_METADATA], prompt: 'consent' }),
    );
    expect((await exchange(fourth)).refresh_token).toBeDefined();

    const grants = (
      await admin(
        emulator,
        'GET',
        `oauth/grants?clientId=${encodeURIComponent(client.clientId)}&user=${ADA.email}`,
      )
    ).json as { grants: Array<{ scopes: string[]; liveRefreshTokens: number }> };
    expect(grants.grants).toHaveLength(1);
    expect(grants.grants[0].scopes.sort()).toEqual([OPENID, EMAIL, DRIVE_METADATA].sort());
    expect(grants.grants[0].liveRefreshTokens).toBe(3);
  });

  it('answers prompt=none from the earlier grant, and consent_required without one', async () => {
    const client = await freshClient();
    const oauth = stockClient(emulator, client);
    const silent = oauth.generateAuthUrl({ scope: [OPENID], prompt: 'none', state: 's1' });
    expect([...(await consent(silent))]).toEqual([
      ['state', 's1'],
      ['error', 'consent_required'],
    ]);
    await consent(oauth.generateAuthUrl({ scope: [OPENID] }));
    const again = await consent(silent);
    expect(again.get('code')).toBeTruthy();
    expect(again.get('prompt')).toBe('none');
  });

  it('lets the user remove the app (test control), after which the refresh token is refused', async () => {
    const client = await freshClient();
    const oauth = stockClient(emulator, client);
    const params = await consent(oauth.generateAuthUrl({ access_type: 'offline', scope: [OPENID] }));
    const { tokens } = await oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT });
    const revoked = await admin(emulator, 'POST', 'oauth/revoke-grant', {
      clientId: client.clientId,
      user: ADA.sub,
    });
    expect(revoked.status).toBe(204);
    oauth.setCredentials({ refresh_token: tokens.refresh_token });
    expect((await refusalOf(oauth.refreshAccessToken())).data).toMatchObject({ error: 'invalid_grant' });
    // A new consent starts a new grant, with a new refresh token.
    const again = await consent(oauth.generateAuthUrl({ access_type: 'offline', scope: [OPENID] }));
    expect(
      (await oauth.getToken({ code: again.get('code')!, redirect_uri: REDIRECT })).tokens.refresh_token,
    ).toBeDefined();
  });
});

describe('injected faults', () => {
  it('fails the token endpoint on demand: the stock client retries a 503, and gives up on a lasting one', async () => {
    const oauth = stockClient(emulator, seeded);
    const params = await consent(oauth.generateAuthUrl({ scope: [OPENID] }));
    emulator.faults.inject({ endpoint: 'oauth.token', times: Infinity, status: 503 });
    const failure = await refusalOf(oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT }));
    expect(failure.status).toBe(503);
    const attempts = emulator.faults.count('oauth.token');
    expect(attempts).toBeGreaterThan(1);

    emulator.faults.reset();
    emulator.faults.inject({ endpoint: 'oauth.token', times: 1, status: 503 });
    // The code was not spent by the failed calls; one 503 is retried through.
    const { tokens } = await oauth.getToken({ code: params.get('code')!, redirect_uri: REDIRECT });
    expect(tokens.access_token).toBeDefined();
    expect(emulator.faults.count('oauth.token')).toBe(2);
  });

  it.each(['oauth.authorize', 'oauth.revoke', 'oauth.userinfo', 'drive.about.get'])(
    'answers an injected 503 on %s',
    async (endpoint) => {
      emulator.faults.inject({ endpoint, times: 1, status: 503, retryAfterSeconds: 2 });
      const url = {
        'oauth.authorize': stockClient(emulator, seeded).generateAuthUrl({ scope: [OPENID] }),
        'oauth.revoke': `${emulator.revokeUrl}?token=x`,
        'oauth.userinfo': emulator.userinfoUrl,
        'drive.about.get': driveAboutUrl(),
      }[endpoint]!;
      const response = await fetch(url, {
        method: endpoint === 'oauth.revoke' ? 'POST' : 'GET',
        redirect: 'manual',
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('2');
      expect(emulator.faults.count(endpoint)).toBe(1);
    },
  );
});
