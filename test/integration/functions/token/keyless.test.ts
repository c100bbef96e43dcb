/**
 * Keyless minting end to end: the token function runs as `token-vendor@` (the emulated metadata
 * server's default identity, as on Cloud Functions) and mints through the emulated IAM
 * Credentials API; callers are `workload@`, with Google-signed ID tokens and Google access
 * tokens obtained outside this process's metadata server (which speaks for the function).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdTokenClient, Impersonated, OAuth2Client } from 'google-auth-library';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TOKEN_CREATOR_ROLE, type SeedInput } from '../../../../emulator/index.js';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const CP = 'https://www.googleapis.com/auth/cloud-platform';
const EMAIL_SCOPE = 'https://www.googleapis.com/auth/userinfo.email';
const sa = (name: string) => `${name}@tvs-local.iam.gserviceaccount.com`;
const TOKEN_VENDOR = sa('token-vendor');
const WORKLOAD = sa('workload');
const VERTEX = sa('vertex-caller');
const UNGRANTED = sa('ungranted');
const SHORT = sa('short-lived-caller');

const seed: SeedInput = {
  projectId: 'tvs-local',
  projectNumber: '123456789012',
  serviceAccounts: [TOKEN_VENDOR, WORKLOAD, VERTEX, UNGRANTED, SHORT].map((email) => ({ email })),
  // The function's runtime identity; the workload holds no IAM role on any target.
  metadata: { defaultServiceAccount: TOKEN_VENDOR },
  iamBindings: [
    { serviceAccount: VERTEX, member: `serviceAccount:${TOKEN_VENDOR}`, role: TOKEN_CREATOR_ROLE },
  ],
};

const policy = {
  version: 1,
  // No "backend": keyless is the default for new entries.
  serviceAccounts: { [VERTEX]: {}, [UNGRANTED]: { backend: 'keyless' } },
  rules: [
    {
      name: 'workload-keyless',
      caller: {
        issuer: 'https://accounts.google.com',
        email: WORKLOAD,
        credentials: ['id_token', 'access_token'],
      },
      serviceAccounts: [VERTEX, UNGRANTED],
      scopes: [CP],
      idTokenAudiences: ['https://example.com'],
    },
    {
      name: 'short-lived',
      caller: { issuer: 'https://accounts.google.com', email: SHORT },
      serviceAccounts: [VERTEX],
      scopes: [CP],
      maxLifetimeSeconds: 600,
    },
  ],
};

let stack: LocalStack;
let restoreEnv: () => void;
let audit: Capture;
let policyDir: string;

beforeAll(async () => {
  policyDir = mkdtempSync(join(tmpdir(), 'tvs-keyless-'));
  writeFileSync(join(policyDir, 'policy.json'), JSON.stringify(policy));
  audit = createCapture();
  stack = await startLocalStack({
    emulator: { seed },
    auditTransport: audit.stream,
    opsLogWrite: () => {},
    env: { TVS_POLICY_FILE: join(policyDir, 'policy.json'), TVS_UPSTREAM_DEADLINE_MS: '3000' },
  });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
  if (policyDir) rmSync(policyDir, { recursive: true, force: true });
});

beforeEach(() => {
  stack.emulator.faults.reset();
  stack.token.minter.cache.clear();
});

/** What a workload's own metadata server would give it: a Google-signed ID token for `audience`. */
function workloadIdToken(audience: string): Promise<string> {
  const subject = stack.emulator.state.serviceAccounts.get(WORKLOAD)!;
  return stack.emulator.state.signingKeys.signIdToken({ audience, subject, includeEmail: true });
}

/** Stock IdTokenClient whose ID tokens come from the workload's (not this process's) identity. */
function callerClient(audience = stack.tokenUrl): IdTokenClient {
  return new IdTokenClient({ targetAudience: audience, idTokenProvider: { fetchIdToken: workloadIdToken } });
}

const accessPath = (email: string) => `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`;
const idPath = (email: string) => `/v1/projects/-/serviceAccounts/${email}:generateIdToken`;

async function post(base: string, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await workloadIdToken(base)}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function auditEntries(): Promise<any[]> {
  await stack.token.flushAudit();
  return audit.entries().filter((e) => e.requestId);
}

