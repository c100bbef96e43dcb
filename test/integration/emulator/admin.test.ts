import { createPrivateKey } from 'node:crypto';
import { JWT } from 'google-auth-library';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type CreatedKey, type Emulator } from '../../../emulator/index.js';

const PROJECT = 'tvs-admin-test';
const CALLER = `caller@${PROJECT}.iam.gserviceaccount.com`;
const SECOND = `second@${PROJECT}.iam.gserviceaccount.com`;
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

let emulator: Emulator;
let key: CreatedKey;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: PROJECT,
      projectNumber: '999000111222',
      serviceAccounts: [{ email: CALLER }, { email: SECOND }],
      metadata: { defaultServiceAccount: CALLER },
    },
  });
  key = await emulator.state.serviceAccounts.createKey(CALLER);
});

afterAll(async () => {
  await emulator?.stop();
});

beforeEach(async () => {
  await admin('POST', 'reset');
});

function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${emulator.httpUrl}/__admin/${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

async function validAssertion(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: CALLER,
    scope: 'https://www.googleapis.com/auth/cloud-platform',
    aud: GOOGLE_TOKEN_URL,
    iat: now,
    exp: now + 3600,
  })
    .setProtectedHeader({ alg: 'RS256', kid: key.keyId })
    .sign(createPrivateKey(key.keyFile.private_key));
}

async function requestToken(): Promise<Response> {
  return fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await validAssertion(),
    }).toString(),
  });
}

describe('fault injection over the admin API', () => {
  it('answers the next N token requests with 503, Retry-After and Google’s body, then serves normally', async () => {
    expect(
      (
        await admin('POST', 'faults', {
          endpoint: 'oauth.token',
          times: 2,
          status: 503,
          retryAfterSeconds: 7,
        })
      ).status,
    ).toBe(204);

    for (let i = 0; i < 2; i++) {
      const response = await requestToken();
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('7');
      expect(await response.json()).toEqual({
        error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
      });
    }
    const response = await requestToken();
    expect(response.status).toBe(200);
    expect(((await response.json()) as { token_type: string }).token_type).toBe('Bearer');
    expect(emulator.faults.count('oauth.token')).toBe(3);
  });

  it('lets the stock JWT client retry through an injected 503', async () => {
    emulator.faults.inject({ endpoint: 'oauth.token', times: 1, status: 503, retryAfterSeconds: 0 });
    const client = new JWT({
      email: CALLER,
      key: key.keyFile.private_key,
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    });
    client.transporter.interceptors.request.add({
      resolved: (config) => {
        if (config.url.href === GOOGLE_TOKEN_URL) config.url = new URL(emulator.tokenUrl);
        return Promise.resolve(config);
      },
    });
    const { token } = await client.getAccessToken();
    expect(emulator.state.tokens.lookup(token!)?.email).toBe(CALLER);
    expect(emulator.faults.count('oauth.token')).toBe(2);
  });

  it('delays the answer by the injected latency and then serves normally', async () => {
    await admin('POST', 'faults', { endpoint: 'oauth.certs', times: 1, latencyMs: 300 });
    const started = performance.now();
    const response = await fetch(emulator.jwksUrl);
    const elapsedMs = performance.now() - started;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    expect(elapsedMs).toBeGreaterThanOrEqual(290);
  });

  it('destroys the connection for a reset fault', async () => {
    await admin('POST', 'faults', { endpoint: 'oauth.tokeninfo', times: 1, reset: true });
    await expect(fetch(`${emulator.tokeninfoUrl}?access_token=x`)).rejects.toThrow(TypeError);
    const after = await fetch(`${emulator.tokeninfoUrl}?access_token=x`);
    expect(after.status).toBe(400);
  });

  it('answers 200 with the raw body of a rawBody fault', async () => {
    await admin('POST', 'faults', { endpoint: 'oauth.certs', times: 1, rawBody: '{"keys": [' });
    const response = await fetch(emulator.jwksUrl);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('{"keys": [');
  });

  it('applies faults injected in process through emulator.faults', async () => {
    emulator.faults.inject({ endpoint: 'metadata.token', times: 1, status: 429 });
    const response = await fetch(
      `http://${emulator.metadataHost}/computeMetadata/v1/instance/service-accounts/default/token`,
      { headers: { 'Metadata-Flavor': 'Google' } },
    );
    expect(response.status).toBe(429);
    expect(response.headers.get('metadata-flavor')).toBe('Google');
    expect(((await response.json()) as { error: { status: string } }).error.status).toBe(
      'RESOURCE_EXHAUSTED',
    );
  });

  it('refuses a malformed fault rule with 400', async () => {
    const response = await admin('POST', 'faults', { endpoint: '', times: 0 });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { status: string } }).error.status).toBe('INVALID_ARGUMENT');
  });
});

describe('counters and reset', () => {
  it('counts every Google call once and never counts admin calls or unknown paths', async () => {
    await fetch(emulator.jwksUrl);
    await fetch(emulator.jwksUrl);
    await fetch(`${emulator.tokeninfoUrl}?access_token=x`);
    await fetch(`${emulator.httpUrl}/no/such/path`);
    await admin('GET', 'counters');

    const response = await admin('GET', 'counters');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ 'oauth.certs': 2, 'oauth.tokeninfo': 1 });
  });

  it('clears counters and pending faults on reset', async () => {
    await admin('POST', 'faults', { endpoint: 'oauth.certs', times: 'Infinity', status: 500 });
    expect((await fetch(emulator.jwksUrl)).status).toBe(500);

    expect((await admin('POST', 'reset')).status).toBe(204);

    expect(await (await admin('GET', 'counters')).json()).toEqual({});
    expect((await fetch(emulator.jwksUrl)).status).toBe(200);
  });
});

describe('metadata identity switch', () => {
  it('switches the identity the metadata server speaks for', async () => {
    const email = (): Promise<string> =>
      fetch(`http://${emulator.metadataHost}/computeMetadata/v1/instance/service-accounts/default/email`, {
        headers: { 'Metadata-Flavor': 'Google' },
      }).then((r) => r.text());
    expect(await email()).toBe(CALLER);
    expect((await admin('POST', 'metadata/default-service-account', { email: SECOND })).status).toBe(204);
    expect(await email()).toBe(SECOND);
    expect(emulator.state.metadata.defaultServiceAccount).toBe(SECOND);
    emulator.state.metadata.defaultServiceAccount = CALLER;
    expect(await email()).toBe(CALLER);
  });

  it('refuses an unknown service account with 404', async () => {
    const response = await admin('POST', 'metadata/default-service-account', {
      email: `ghost@${PROJECT}.iam.gserviceaccount.com`,
    });
    expect(response.status).toBe(404);
    expect(emulator.state.metadata.defaultServiceAccount).toBe(CALLER);
  });
});

describe('unknown paths', () => {
  it('answer Google’s JSON 404', async () => {
    const response = await fetch(`${emulator.httpUrl}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: {
        code: 404,
        message: 'The requested URL /v1/nothing-here was not found on this server.',
        status: 'NOT_FOUND',
      },
    });
  });
});
