/**
 * `POST /v1/token` end to end: client_credentials (basic and post) and RFC 8693 token exchange
 * with an external OIDC issuer whose JWKS is served by this test, over real sockets.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashClientSecret } from '../../../../functions/token/oauth/client-secret-hash.js';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const ISSUER = 'https://ci.example.test';
const CLIENT_SECRET = 'c2VjcmV0LWZvci10ZXN0cy1vbmx5LTMyLWJ5dGVzLWxvbmc';
/** A second client, only for the throttling tests (they lock it out). */
const LOCKED_SECRET = 'bG9ja2VkLW91dC1jbGllbnQtc2VjcmV0LWZvci10ZXN0cw';
const MAX_FAILURES = 4;

let stack: LocalStack;
let jwksServer: Server;
let dir: string;
let audit: Capture;
let signingKey: CryptoKey;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  signingKey = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'ci-1', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;

  dir = mkdtempSync(join(tmpdir(), 'tvs-policy-'));
  const policyFile = join(dir, 'policy.json');
  writeFileSync(
    policyFile,
    JSON.stringify({
      version: 1,
      serviceAccounts: {
        [GEMINI]: {
          backend: 'key',
          keySecret: 'projects/tvs-local/secrets/gemini-caller-key/versions/current',
        },
      },
      clients: {
        'nightly-batch': { secretHash: await hashClientSecret(CLIENT_SECRET) },
        'locked-out': { secretHash: await hashClientSecret(LOCKED_SECRET) },
        'victim-a': { secretHash: await hashClientSecret(`${LOCKED_SECRET}-a`) },
        'victim-b': { secretHash: await hashClientSecret(`${LOCKED_SECRET}-b`) },
      },
      rules: [
        { name: 'batch', caller: { client: 'nightly-batch' }, serviceAccounts: [GEMINI], scopes: [CP] },
        { name: 'locked-out', caller: { client: 'locked-out' }, serviceAccounts: [GEMINI], scopes: [CP] },
        {
          name: 'ci-main',
          caller: { issuer: ISSUER, subject: 'repo:org/*:ref:refs/heads/main' },
          serviceAccounts: [GEMINI],
          scopes: [CP],
          maxLifetimeSeconds: 3600,
        },
        {
          name: 'workload',
          caller: {
            issuer: 'https://accounts.google.com',
            email: 'workload@tvs-local.iam.gserviceaccount.com',
          },
          serviceAccounts: [GEMINI],
          scopes: [CP],
        },
      ],
    }),
  );
  audit = createCapture();
  stack = await startLocalStack({
    auditTransport: audit.stream,
    opsLogWrite: () => {},
    env: {
      TVS_POLICY_FILE: policyFile,
      TVS_OIDC_ISSUERS: JSON.stringify([{ issuer: ISSUER, jwksUri, audiences: ['tvs-exchange'] }]),
      TVS_UPSTREAM_DEADLINE_MS: '2000',
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: String(MAX_FAILURES),
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '600',
    },
  });
  // Load the key once, so the short deadline above measures upstream faults, not the lazy client import.
  await stack.token.keys.get('projects/tvs-local/secrets/gemini-caller-key/versions/current', GEMINI);
});

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => jwksServer?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  stack.emulator.faults.reset();
  stack.token.minter.cache.clear();
});

