/**
 * Faults in the service's other dependencies: Secret Manager (where the SA keys live) and the
 * issuers' JWKS endpoints. Warm caches keep the service working; cold, callers get a clear 503;
 * an unknown `kid` never turns into a stream of JWKS fetches; nothing crashes.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '../../emulator/index.js';
import { recordFigures } from './support/figures.js';
import { googleErrorProblem } from './support/invariants.js';
import { startKeyServer, type KeyServer } from './support/key-server.js';
import { closeIdleSockets, postJson, type RawResponse } from './support/raw-http.js';
import {
  accessPath,
  CP,
  GEMINI,
  idPath,
  startReliabilityStack,
  type ReliabilityStack,
} from './support/reliability-stack.js';

const DEADLINE_MS = 1500;
const SLACK_MS = 1000;
const SM = 'secretmanager.AccessSecretVersion';

let r: ReliabilityStack;
let attacker: KeyServer;
let survived = 0;

beforeAll(async () => {
  r = await startReliabilityStack({ env: { TVS_UPSTREAM_DEADLINE_MS: String(DEADLINE_MS) } });
  attacker = await startKeyServer();
  await r.warm();
});

afterAll(async () => {
  recordFigures('faults-dependencies', { faultsSurvived: survived });
  closeIdleSockets();
  await attacker?.stop();
  await r?.stop();
});

beforeEach(() => {
  r.stack.emulator.faults.reset();
});

const call = async (
  url = r.url,
  path = accessPath(GEMINI),
  body: unknown = { scope: [CP] },
): Promise<RawResponse> => postJson(url, path, body, `Bearer ${await r.googleIdToken()}`);

const SM_FAULTS: Array<[string, Fault]> = [
  ['UNAVAILABLE', { status: 503 }],
  ['INTERNAL', { status: 500 }],
  ['a dropped connection', { reset: true }],
  ['slower than the deadline', { latencyMs: DEADLINE_MS * 3 }],
];

describe('Secret Manager down or slow', () => {
  it.each(SM_FAULTS)('with a warm cache, tokens keep being served (%s)', async (_name, fault) => {
    expect((await call()).status).toBe(200);
    const readsBefore = r.stack.emulator.faults.count(SM);
    r.stack.emulator.faults.inject({ endpoint: SM, times: Infinity, ...fault });
    const started = Date.now();
    // Cached tokens...
    for (let i = 0; i < 5; i++) expect((await call()).status).toBe(200);
    // ...and, once they are gone, new ones minted with the key already in memory.
    r.stack.token.minter.cache.clear();
    expect((await call()).status).toBe(200);
    expect((await call(r.url, idPath(GEMINI), { audience: 'https://example.com' })).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
    expect(r.stack.emulator.faults.count(SM)).toBe(readsBefore);
    survived += 1;
  });

  it.each(SM_FAULTS)(
    'cold, a caller gets a clear 503 UNAVAILABLE within the deadline, and service resumes (%s)',
    async (_name, fault) => {
      const cold = await r.fresh();
      r.stack.emulator.faults.inject({ endpoint: SM, times: Infinity, ...fault });
      const started = Date.now();
      const res = await call(cold.tokenUrl);
      expect(Date.now() - started).toBeLessThan(DEADLINE_MS + SLACK_MS);
      expect(res.status).toBe(503);
      expect(googleErrorProblem(res)).toBeUndefined();
      expect(res.json.error.status).toBe('UNAVAILABLE');
      expect(res.json.error.message).not.toMatch(/private|key_id|BEGIN/i);
      r.stack.emulator.faults.reset();
      // A Secret Manager read already in flight (the client library backs off inside it, up to its
      // own timeout = the deadline) may still fail callers that join it: measured recovery lag is
      // up to ~2 deadlines, see docs/reliability.md. Within three, tokens are served again.
      expect(await firstSuccessWithin(cold.tokenUrl, 3 * DEADLINE_MS + SLACK_MS)).toBe(true);
      survived += 1;
    },
  );
});

/** Calls until a 200 or `budgetMs` passed; every answer on the way must be a clean 503. */
async function firstSuccessWithin(url: string, budgetMs: number): Promise<boolean> {
  const until = Date.now() + budgetMs;
  while (Date.now() < until) {
    const res = await call(url);
    if (res.status === 200) return true;
    expect(res.status).toBe(503);
  }
  return false;
}

