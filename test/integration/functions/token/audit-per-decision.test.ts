/**
 * Exactly one audit entry per decision, on every route and outcome: granted, denied, refused
 * before any decision (bad request, bad credential), and upstream errors. Each request carries its
 * own `X-Cloud-Trace-Context`, so its entries are found by trace id, whatever else ran.
 * The token function's own server, the real google-auth-library, the emulator, real sockets.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashClientSecret } from '../../../../functions/token/oauth/client-secret-hash.js';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const VERTEX = 'vertex-caller@tvs-local.iam.gserviceaccount.com';
const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const CLIENT_SECRET = 'YXVkaXQtcGVyLWRlY2lzaW9uLWNsaWVudC1zZWNyZXQtMzI';

let stack: LocalStack;
let audit: Capture;
let ops: Capture;
let dir: string;
let restoreEnv: () => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-audit-'));
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
        [VERTEX]: { backend: 'keyless' },
      },
      clients: { 'audit-client': { secretHash: await hashClientSecret(CLIENT_SECRET) } },
      rules: [
        {
          name: 'workload',
          caller: { issuer: 'https://accounts.google.com', email: WORKLOAD },
          serviceAccounts: [GEMINI, VERTEX],
          backend: 'any',
          scopes: [CP],
          idTokenAudiences: ['https://example.com'],
        },
        { name: 'client', caller: { client: 'audit-client' }, serviceAccounts: [GEMINI], scopes: [CP] },
      ],
    }),
  );
  audit = createCapture();
  ops = createCapture();
  stack = await startLocalStack({
    auditTransport: audit.stream,
    opsLogWrite: ops.write,
    env: { TVS_POLICY_FILE: policyFile, TVS_UPSTREAM_DEADLINE_MS: '1500' },
  });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
  await stack.token.keys.get('projects/tvs-local/secrets/gemini-caller-key/versions/current', GEMINI);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  stack.emulator.faults.reset();
  stack.token.minter.cache.clear();
});

let idToken: string | undefined;
/** The metadata identity's ID token for this service (fetched once: it lives an hour). */
async function workloadIdToken(): Promise<string> {
  if (idToken === undefined) {
    const client = await new GoogleAuth().getIdTokenClient(stack.tokenUrl);
    idToken = ((await client.getRequestHeaders()).get('authorization') ?? '').replace(/^Bearer /, '');
  }
  return idToken;
}

interface Sent {
  status: number;
  body: string;
  entries: any[];
}

/** Sends one request with a fresh trace id and returns the audit entries written for it. */
async function send(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
): Promise<Sent> {
  const traceId = randomBytes(16).toString('hex');
  const res = await fetch(`${stack.tokenUrl}${path}`, {
    method,
    headers: { 'x-cloud-trace-context': `${traceId}/1;o=1`, ...init.headers },
    body: init.body,
  });
  const body = await res.text();
  await stack.token.flushAudit();
  const entries = audit
    .entries()
    .filter((e) => e['logging.googleapis.com/trace'] === `projects/tvs-local/traces/${traceId}`);
  return { status: res.status, body, entries };
}

const json = (auth: string | undefined, body: unknown) => ({
  headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const form = (fields: Record<string, string>) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});
const accessPath = (sa: string) => `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`;
const idPath = (sa: string) => `/v1/projects/-/serviceAccounts/${sa}:generateIdToken`;
const clientForm = (extra: Record<string, string> = {}) =>
  form({
    grant_type: 'client_credentials',
    service_account: GEMINI,
    scope: CP,
    client_id: 'audit-client',
    client_secret: CLIENT_SECRET,
    ...extra,
  });

type Case = [
  string,
  (auth: string) => Promise<Sent>,
  number,
  { decision: string; reason: string; action: string },
];