async function token(
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${stack.tokenUrl}/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const ciToken = (sub: string, aud = 'tvs-exchange') =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'ci-1', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setSubject(sub)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(signingKey);

describe('client_credentials', () => {
  it.each([
    [
      'client_secret_basic',
      { grant_type: 'client_credentials', service_account: GEMINI, scope: CP },
      { authorization: basic('nightly-batch', CLIENT_SECRET) },
    ],
    [
      'client_secret_post',
      {
        grant_type: 'client_credentials',
        service_account: GEMINI,
        scope: CP,
        client_id: 'nightly-batch',
        client_secret: CLIENT_SECRET,
      },
      {},
    ],
  ])('issues an RFC 6749 token response with %s', async (_name, form, headers) => {
    const res = await token(form, headers);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: 'Bearer', scope: CP });
    expect(res.json.expires_in).toBeGreaterThan(3500);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(stack.emulator.state.tokens.lookup(res.json.access_token)).toMatchObject({
      email: GEMINI,
      scopes: [CP],
    });
  });

  it.each<[string, Record<string, string>, Record<string, string>, number, string]>([
    [
      'a wrong secret',
      { grant_type: 'client_credentials', service_account: GEMINI, scope: CP },
      { authorization: basic('nightly-batch', 'wrong') },
      401,
      'invalid_client',
    ],
    [
      'an unknown client',
      {
        grant_type: 'client_credentials',
        service_account: GEMINI,
        scope: CP,
        client_id: 'nobody',
        client_secret: CLIENT_SECRET,
      },
      {},
      401,
      'invalid_client',
    ],
    [
      'no client authentication',
      { grant_type: 'client_credentials', service_account: GEMINI, scope: CP },
      {},
      401,
      'invalid_client',
    ],
    [
      'two authentication methods',
      {
        grant_type: 'client_credentials',
        service_account: GEMINI,
        scope: CP,
        client_id: 'nightly-batch',
        client_secret: CLIENT_SECRET,
      },
      { authorization: basic('nightly-batch', CLIENT_SECRET) },
      400,
      'invalid_request',
    ],
    [
      'an unsupported grant type',
      { grant_type: 'password', service_account: GEMINI, scope: CP },
      {},
      400,
      'unsupported_grant_type',
    ],
    [
      'a missing service_account',
      {
        grant_type: 'client_credentials',
        scope: CP,
        client_id: 'nightly-batch',
        client_secret: CLIENT_SECRET,
      },
      {},
      400,
      'invalid_request',
    ],
    [
      'a scope the policy does not grant',
      {
        grant_type: 'client_credentials',
        service_account: GEMINI,
        scope: 'https://www.googleapis.com/auth/gmail.send',
        client_id: 'nightly-batch',
        client_secret: CLIENT_SECRET,
      },
      {},
      400,
      'invalid_scope',
    ],
    [
      'a service account the policy does not grant',
      {
        grant_type: 'client_credentials',
        service_account: 'other@tvs-local.iam.gserviceaccount.com',
        scope: CP,
        client_id: 'nightly-batch',
        client_secret: CLIENT_SECRET,
      },
      {},
      400,
      'invalid_target',
    ],
  ])('refuses %s', async (_name, form, headers, status, error) => {
    const res = await token(form, headers);
    expect(res.status).toBe(status);
    expect(res.json.error).toBe(error);
    expect(typeof res.json.error_description).toBe('string');
    if (error === 'invalid_client') expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(JSON.stringify(res.json)).not.toContain(CLIENT_SECRET);
    expect(stack.emulator.faults.count('oauth.token')).toBe(0);
  });

  it('refuses a repeated parameter (RFC 6749 §3.2)', async () => {
    const res = await fetch(`${stack.tokenUrl}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&scope=${encodeURIComponent(CP)}&scope=x&service_account=${GEMINI}&client_id=nightly-batch&client_secret=${CLIENT_SECRET}`,
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe('invalid_request');
  });

  it('answers 503 temporarily_unavailable when Google stays down', async () => {
    stack.emulator.faults.inject({ endpoint: 'oauth.token', times: Infinity, status: 503 });
    const res = await token(
      { grant_type: 'client_credentials', service_account: GEMINI, scope: CP },
      { authorization: basic('nightly-batch', CLIENT_SECRET) },
    );
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('temporarily_unavailable');
  });

  it('never logs the client secret', async () => {
    await token(
      { grant_type: 'client_credentials', service_account: GEMINI, scope: CP },
      { authorization: basic('nightly-batch', CLIENT_SECRET) },
    );
    await token({
      grant_type: 'client_credentials',
      service_account: GEMINI,
      scope: CP,
      client_id: 'nightly-batch',
      client_secret: `${CLIENT_SECRET}x`,
    });
    await stack.token.flushAudit();
    expect(audit.text()).toContain('nightly-batch');
    expect(audit.text()).not.toContain(CLIENT_SECRET);
  });
});