describe('keyless minting with stock google-auth-library callers', () => {
  it('mints an access token through IAM Credentials, and tokeninfo confirms SA and scope', async () => {
    const res = await callerClient().request<{ accessToken: string; expireTime: string }>({
      url: `${stack.tokenUrl}${accessPath(VERTEX)}`,
      method: 'POST',
      data: { scope: [CP] },
    });
    expect(res.status).toBe(200);
    expect(Date.parse(res.data.expireTime)).toBeGreaterThan(Date.now() + 3500_000);
    const info = await (
      await fetch(`${stack.emulator.tokeninfoUrl}?access_token=${res.data.accessToken}`)
    ).json();
    expect(info).toMatchObject({
      azp: stack.emulator.state.serviceAccounts.get(VERTEX)!.uniqueId,
      scope: CP,
    });
    expect(stack.emulator.state.tokens.lookup(res.data.accessToken)?.issuedBy).toBe(
      'iamcredentials.generateAccessToken',
    );
    expect(stack.emulator.faults.count('iamcredentials.generateAccessToken')).toBe(1);
    expect(stack.emulator.faults.count('oauth.token')).toBe(0);
    expect((await auditEntries()).at(-1)).toMatchObject({
      decision: 'granted',
      cacheHit: false,
      target: { serviceAccount: VERTEX, backend: 'keyless' },
    });
  });

  it('mints access and ID tokens as the endpoint of the stock Impersonated client', async () => {
    const workloadAccess = stack.emulator.state.tokens.issue({
      email: WORKLOAD,
      scopes: [CP, EMAIL_SCOPE],
      issuedBy: 'test',
    });
    const sourceClient = new OAuth2Client();
    sourceClient.setCredentials({
      access_token: workloadAccess.value,
      expiry_date: workloadAccess.expiresAtMs,
    });
    const impersonated = new Impersonated({
      sourceClient,
      targetPrincipal: VERTEX,
      targetScopes: [CP],
      lifetime: 3600,
      delegates: [],
      endpoint: stack.tokenUrl,
    });

    const { token } = await impersonated.getAccessToken();
    expect(stack.emulator.state.tokens.lookup(token!)).toMatchObject({ email: VERTEX, scopes: [CP] });

    const idToken = await impersonated.fetchIdToken('https://example.com', { includeEmail: true });
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(stack.emulator.jwksUrl)), {
      issuer: 'https://accounts.google.com',
      audience: 'https://example.com',
    });
    expect(payload.email).toBe(VERTEX);
    const info = await (await fetch(`${stack.emulator.tokeninfoUrl}?id_token=${idToken}`)).json();
    expect(info).toMatchObject({ email: VERTEX, aud: 'https://example.com' });
    expect(stack.emulator.faults.count('iamcredentials.generateIdToken')).toBe(1);
  });

  it('serves the second request from the cache, audited as a cache hit', async () => {
    const first = await post(stack.tokenUrl, accessPath(VERTEX), { scope: [CP] });
    const second = await post(stack.tokenUrl, accessPath(VERTEX), { scope: [CP, CP] });
    expect(second.json.accessToken).toBe(first.json.accessToken);
    expect(stack.emulator.faults.count('iamcredentials.generateAccessToken')).toBe(1);
    expect((await auditEntries()).at(-1)).toMatchObject({
      decision: 'granted',
      cacheHit: true,
      target: { backend: 'keyless' },
    });
  });
});

