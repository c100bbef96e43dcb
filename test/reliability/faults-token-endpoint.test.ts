/**
 * Faults at Google's token endpoint: every kind of failure ends, within the deadline, in bounded
 * retries and then 503 UNAVAILABLE (or a token, when the endpoint recovers in time); concurrent
 * callers share one retry sequence instead of stampeding.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '../../emulator/index.js';
import { recordFigures } from './support/figures.js';
import { googleErrorProblem, oauthErrorProblem } from './support/invariants.js';
import { closeIdleSockets, postForm, postJson } from './support/raw-http.js';
import {
  accessPath,
  CLIENT_ID,
  CP,
  GEMINI,
  idPath,
  startReliabilityStack,
  type ReliabilityStack,
} from './support/reliability-stack.js';

const DEADLINE_MS = 1500;
const MAX_ATTEMPTS = 4;
// Scheduling slack on a loaded CI machine; the deadline itself is what is asserted against.
const SLACK_MS = 1000;

let r: ReliabilityStack;
let auth: string;
let survived = 0;

beforeAll(async () => {
  r = await startReliabilityStack({
    env: { TVS_UPSTREAM_DEADLINE_MS: String(DEADLINE_MS), TVS_UPSTREAM_MAX_ATTEMPTS: String(MAX_ATTEMPTS) },
  });
  auth = `Bearer ${await r.googleIdToken()}`;
  // Load the SA key once: these tests are about the token endpoint, not Secret Manager.
  await r.warm();
});

afterAll(async () => {
  recordFigures('faults-token-endpoint', { faultsSurvived: survived });
  closeIdleSockets();
  await r?.stop();
});

beforeEach(() => {
  r.stack.emulator.faults.reset();
  r.stack.token.minter.cache.clear();
});

const tokenCalls = () => r.stack.emulator.faults.count('oauth.token');

const FAULTS: Array<[string, Fault, { minCalls: number }]> = [
  ['500 Internal Server Error', { status: 500 }, { minCalls: 2 }],
  ['503 with Retry-After: 0', { status: 503, retryAfterSeconds: 0 }, { minCalls: 2 }],
  ['503 without Retry-After', { status: 503 }, { minCalls: 2 }],
  ['429 without Retry-After', { status: 429 }, { minCalls: 2 }],
  ['a connection reset', { reset: true }, { minCalls: 2 }],
  ['a malformed JSON body', { rawBody: '{"access_token": "ya29.' }, { minCalls: 2 }],
  ['a 200 without a token', { rawBody: '{"token_type":"Bearer"}' }, { minCalls: 2 }],
  ['an answer slower than the deadline', { latencyMs: DEADLINE_MS * 3 }, { minCalls: 1 }],
  [
    '429 asking to retry after longer than the deadline',
    { status: 429, retryAfterSeconds: 30 },
    { minCalls: 1 },
  ],
];

describe('when the token endpoint stays down', () => {
  it.each(FAULTS)(
    '%s → bounded retries, then 503 UNAVAILABLE within the deadline',
    async (_name, fault, { minCalls }) => {
      r.stack.emulator.faults.inject({ endpoint: 'oauth.token', times: Infinity, ...fault });
      const started = Date.now();
      const res = await postJson(r.url, accessPath(GEMINI), { scope: [CP] }, auth);
      const elapsedMs = Date.now() - started;
      expect(res.status).toBe(503);
      expect(googleErrorProblem(res)).toBeUndefined();
      expect(res.json.error.status).toBe('UNAVAILABLE');
      expect(elapsedMs).toBeLessThan(DEADLINE_MS + SLACK_MS);
      expect(tokenCalls()).toBeGreaterThanOrEqual(minCalls);
      expect(tokenCalls()).toBeLessThanOrEqual(MAX_ATTEMPTS);
      await r.stack.token.flushAudit();
      expect(r.audit.entries().at(-1)).toMatchObject({ decision: 'error', httpStatus: 503 });
      survived += 1;
    },
  );

  it('answers the OAuth endpoint with an RFC 6749 temporarily_unavailable', async () => {
    r.stack.emulator.faults.inject({ endpoint: 'oauth.token', times: Infinity, status: 503 });
    const res = await postForm(r.url, {
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: r.clientSecret,
      service_account: GEMINI,
      scope: CP,
    });
    expect(res.status).toBe(503);
    expect(oauthErrorProblem(res)).toBeUndefined();
    expect(res.json.error).toBe('temporarily_unavailable');
    survived += 1;
  });
});

describe('when the token endpoint recovers within the deadline', () => {
  it.each(FAULTS.filter(([, f]) => f.latencyMs === undefined && f.retryAfterSeconds !== 30))(
    '%s twice, then a token',
    async (_name, fault) => {
      r.stack.emulator.faults.inject({ endpoint: 'oauth.token', times: 2, ...fault });
      const res = await postJson(r.url, accessPath(GEMINI), { scope: [CP] }, auth);
      expect(res.status).toBe(200);
      expect(tokenCalls()).toBe(3);
      survived += 1;
    },
  );

  it('honours Retry-After: it waits at least that long before the next attempt', async () => {
    r.stack.emulator.faults.inject({ endpoint: 'oauth.token', times: 1, status: 503, retryAfterSeconds: 1 });
    const started = Date.now();
    const res = await postJson(r.url, idPath(GEMINI), { audience: 'https://example.com' }, auth);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(tokenCalls()).toBe(2);
    survived += 1;
  });
});

describe('no thundering herd', () => {
  const burst = (n: number) =>
    Promise.all(Array.from({ length: n }, () => postJson(r.url, accessPath(GEMINI), { scope: [CP] }, auth)));

  it('200 concurrent cold callers share one retry sequence when the endpoint is down', async () => {
    // A function with a roomy deadline, and a first failure that takes 1.5 s: the whole burst
    // arrives while the first sequence runs, so every caller must join it.
    const roomy = await r.fresh({ TVS_UPSTREAM_DEADLINE_MS: '8000' });
    await r.warm(roomy.tokenUrl);
    roomy.token.minter.cache.clear();
    r.stack.emulator.faults.reset();
    r.stack.emulator.faults.inject({ endpoint: 'oauth.token', times: 1, status: 503, latencyMs: 1500 });
    r.stack.emulator.faults.inject({
      endpoint: 'oauth.token',
      times: Infinity,
      status: 503,
      retryAfterSeconds: 0,
    });
    const missesBefore = roomy.token.minter.cache.stats().misses;
    const results = await Promise.all(
      Array.from({ length: 200 }, () => postJson(roomy.tokenUrl, accessPath(GEMINI), { scope: [CP] }, auth)),
    );
    expect(roomy.token.minter.cache.stats().misses - missesBefore).toBe(200);
    expect(results.every((res) => res.status === 503 && res.json.error.status === 'UNAVAILABLE')).toBe(true);
    expect(tokenCalls()).toBeGreaterThanOrEqual(2);
    expect(tokenCalls()).toBeLessThanOrEqual(MAX_ATTEMPTS);
    survived += 1;
  });

  it('200 concurrent cold callers all get the one token minted after two failures', async () => {
    r.stack.emulator.faults.inject({ endpoint: 'oauth.token', times: 2, reset: true });
    const results = await burst(200);
    expect(results.map((res) => res.status)).toEqual(Array(200).fill(200));
    expect(new Set(results.map((res) => res.json.accessToken)).size).toBe(1);
    expect(tokenCalls()).toBe(3);
    survived += 1;
  });
});
