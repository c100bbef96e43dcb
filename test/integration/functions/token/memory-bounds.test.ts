/**
 * What bounds the token function's memory under an all-miss load (docs/performance.md, "5 Memory"),
 * end to end against the emulator: after more distinct tokens than the cache's bound, the cache
 * holds exactly its bound, no mint is still shared, every token came from one Secret Manager read
 * (one key in memory, one client), and the audit writer holds nothing back once flushed.
 * Counts, not bytes or timings: deterministic on a shared machine.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_POLICY_FILE, startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';

const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
const TARGET = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const SCOPE_PREFIX = 'https://www.googleapis.com/auth/memory-bounds-';
const CACHE_BOUND = 20;
/** Three times the bound: the cache has evicted twice over. */
const DISTINCT_TOKENS = 3 * CACHE_BOUND;

let stack: LocalStack;
let audit: Capture;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-memory-bounds-'));
  // The demo policy with distinct scopes allowed, so every request below is a new token.
  const policy = JSON.parse(readFileSync(DEMO_POLICY_FILE, 'utf8')) as {
    rules: Array<{ scopes?: string[] }>;
  };
  for (const rule of policy.rules) rule.scopes = [...(rule.scopes ?? []), `${SCOPE_PREFIX}*`];
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(policy));
  audit = createCapture();
  stack = await startLocalStack({
    auditTransport: audit.stream,
    opsLogWrite: () => {},
    env: { TVS_POLICY_FILE: policyFile, TVS_CACHE_MAX_ENTRIES: String(CACHE_BOUND), TVS_RATE_LIMITS: 'off' },
  });
});

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('memory bounds of the token function under distinct-token load', () => {
  it('keeps the cache at its bound, shares no finished mint, reads the key once and buffers no audit line', async () => {
    const idToken = await stack.emulator.state.signingKeys.signIdToken({
      audience: stack.tokenUrl,
      subject: stack.emulator.state.serviceAccounts.get(WORKLOAD)!,
      includeEmail: true,
    });
    stack.emulator.faults.reset();
    // Ten at a time, as concurrent callers would send them.
    const statuses: number[] = [];
    for (let batch = 0; batch < DISTINCT_TOKENS / 10; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fetch(`${stack.tokenUrl}/v1/projects/-/serviceAccounts/${TARGET}:generateAccessToken`, {
            method: 'POST',
            headers: { authorization: `Bearer ${idToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ scope: [`${SCOPE_PREFIX}${batch * 10 + i}`], lifetime: '3600s' }),
          }),
        ),
      );
      for (const answer of answers) {
        statuses.push(answer.status);
        await answer.arrayBuffer();
      }
    }
    expect(statuses).toEqual(Array.from({ length: DISTINCT_TOKENS }, () => 200));

    const cache = stack.token.minter.cache;
    expect(cache.size).toBe(CACHE_BOUND);
    expect(cache.stats()).toMatchObject({
      misses: DISTINCT_TOKENS,
      evictions: DISTINCT_TOKENS - CACHE_BOUND,
      inFlight: 0,
    });
    // Every token from one key, read once through one Secret Manager client.
    expect(stack.emulator.faults.count('oauth.token')).toBe(DISTINCT_TOKENS);
    expect(stack.emulator.faults.count('secretmanager.AccessSecretVersion')).toBe(1);

    // One audit line per decision, all of them out of the writer's buffer once flushed.
    await stack.token.flushAudit();
    expect(audit.entries().map((e: { decision: string }) => e.decision)).toEqual(
      Array.from({ length: DISTINCT_TOKENS }, () => 'granted'),
    );
  });
});