describe('an issuer JWKS endpoint down', () => {
  const unknownKidToken = async (kid: string) => {
    const sa = r.stack.emulator.state.serviceAccounts.get('workload@tvs-local.iam.gserviceaccount.com')!;
    const now = Math.floor(Date.now() / 1000);
    return attacker.sign(
      {
        iss: 'https://accounts.google.com',
        sub: sa.uniqueId,
        aud: r.url,
        email: sa.email,
        email_verified: true,
        iat: now,
        exp: now + 600,
      },
      { kid },
    );
  };

  it('cached keys keep verifying callers while the JWKS endpoint fails', async () => {
    expect((await call()).status).toBe(200);
    r.stack.emulator.faults.inject({ endpoint: 'oauth.certs', times: Infinity, status: 503 });
    for (let i = 0; i < 10; i++) expect((await call()).status).toBe(200);
    expect(r.stack.emulator.faults.count('oauth.certs')).toBe(0);
    survived += 1;
  });

  it.each<[string, Fault | undefined]>([
    ['up', undefined],
    ['down', { status: 503 }],
  ])('100 tokens with unknown kids cause at most one JWKS fetch (endpoint %s)', async (_name, fault) => {
    const fresh = await r.fresh();
    await r.warm(fresh.tokenUrl);
    r.stack.emulator.faults.reset();
    if (fault) r.stack.emulator.faults.inject({ endpoint: 'oauth.certs', times: Infinity, ...fault });
    const tokens = await Promise.all(Array.from({ length: 100 }, (_, i) => unknownKidToken(`rotated-${i}`)));
    const results = await Promise.all(
      tokens.map((t) => postJson(fresh.tokenUrl, accessPath(GEMINI), { scope: [CP] }, `Bearer ${t}`)),
    );
    for (const res of results) {
      expect([401, 503]).toContain(res.status);
      expect(googleErrorProblem(res)).toBeUndefined();
    }
    expect(results.filter((res) => res.status === 401).length).toBeGreaterThan(80);
    expect(r.stack.emulator.faults.count('oauth.certs')).toBeLessThanOrEqual(1);
    // The known key still works throughout.
    expect((await call(fresh.tokenUrl)).status).toBe(200);
    survived += 1;
  });

  it('cold, callers get 503 UNAVAILABLE (not 401) while the JWKS endpoint fails, then recover', async () => {
    const cold = await r.fresh();
    // Failures take 300 ms, so the concurrent callers overlap one failing fetch.
    r.stack.emulator.faults.inject({ endpoint: 'oauth.certs', times: Infinity, status: 500, latencyMs: 300 });
    const results = await Promise.all(Array.from({ length: 50 }, () => call(cold.tokenUrl)));
    for (const res of results) {
      expect(res.status).toBe(503);
      expect(res.json.error).toMatchObject({
        status: 'UNAVAILABLE',
        details: [{ reason: 'ISSUER_KEYS_UNAVAILABLE' }],
      });
    }
    // Concurrent cold callers share one fetch.
    expect(r.stack.emulator.faults.count('oauth.certs')).toBeLessThanOrEqual(2);
    r.stack.emulator.faults.reset();
    // Recovery comes after the short cold-failure backoff (at most 5 s), without a fetch per request.
    await expect
      .poll(async () => (await call(cold.tokenUrl)).status, { timeout: 15_000, interval: 250 })
      .toBe(200);
    survived += 1;
  });
});
