/**
 * Quotas end to end: the token function's own server, the emulator, real sockets. A burst from
 * one caller gets 429 RESOURCE_EXHAUSTED with Retry-After while another caller is served; each
 * refused request writes exactly one audit entry and mints nothing (the emulator's IAM Credentials
 * counters); a caller served from the cache is not charged mints; varying the audience or the
 * lifetime stops at the distinct-token cap; /v1/token answers in its own wire format; failed client
 * authentications are throttled per source, which a forged leftmost X-Forwarded-For cannot change.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TOKEN_CREATOR_ROLE, type SeedInput } from '../../../../emulator/index.js';
import { hashClientSecret } from '../../../../functions/token/oauth/client-secret-hash.js';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const CP = 'https://www.googleapis.com/auth/cloud-platform';
const sa = (name: string) => `${name}@tvs-local.iam.gserviceaccount.com`;
const TOKEN_VENDOR = sa('token-vendor');
const TARGET = sa('vertex-caller');
const CALLER_A = sa('caller-a');
const CALLER_B = sa('caller-b');
const HITTER = sa('hitter');
const VARIER = sa('varier');
const RELOADED = sa('reloaded');
const CLIENT_SECRET = 'cXVvdGFzLWludGVncmF0aW9uLWNsaWVudC1zZWNyZXQtMzI';

const seed: SeedInput = {
  projectId: 'tvs-local',
  projectNumber: '123456789012',
  serviceAccounts: [TOKEN_VENDOR, TARGET, CALLER_A, CALLER_B, HITTER, VARIER, RELOADED].map((email) => ({
    email,
  })),
  metadata: { defaultServiceAccount: TOKEN_VENDOR },
  iamBindings: [
    { serviceAccount: TARGET, member: `serviceAccount:${TOKEN_VENDOR}`, role: TOKEN_CREATOR_ROLE },
  ],
};

const google = (email: string) => ({ issuer: 'https://accounts.google.com', email });

let stack: LocalStack;
let audit: Capture;
let dir: string;
let restoreEnv: () => void;
let writePolicy: (description: string) => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-quotas-'));
  const policyFile = join(dir, 'policy.json');
  const secretHash = await hashClientSecret(CLIENT_SECRET);
  writePolicy = (description: string) =>
    writeFileSync(
      policyFile,
      JSON.stringify({
        version: 1,
        serviceAccounts: { [TARGET]: {} },
        clients: { 'quota-client': { secretHash } },
        // Every caller: 5 requests at once, then one every 12 s.
        limits: { requestsPerMinute: 5, mintsPerMinute: 3, distinctTokensPerHour: 10 },
        rules: [
          {
            name: 'workloads',
            caller: google('caller-*@tvs-local.iam.gserviceaccount.com'),
            serviceAccounts: [TARGET],
            scopes: [CP],
          },
          {
            name: 'hits',
            caller: google(HITTER),
            serviceAccounts: [TARGET],
            scopes: [CP, 'https://www.googleapis.com/auth/*'],
            limits: { requestsPerMinute: 1000, mintsPerMinute: 2 },
          },
          {
            name: 'varier',
            caller: google(VARIER),
            serviceAccounts: [TARGET],
            scopes: [CP],
            idTokenAudiences: ['https://*.a.run.app'],
            limits: { requestsPerMinute: 1000, mintsPerMinute: 1000, distinctTokensPerHour: 3 },
          },
          {
            name: 'reloaded',
            description,
            caller: google(RELOADED),
            serviceAccounts: [TARGET],
            scopes: [CP],
            limits: { requestsPerMinute: 1 },
          },
          {
            name: 'client',
            caller: { client: 'quota-client' },
            serviceAccounts: [TARGET],
            scopes: [CP],
            limits: { requestsPerMinute: 1 },
          },
        ],
      }),
    );
  writePolicy('before');
  audit = createCapture();
  stack = await startLocalStack({
    emulator: { seed },
    auditTransport: audit.stream,
    opsLogWrite: () => {},
    env: {
      TVS_POLICY_FILE: policyFile,
      TVS_UPSTREAM_DEADLINE_MS: '3000',
      TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE: '3',
    },
  });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  stack.emulator.faults.reset();
});

/** A Google-signed ID token of `email` for this service, as its own metadata server would give it. */
function idTokenOf(email: string): Promise<string> {
  return stack.emulator.state.signingKeys.signIdToken({
    audience: stack.tokenUrl,
    subject: stack.emulator.state.serviceAccounts.get(email)!,
    includeEmail: true,
  });
}

