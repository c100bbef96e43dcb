/**
 * A policy that cannot be re-read fails closed after its maximum staleness, over HTTP: the token
 * function with a policy file that goes bad, then good again (TTL and maximum staleness at their
 * 5 s minimum; the test waits on conditions, never a fixed time).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_POLICY_FILE, startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GOOD = readFileSync(DEMO_POLICY_FILE, 'utf8');
// Not JSON, with something that looks like a secret the log must not quote.
const BAD = '{"version": 1, "clients": {"ci": {"secretSha256": deadbeef-not-json-policy-text}}}';

let stack: LocalStack;
let ops: Capture;
let audit: Capture;
let dir: string;
let policyFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-stale-'));
  policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, GOOD);
  ops = createCapture();
  audit = createCapture();
  stack = await startLocalStack({
    auditTransport: audit.stream,
    opsLogWrite: ops.write,
    env: { TVS_POLICY_FILE: policyFile, TVS_POLICY_TTL_SECONDS: '5', TVS_POLICY_MAX_STALENESS_SECONDS: '5' },
  });
});

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function accessToken(): Promise<{ status: number; json: any; retryAfter: string | null }> {
  const workload = stack.emulator.state.serviceAccounts.get('workload@tvs-local.iam.gserviceaccount.com')!;
  const idToken = await stack.emulator.state.signingKeys.signIdToken({
    audience: stack.tokenUrl,
    subject: workload,
    includeEmail: true,
  });
  const res = await fetch(`${stack.tokenUrl}/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
    body: JSON.stringify({ scope: [CP] }),
  });
  return { status: res.status, json: await res.json(), retryAfter: res.headers.get('retry-after') };
}

const events = (name: string) => ops.entries().filter((e) => e.event === name);

describe('policy staleness over HTTP', () => {
  it('serves while the policy is good, refuses with 503 POLICY_STALE once a bad policy outlives the maximum staleness, and recovers on the next good read', async () => {
    expect((await accessToken()).status).toBe(200);
    writeFileSync(policyFile, BAD);

    await expect.poll(async () => (await accessToken()).status, { timeout: 20_000, interval: 250 }).toBe(503);
    const refused = await accessToken();
    expect(refused.json).toMatchObject({
      error: { code: 503, status: 'UNAVAILABLE', details: [{ reason: 'POLICY_STALE' }] },
    });
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);

    // The OAuth endpoint is refused too (the client cannot even be checked against a stale policy).
    const oauth = await fetch(`${stack.tokenUrl}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'ci',
        client_secret: 'x'.repeat(43),
        service_account: GEMINI,
        scope: CP,
      }).toString(),
    });
    expect(oauth.status).toBe(503);
    expect(await oauth.json()).toMatchObject({ error: 'temporarily_unavailable' });

    const failed = events('policy_reload_failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({
      severity: 'ERROR',
      component: 'token',
      source: `file ${policyFile}`,
      maxStalenessSeconds: 5,
      error: expect.stringMatching(/not valid JSON/),
    });
    expect(events('policy_stale')).toEqual([
      expect.objectContaining({ severity: 'CRITICAL', stale: true, lastGoodAgeSeconds: expect.any(Number) }),
    ]);
    expect(ops.text()).not.toContain('deadbeef');

    writeFileSync(policyFile, GOOD);
    await expect.poll(async () => (await accessToken()).status, { timeout: 10_000, interval: 250 }).toBe(200);
    expect(events('policy_recovered')).toEqual([
      expect.objectContaining({ severity: 'NOTICE', stale: false, consecutiveFailures: 0 }),
    ]);

    await stack.token.flushAudit();
    expect(audit.entries().filter((e) => e.reason === 'POLICY_STALE').length).toBeGreaterThanOrEqual(2);
  }, 40_000);
});
