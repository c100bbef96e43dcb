/**
 * The emulated IAP: its published ES256 keys verify its assertions with the claims Google documents,
 * and the proxy strips client-sent IAP headers and asserts only the signed-in user.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  IAP_ISSUER,
  startEmulator,
  startIapProxy,
  type Emulator,
  type IapProxy,
} from '../../../emulator/index.js';

const AUDIENCE = '/projects/123456789012/global/backendServices/4242';
let emulator: Emulator;
let app: Server;
let proxy: IapProxy;
let seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  emulator = await startEmulator();
  app = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': 'a=b; Path=/' });
    res.end(`${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  proxy = await startIapProxy({
    state: emulator.state,
    target: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
    audience: AUDIENCE,
  });
});

afterAll(async () => {
  await proxy?.stop();
  app?.closeAllConnections();
  await new Promise((resolve) => app?.close(resolve));
  await emulator?.stop();
});

beforeEach(async () => {
  seen = [];
  await fetch(`${emulator.httpUrl}/__admin/iap/login`, { method: 'DELETE' });
});

async function login(user: string): Promise<void> {
  const res = await fetch(`${emulator.httpUrl}/__admin/iap/login`, {
    method: 'POST',
    body: JSON.stringify({ user }),
  });
  expect(res.status).toBe(200);
}

describe('emulated IAP', () => {
  it('publishes ES256 keys that verify its assertions, with the claims Google documents', async () => {
    const res = await fetch(`${emulator.httpUrl}/__admin/iap/assertion`, {
      method: 'POST',
      body: JSON.stringify({ user: 'ada@example.com', audience: AUDIENCE }),
    });
    const { assertion } = (await res.json()) as { assertion: string };
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'ES256', kid: expect.any(String) });
    const { payload } = await jwtVerify(assertion, createRemoteJWKSet(new URL(emulator.iapJwksUrl)), {
      algorithms: ['ES256'],
      issuer: IAP_ISSUER,
      audience: AUDIENCE,
    });
    expect(payload).toMatchObject({
      sub: 'accounts.google.com:110248495921238986420',
      email: 'ada@example.com',
    });
    expect(payload.exp! - payload.iat!).toBe(600);
    const pem = (await (await fetch(`${emulator.httpUrl}/iap/verify/public_key`)).json()) as Record<
      string,
      string
    >;
    expect(Object.values(pem)[0]).toContain('BEGIN PUBLIC KEY');
  });

  it('refuses everyone while nobody is signed in', async () => {
    const res = await fetch(`${proxy.url}/v1/consent`);
    expect(res.status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('forwards with a fresh assertion for the signed-in user and strips client-sent IAP headers', async () => {
    await login('grace@example.com');
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhY2NvdW50cy5nb29nbGUuY29tOjEifQ.';
    const res = await fetch(`${proxy.url}/v1/consent?x=1`, {
      headers: {
        'x-goog-iap-jwt-assertion': forged,
        'X-Goog-Authenticated-User-Email': 'accounts.google.com:ada@example.com',
        'x-other': 'kept',
      },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('GET /v1/consent?x=1');
    expect(res.headers.get('set-cookie')).toBe('a=b; Path=/');
    const headers = seen[0];
    expect(headers['x-other']).toBe('kept');
    expect(headers['x-goog-iap-jwt-assertion']).not.toBe(forged);
    expect(headers['x-goog-authenticated-user-email']).toBe('accounts.google.com:grace@example.com');
    const { payload } = await jwtVerify(
      headers['x-goog-iap-jwt-assertion'] as string,
      createRemoteJWKSet(new URL(emulator.iapJwksUrl)),
      { algorithms: ['ES256'], issuer: IAP_ISSUER, audience: AUDIENCE },
    );
    expect(payload.sub).toBe('accounts.google.com:117350918440571250137');
  });
});