interface Sent {
  status: number;
  retryAfter: string | null;
  json: any;
  entries: any[];
}

/** One request with its own trace id; returns the answer and the audit entries written for it. */
async function send(path: string, init: { headers: Record<string, string>; body: string }): Promise<Sent> {
  const traceId = randomBytes(16).toString('hex');
  const res = await fetch(`${stack.tokenUrl}${path}`, {
    method: 'POST',
    headers: { 'x-cloud-trace-context': `${traceId}/1;o=1`, ...init.headers },
    body: init.body,
  });
  const json = await res.json();
  await stack.token.flushAudit();
  const entries = audit
    .entries()
    .filter((e) => e['logging.googleapis.com/trace'] === `projects/tvs-local/traces/${traceId}`);
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json, entries };
}

const accessPath = `/v1/projects/-/serviceAccounts/${TARGET}:generateAccessToken`;
const idPath = `/v1/projects/-/serviceAccounts/${TARGET}:generateIdToken`;
const asCaller = async (email: string, body: unknown) => ({
  headers: { 'content-type': 'application/json', authorization: `Bearer ${await idTokenOf(email)}` },
  body: JSON.stringify(body),
});
const mints = () =>
  stack.emulator.faults.count('iamcredentials.generateAccessToken') +
  stack.emulator.faults.count('iamcredentials.generateIdToken');