describe('exactly one audit entry per decision', () => {
  it.each<Case>([
    [
      'a granted access token (key backend)',
      (a) => send('POST', accessPath(GEMINI), json(a, { scope: [CP] })),
      200,
      { decision: 'granted', reason: 'GRANTED', action: 'generateAccessToken' },
    ],
    [
      'a granted access token (keyless backend)',
      (a) => send('POST', accessPath(VERTEX), json(a, { scope: [CP] })),
      200,
      { decision: 'granted', reason: 'GRANTED', action: 'generateAccessToken' },
    ],
    [
      'a granted ID token',
      (a) => send('POST', idPath(GEMINI), json(a, { audience: 'https://example.com', includeEmail: true })),
      200,
      { decision: 'granted', reason: 'GRANTED', action: 'generateIdToken' },
    ],
    [
      'a policy denial of an access token',
      (a) =>
        send('POST', accessPath(GEMINI), json(a, { scope: ['https://www.googleapis.com/auth/gmail.send'] })),
      403,
      { decision: 'denied', reason: 'SCOPE_NOT_ALLOWED', action: 'generateAccessToken' },
    ],
    [
      'a policy denial of an ID token',
      (a) => send('POST', idPath(GEMINI), json(a, { audience: 'https://evil.example.com' })),
      403,
      { decision: 'denied', reason: 'AUDIENCE_NOT_ALLOWED', action: 'generateIdToken' },
    ],
    [
      'a request without a credential',
      () => send('POST', accessPath(GEMINI), json(undefined, { scope: [CP] })),
      401,
      { decision: 'denied', reason: 'CALLER_CREDENTIAL_MISSING', action: 'generateAccessToken' },
    ],
    [
      'a malformed body',
      (a) => send('POST', accessPath(GEMINI), json(a, '{"scope": [')),
      400,
      { decision: 'denied', reason: 'MALFORMED_JSON', action: 'generateAccessToken' },
    ],
    [
      'a client_credentials grant',
      () => send('POST', '/v1/token', clientForm()),
      200,
      { decision: 'granted', reason: 'GRANTED', action: 'oauthToken:client_credentials' },
    ],
    [
      'a wrong client secret',
      () => send('POST', '/v1/token', clientForm({ client_secret: `${CLIENT_SECRET}x` })),
      401,
      { decision: 'denied', reason: 'INVALID_CLIENT', action: 'oauthToken:client_credentials' },
    ],
    [
      'a scope the client may not have',
      () => send('POST', '/v1/token', clientForm({ scope: 'https://www.googleapis.com/auth/gmail.send' })),
      400,
      { decision: 'denied', reason: 'SCOPE_NOT_ALLOWED', action: 'oauthToken:client_credentials' },
    ],
    [
      'an unsupported grant type',
      () => send('POST', '/v1/token', form({ grant_type: 'password', service_account: GEMINI, scope: CP })),
      400,
      { decision: 'denied', reason: 'UNSUPPORTED_GRANT_TYPE', action: 'oauthToken:password' },
    ],
    [
      'an invalid subject token',
      () =>
        send(
          'POST',
          '/v1/token',
          form({
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            service_account: GEMINI,
            scope: CP,
            subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
            subject_token: 'not-a-jwt',
          }),
        ),
      400,
      {
        decision: 'denied',
        reason: expect.any(String),
        action: 'oauthToken:urn:ietf:params:oauth:grant-type:token-exchange',
      },
    ],
  ])('%s', async (_name, request, status, expected) => {
    const auth = await workloadIdToken();
    const sent = await request(auth);
    expect(sent.status, sent.body).toBe(status);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({ ...expected, httpStatus: status });
  });

  it.each<[string, string, string]>([
    ['the token endpoint is down (access token)', 'generateAccessToken', 'oauth.token'],
    ['the token endpoint is down (OAuth)', 'oauthToken:client_credentials', 'oauth.token'],
  ])('an upstream error: %s', async (_name, action, endpoint) => {
    const auth = await workloadIdToken();
    stack.emulator.faults.inject({ endpoint, times: Infinity, status: 503 });
    const sent =
      action === 'generateAccessToken'
        ? await send('POST', accessPath(GEMINI), json(auth, { scope: [CP] }))
        : await send('POST', '/v1/token', clientForm());
    expect(sent.status).toBe(503);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({ decision: 'error', action, httpStatus: 503 });
  });

  it('a cached grant is audited once, as a cache hit', async () => {
    const auth = await workloadIdToken();
    await send('POST', accessPath(GEMINI), json(auth, { scope: [CP] }));
    const second = await send('POST', accessPath(GEMINI), json(auth, { scope: [CP] }));
    expect(second.status).toBe(200);
    expect(second.entries).toHaveLength(1);
    expect(second.entries[0]).toMatchObject({
      decision: 'granted',
      cacheHit: true,
      tokenFingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
  });

  it.each([
    ['an unknown path', 'GET', '/v2/whatever', 404],
    ['a wrong method', 'GET', accessPath(GEMINI), 405],
    ['the health check', 'GET', '/healthz', 200],
  ])('%s decides nothing and writes no audit entry', async (_name, method, path, status) => {
    const sent = await send(method, path);
    expect(sent.status).toBe(status);
    expect(sent.entries).toHaveLength(0);
  });

  it('never writes the minted token, the caller credential or the client secret, only fingerprints', async () => {
    const auth = await workloadIdToken();
    const access = await send('POST', accessPath(GEMINI), json(auth, { scope: [CP] }));
    const id = await send('POST', idPath(GEMINI), json(auth, { audience: 'https://example.com' }));
    const oauth = await send('POST', '/v1/token', clientForm());
    const issued = [
      JSON.parse(access.body).accessToken,
      JSON.parse(id.body).token,
      JSON.parse(oauth.body).access_token,
    ] as string[];
    const logs = audit.text() + ops.text();
    for (const secret of [...issued, auth, CLIENT_SECRET]) {
      expect(secret.length).toBeGreaterThan(20);
      expect(logs).not.toContain(secret);
    }
    const { createHash } = await import('node:crypto');
    for (const [sent, token] of [
      [access, issued[0]],
      [id, issued[1]],
      [oauth, issued[2]],
    ] as const) {
      expect(sent.entries[0].tokenFingerprint).toBe(
        `sha256:${createHash('sha256').update(token).digest('hex')}`,
      );
    }
  });
});