describe('coalescing', () => {
  it('turns 1,000 concurrent cold requests into one generateAccessToken and one metadata token fetch', async () => {
    const fresh = await startLocalStack({
      emulator: stack.emulator,
      auditTransport: createCapture().stream,
      opsLogWrite: () => {},
      env: { TVS_POLICY_FILE: join(policyDir, 'policy.json') },
    });
    try {
      const authorization = `Bearer ${await workloadIdToken(fresh.tokenUrl)}`;
      stack.emulator.faults.reset();
      const results = await Promise.all(
        Array.from({ length: 1000 }, () =>
          fetch(`${fresh.tokenUrl}${accessPath(VERTEX)}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization },
            body: JSON.stringify({ scope: [CP] }),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { accessToken: string } })),
        ),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(new Set(results.map((r) => r.body.accessToken)).size).toBe(1);
      expect(stack.emulator.faults.count('iamcredentials.generateAccessToken')).toBe(1);
      expect(stack.emulator.faults.count('metadata.token')).toBe(1);
    } finally {
      await fresh.stop();
    }
  });
});

describe('refusals and upstream faults', () => {
  it.each<[string, string, unknown, string, string]>([
    [
      'an access token',
      accessPath(UNGRANTED),
      { scope: [CP] },
      'iam.serviceAccounts.getAccessToken',
      'iamcredentials.generateAccessToken',
    ],
    [
      'an ID token',
      idPath(UNGRANTED),
      { audience: 'https://example.com' },
      'iam.serviceAccounts.getOpenIdToken',
      'iamcredentials.generateIdToken',
    ],
  ])(
    'answers 403 KEYLESS_PERMISSION_DENIED for %s when the function lacks the grant, with one audit entry',
    async (_name, path, body, permission, endpoint) => {
      const before = (await auditEntries()).length;
      const res = await post(stack.tokenUrl, path, body);
      expect(res.status).toBe(403);
      expect(res.json.error).toMatchObject({
        code: 403,
        status: 'PERMISSION_DENIED',
        details: [
          { reason: 'KEYLESS_PERMISSION_DENIED', metadata: { permission, serviceAccount: UNGRANTED } },
        ],
      });
      expect(res.json.error.message).toBe(
        `The token service's identity lacks ${permission} on ${UNGRANTED} (grant it roles/iam.serviceAccountTokenCreator on that service account).`,
      );
      const after = await auditEntries();
      expect(after.length).toBe(before + 1);
      expect(after.at(-1)).toMatchObject({
        decision: 'denied',
        reason: 'KEYLESS_PERMISSION_DENIED',
        httpStatus: 403,
      });
      expect(stack.emulator.faults.count(endpoint)).toBe(1); // a refusal is final: no retry
    },
  );

  it('retries two 503s from IAM Credentials and then serves the token', async () => {
    stack.emulator.faults.inject({
      endpoint: 'iamcredentials.generateAccessToken',
      times: 2,
      status: 503,
      retryAfterSeconds: 0,
    });
    const res = await post(stack.tokenUrl, accessPath(VERTEX), { scope: [CP] });
    expect(res.status).toBe(200);
    expect(stack.emulator.faults.count('iamcredentials.generateAccessToken')).toBe(3);
  });

  it('answers 503 UNAVAILABLE within the deadline when IAM Credentials stays down', async () => {
    stack.emulator.faults.inject({
      endpoint: 'iamcredentials.generateAccessToken',
      times: Infinity,
      status: 503,
    });
    const started = Date.now();
    const res = await post(stack.tokenUrl, accessPath(VERTEX), { scope: [CP] });
    expect(res.status).toBe(503);
    expect(res.json.error.status).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(3000 + 1500); // the configured 3 s deadline plus scheduling slack
  });

  it('fetches a fresh own token from the metadata server after a 401 and retries', async () => {
    await post(stack.tokenUrl, accessPath(VERTEX), { scope: [CP] }); // warms the function's own token
    stack.token.minter.cache.clear();
    stack.emulator.faults.reset();
    stack.emulator.faults.inject({ endpoint: 'iamcredentials.generateAccessToken', times: 1, status: 401 });
    const res = await post(stack.tokenUrl, accessPath(VERTEX), { scope: [CP] });
    expect(res.status).toBe(200);
    expect(stack.emulator.faults.count('iamcredentials.generateAccessToken')).toBe(2);
    expect(stack.emulator.faults.count('metadata.token')).toBe(1);
  });

  it('never writes the minted tokens to the audit log', async () => {
    const access = await post(stack.tokenUrl, accessPath(VERTEX), { scope: [CP] });
    const id = await post(stack.tokenUrl, idPath(VERTEX), { audience: 'https://example.com' });
    await stack.token.flushAudit();
    for (const secret of [access.json.accessToken, id.json.token]) {
      expect(secret.length).toBeGreaterThan(20);
      expect(audit.text()).not.toContain(secret);
    }
  });
});

describe('lifetimes', () => {
  it.each([
    ['600s', 200],
    ['601s', 403],
  ])(
    'a rule capped at 600 s answers %s with %i, and IAM mints exactly the lifetime asked for',
    async (lifetime, status) => {
      const idToken = await stack.emulator.state.signingKeys.signIdToken({
        audience: stack.tokenUrl,
        subject: stack.emulator.state.serviceAccounts.get(SHORT)!,
        includeEmail: true,
      });
      const res = await fetch(`${stack.tokenUrl}${accessPath(VERTEX)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
        body: JSON.stringify({ scope: [CP], lifetime }),
      });
      expect(res.status).toBe(status);
      const body = await res.json();
      if (status === 403) {
        expect(body.error.details[0].reason).toBe('LIFETIME_EXCEEDS_POLICY');
        return;
      }
      const remainingSeconds = (Date.parse(body.expireTime) - Date.now()) / 1000;
      expect(remainingSeconds).toBeGreaterThan(600 - 60);
      expect(remainingSeconds).toBeLessThanOrEqual(600);
    },
  );

  it('never serves a token minted for a longer lifetime to a shorter request', async () => {
    const long = await workloadIdToken(stack.tokenUrl);
    const short = await stack.emulator.state.signingKeys.signIdToken({
      audience: stack.tokenUrl,
      subject: stack.emulator.state.serviceAccounts.get(SHORT)!,
      includeEmail: true,
    });
    const ask = (idToken: string, lifetime: string) =>
      fetch(`${stack.tokenUrl}${accessPath(VERTEX)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
        body: JSON.stringify({ scope: [CP], lifetime }),
      }).then((r) => r.json());
    const hour = await ask(long, '3600s');
    const tenMinutes = await ask(short, '600s');
    expect(tenMinutes.accessToken).not.toBe(hour.accessToken);
    expect(Date.parse(tenMinutes.expireTime)).toBeLessThan(Date.parse(hour.expireTime));
  });
});