describe('quotas against the emulator', () => {
  it('a burst from one caller gets 429 with Retry-After, one audit entry each and no mint, while another caller is served', async () => {
    stack.token.minter.cache.clear();
    const a = await asCaller(CALLER_A, { scope: [CP] });
    const b = await asCaller(CALLER_B, { scope: [CP] });
    // Concurrently, as a burst arrives: five within the burst, five over it.
    const burst = await Promise.all(Array.from({ length: 10 }, () => send(accessPath, a)));
    const served = burst.filter((r) => r.status === 200);
    const refused = burst.filter((r) => r.status === 429);
    expect(served).toHaveLength(5);
    expect(refused).toHaveLength(5);
    for (const r of refused) {
      expect(r.json).toEqual({
        error: {
          code: 429,
          message: 'Too many token requests from this caller; retry after the time in Retry-After.',
          status: 'RESOURCE_EXHAUSTED',
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: 'CALLER_RATE_LIMITED',
              domain: 'tokenvending.googleapis.local',
              metadata: {},
            },
          ],
        },
      });
      // 5 a minute: the next token is at most 12 s away.
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(12);
      expect(r.entries).toHaveLength(1);
      expect(r.entries[0]).toMatchObject({
        decision: 'denied',
        reason: 'CALLER_RATE_LIMITED',
        httpStatus: 429,
        action: 'generateAccessToken',
        caller: { email: CALLER_A },
      });
      expect(r.entries[0].tokenFingerprint).toBeUndefined();
    }
    for (const r of served) expect(r.entries).toEqual([expect.objectContaining({ decision: 'granted' })]);
    // One upstream mint for the five served (coalesced / cached); none for the refused.
    expect(mints()).toBe(1);

    // Caller B, same rule, same moment: served (from the cache: no mint).
    const other = await send(accessPath, b);
    expect(other.status).toBe(200);
    expect(other.entries[0]).toMatchObject({
      decision: 'granted',
      cacheHit: true,
      caller: { email: CALLER_B },
    });
    expect(mints()).toBe(1);
  });

  it('a cache-hit-heavy caller is not charged mints; its misses are', async () => {
    stack.token.minter.cache.clear();
    const scope = (name: string) => asCaller(HITTER, { scope: [`https://www.googleapis.com/auth/${name}`] });
    // Two mints a minute for this rule: the first request mints, the next 29 are hits ...
    const hit = await scope('hit');
    for (let i = 0; i < 30; i++) expect((await send(accessPath, hit)).status).toBe(200);
    expect(mints()).toBe(1);
    // ... which spent no mint: a second new token is still allowed ...
    expect((await send(accessPath, await scope('second'))).status).toBe(200);
    expect(mints()).toBe(2);
    // ... and a third is over.
    const over = await send(accessPath, await scope('third'));
    expect(over.status).toBe(429);
    expect(over.json.error.details[0].reason).toBe('CALLER_MINT_RATE_LIMITED');
    expect(Number(over.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(over.retryAfter)).toBeLessThanOrEqual(30);
    expect(over.entries).toEqual([
      expect.objectContaining({ decision: 'denied', reason: 'CALLER_MINT_RATE_LIMITED' }),
    ]);
    expect(mints()).toBe(2);
    // Hits are still served.
    expect((await send(accessPath, hit)).status).toBe(200);
  });

  it('varying the audience and the lifetime stops at the distinct-token cap', async () => {
    const answers = [
      await send(idPath, await asCaller(VARIER, { audience: 'https://svc-1.a.run.app' })),
      await send(idPath, await asCaller(VARIER, { audience: 'https://svc-2.a.run.app' })),
      await send(accessPath, await asCaller(VARIER, { scope: [CP], lifetime: '600s' })),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(mints()).toBe(3);
    const byAudience = await send(idPath, await asCaller(VARIER, { audience: 'https://svc-3.a.run.app' }));
    const byLifetime = await send(accessPath, await asCaller(VARIER, { scope: [CP], lifetime: '601s' }));
    for (const r of [byAudience, byLifetime]) {
      expect(r.status).toBe(429);
      expect(r.json.error).toMatchObject({
        status: 'RESOURCE_EXHAUSTED',
        details: [{ reason: 'TOO_MANY_DISTINCT_TOKENS' }],
      });
      expect(Number(r.retryAfter)).toBeGreaterThan(3000); // the rest of the hour
      expect(r.entries).toEqual([
        expect.objectContaining({ decision: 'denied', reason: 'TOO_MANY_DISTINCT_TOKENS' }),
      ]);
    }
    expect(mints()).toBe(3);
    // A token it already has is still served.
    expect((await send(idPath, await asCaller(VARIER, { audience: 'https://svc-1.a.run.app' }))).status).toBe(
      200,
    );
  });

  it('a policy reload keeps the limiter state: a caller over its quota stays refused', async () => {
    const request = await asCaller(RELOADED, { scope: [CP] });
    expect((await send(accessPath, request)).status).toBe(200);
    expect((await send(accessPath, request)).status).toBe(429);
    const before = stack.token.policy.current();
    writePolicy('after'); // a new policy version, same rule name
    expect(await stack.token.policy.reload()).not.toBe(before);
    expect(stack.token.policy.current()).not.toBe(before);
    // One request a minute: still refused after the reload (unless a whole minute passed).
    const after = await send(accessPath, request);
    expect(after.status).toBe(429);
    expect(after.json.error.details[0].reason).toBe('CALLER_RATE_LIMITED');
  });

  it('/v1/token answers a quota refusal in its own wire format: 429 temporarily_unavailable with Retry-After', async () => {
    const form = {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'quota-client',
        client_secret: CLIENT_SECRET,
        service_account: TARGET,
        scope: CP,
      }).toString(),
    };
    const first = await send('/v1/token', form);
    expect(first.status).toBe(200);
    const minted = mints();
    const second = await send('/v1/token', form);
    expect(second.status).toBe(429);
    expect(second.json).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'Too many token requests from this caller; retry after the time in Retry-After.',
    });
    expect(Number(second.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(second.retryAfter)).toBeLessThanOrEqual(60);
    expect(second.entries).toEqual([
      expect.objectContaining({
        decision: 'denied',
        reason: 'CALLER_RATE_LIMITED',
        httpStatus: 429,
        caller: { kind: 'client', clientId: 'quota-client' },
      }),
    ]);
    expect(mints()).toBe(minted);
  });

  it('failed client authentications are throttled per source; a forged leftmost X-Forwarded-For does not change the source', async () => {
    const attempt = (clientId: string, xff: string) =>
      send('/v1/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': xff },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: clientId,
          client_secret: 'wrong-secret-wrong-secret-wrong-secret-00',
          service_account: TARGET,
          scope: CP,
        }).toString(),
      });
    // Google's front end appends the address it saw (here 203.0.113.50); the client forges the rest.
    for (let i = 0; i < 3; i++) {
      const r = await attempt(`sprayed-${i}`, `10.0.0.${i}, 198.51.100.${i}, 203.0.113.50`);
      expect(r.status).toBe(401);
    }
    const throttled = await attempt('sprayed-3', '192.0.2.99, 203.0.113.50');
    expect(throttled.status).toBe(429);
    expect(throttled.json.error).toBe('invalid_client');
    expect(Number(throttled.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(throttled.entries).toEqual([
      expect.objectContaining({ reason: 'CLIENT_AUTH_THROTTLED', httpStatus: 429 }),
    ]);
    // Another source is not affected.
    expect((await attempt('sprayed-4', '203.0.113.51')).status).toBe(401);
  });
});