describe('client_credentials: failed attempts are throttled per client id', () => {
  const attempt = (clientId: string, secret: string) =>
    token(
      { grant_type: 'client_credentials', service_account: GEMINI, scope: CP },
      { authorization: basic(clientId, secret) },
    );
  /** What an attacker sees of an answer: status, body and every header but the date. */
  const visible = (res: { status: number; json: any; headers: Headers }) => ({
    status: res.status,
    json: res.json,
    headers: Object.fromEntries(
      [...(res.headers as unknown as Iterable<[string, string]>)].filter(
        ([name]) => !['date', 'retry-after'].includes(name),
      ),
    ),
    retryAfter: res.headers.get('retry-after') === null ? null : 'present',
  });

  it('answers 429 invalid_client with Retry-After after K failures, even to the right secret', async () => {
    for (let i = 0; i < MAX_FAILURES; i++)
      expect((await attempt('locked-out', `guess-${i}-of-an-attacker`)).status).toBe(401);
    const refused = await attempt('locked-out', LOCKED_SECRET);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({
      error: 'invalid_client',
      error_description: expect.stringMatching(/too many failed/i),
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    // Another client is not affected.
    expect((await attempt('nightly-batch', CLIENT_SECRET)).status).toBe(200);
    await stack.token.flushAudit();
    // One audit entry per decision, denials included.
    const entries = audit.entries().filter((e) => e.caller?.clientId === 'locked-out');
    expect(entries).toHaveLength(MAX_FAILURES + 1);
    expect(entries.at(-1)).toMatchObject({
      decision: 'denied',
      reason: 'CLIENT_AUTH_THROTTLED',
      httpStatus: 429,
    });
    expect(entries.slice(0, -1).every((e) => e.reason === 'INVALID_CLIENT' && e.httpStatus === 401)).toBe(
      true,
    );
    expect(audit.text()).not.toContain(LOCKED_SECRET);
    expect(audit.text()).not.toContain('-of-an-attacker');
  });

  it('answers an unknown client id exactly as a known one, before and after the lockout', async () => {
    const known: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i <= MAX_FAILURES + 1; i++) {
      known.push(visible(await attempt('victim-a', `guess-${i}`)));
      unknown.push(visible(await attempt('no-such-client', `guess-${i}`)));
    }
    expect(unknown).toEqual(known);
    expect(known.map((k: any) => k.status)).toEqual([...Array(MAX_FAILURES).fill(401), 429, 429]);
  });

  it('answers a known id with a wrong secret exactly as an unknown id', async () => {
    const known = visible(await attempt('victim-b', 'not-the-secret'));
    const unknown = visible(await attempt('nobody-at-all', 'not-the-secret'));
    expect(unknown).toEqual(known);
    expect(known).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
  });
});

describe('token exchange (RFC 8693)', () => {
  const exchange = (subjectToken: string, extra: Record<string, string> = {}) =>
    token({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      service_account: GEMINI,
      scope: CP,
      ...extra,
    });

  it('exchanges a CI OIDC token for a Google access token', async () => {
    const res = await exchange(await ciToken('repo:org/app:ref:refs/heads/main'));
    expect(res.status).toBe(200);
    expect(res.json.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect(stack.emulator.state.tokens.lookup(res.json.access_token)).toMatchObject({ email: GEMINI });
  });

  it.each<[string, () => Promise<string>, Record<string, string>, string]>([
    [
      'a branch the policy does not allow',
      () => ciToken('repo:org/app:ref:refs/heads/dev'),
      {},
      'invalid_grant',
    ],
    [
      'an actor token (delegation)',
      () => ciToken('repo:org/app:ref:refs/heads/main'),
      { actor_token: 'x', actor_token_type: 'urn:ietf:params:oauth:token-type:jwt' },
      'invalid_request',
    ],
    [
      'a subject token for another audience',
      () => ciToken('repo:org/app:ref:refs/heads/main', 'someone-else'),
      {},
      'invalid_grant',
    ],
    ['a garbage subject token', () => Promise.resolve('not-a-jwt'), {}, 'invalid_grant'],
    [
      'an unsupported subject token type',
      () => ciToken('repo:org/app:ref:refs/heads/main'),
      { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
      'invalid_request',
    ],
    [
      'a requested refresh token',
      () => ciToken('repo:org/app:ref:refs/heads/main'),
      { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' },
      'invalid_request',
    ],
  ])('refuses %s', async (_name, subject, extra, error) => {
    const res = await exchange(await subject(), extra);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe(error);
  });
});

describe('lifetimes of key-minted tokens', () => {
  it.each([
    ['3600s', 200, undefined],
    ['600s', 400, 'LIFETIME_NOT_SUPPORTED_BY_BACKEND'],
  ])(
    'a key-backed service account answers lifetime %s with %i (jwt-bearer tokens live one hour)',
    async (lifetime, status, reason) => {
      const subject = stack.emulator.state.serviceAccounts.get('workload@tvs-local.iam.gserviceaccount.com')!;
      const idToken = await stack.emulator.state.signingKeys.signIdToken({
        audience: stack.tokenUrl,
        subject,
        includeEmail: true,
      });
      const res = await fetch(
        `${stack.tokenUrl}/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
          body: JSON.stringify({ scope: [CP], lifetime }),
        },
      );
      expect(res.status).toBe(status);
      if (reason) expect((await res.json()).error.details[0].reason).toBe(reason);
    },
  );
});
