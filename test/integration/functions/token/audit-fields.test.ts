/**
 * Issue 16, through the real stack: a `traceparent` puts trace, spanId and trace_sampled on the
 * audit entry; a cache miss carries `mint` (backend, latency, attempts >= 1), a hit none; an
 * upstream outage names the upstream.
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
  dir = mkdtempSync(join(tmpdir(), 'tvs-audit-fields-'));
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

const accessPath = (sa: string) => `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`;

async function send(sa: string, sampled: '00' | '01' = '01') {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const res = await fetch(`${stack.tokenUrl}${accessPath(sa)}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await workloadIdToken()}`,
      traceparent: `00-${traceId}-${spanId}-${sampled}`,
    },
    body: JSON.stringify({ scope: [CP] }),
  });
  await res.text();
  await stack.token.flushAudit();
  const entries = audit
    .entries()
    .filter((e) => e['logging.googleapis.com/trace'] === `projects/tvs-local/traces/${traceId}`);
  return { status: res.status, entries, spanId };
}

describe('issue 16 audit fields', () => {
  it('traceparent: the entry carries trace, spanId and trace_sampled', async () => {
    const sent = await send(VERTEX, '00');
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]['logging.googleapis.com/spanId']).toBe(sent.spanId);
    expect(sent.entries[0]['logging.googleapis.com/trace_sampled']).toBe(false);
  });

  it.each([
    [GEMINI, 'key'],
    [VERTEX, 'keyless'],
  ])('a miss for %s carries mint (backend %s, attempts >= 1); the hit after it none', async (sa, backend) => {
    const miss = await send(sa);
    expect(miss.status).toBe(200);
    expect(miss.entries[0]).toMatchObject({ cacheHit: false, mint: { backend } });
    expect(miss.entries[0].mint.attempts).toBeGreaterThanOrEqual(1);
    expect(miss.entries[0].mint.latencyMs).toBeGreaterThanOrEqual(0);
    expect(miss.entries[0]['logging.googleapis.com/trace_sampled']).toBe(true);
    const hit = await send(sa);
    expect(hit.entries[0]).toMatchObject({ cacheHit: true });
    expect(hit.entries[0]).not.toHaveProperty('mint');
  });

  it('the token endpoint down: the error entry names upstream token_endpoint, with the attempts made', async () => {
    stack.emulator.faults.inject({ endpoint: 'oauth.token', times: Infinity, status: 503 });
    const sent = await send(GEMINI);
    expect(sent.status).toBe(503);
    expect(sent.entries[0]).toMatchObject({
      decision: 'error',
      upstream: 'token_endpoint',
      mint: { backend: 'key' },
    });
    expect(sent.entries[0].mint.attempts).toBeGreaterThanOrEqual(1);
  });
});
