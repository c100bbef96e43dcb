/**
 * decideAndMint with quotas: a refusal comes after the policy decision, before the minter, so a
 * 429 mints nothing; a hit costs no mint; another caller's coalesced mint never sees this caller's 429.
 * The real compiled policy, the real minter and cache, a keyless backend under the test's control.
 */
import { describe, expect, it } from 'vitest';
import { ResourceExhaustedError } from '../../../../../shared/errors.js';
import type { ServiceAccountKeyStore } from '../../../../../shared/minting/key-store.js';
import { createMinter, type KeylessBackend, type MintedToken } from '../../../../../shared/minting/minter.js';
import { decideAndMint } from '../../../../../functions/token/decide.js';
import { createCallerLimits } from '../../../../../functions/token/limits/caller-limits.js';
import { acceptedAudiences } from '../../../../../functions/token/policy/accepted-audiences.js';
import { compilePolicy, type PolicyCaller } from '../../../../../functions/token/policy/compile-policy.js';
import type { PolicyProvider } from '../../../../../functions/token/policy/policy-provider.js';
import { deferred, drain, type Deferred } from '../../../../support/deferred.js';

const SA = 'runner@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GH = 'https://token.actions.githubusercontent.com';

function setup(limits: Record<string, unknown>) {
  const clock = { t: 1_000_000_000 };
  const now = () => clock.t;
  const compiled = compilePolicy({
    version: 1,
    serviceAccounts: { [SA]: {} },
    limits,
    rules: [
      {
        name: 'ci',
        caller: { issuer: GH, subject: 'repo:org/*' },
        serviceAccounts: [SA],
        scopes: [CP],
        idTokenAudiences: ['https://*.a.run.app'],
      },
    ],
  });
  const policy: PolicyProvider = {
    current: () => compiled,
    currentForRequest: () => Promise.resolve(compiled),
    currentIfFresh: () => compiled,
    reload: () => Promise.resolve(compiled),
    refresh: () => Promise.resolve(compiled),
  };
  const upstream: Array<{ audience?: string; answer: Deferred<MintedToken> }> = [];
  const keyless: KeylessBackend = {
    accessToken: () => {
      const answer = deferred<MintedToken>();
      upstream.push({ answer });
      return answer.promise;
    },
    idToken: (_email, audience) => {
      const answer = deferred<MintedToken>();
      upstream.push({ audience, answer });
      return answer.promise;
    },
  };
  const minter = createMinter({
    keys: {} as ServiceAccountKeyStore,
    keyless,
    cache: { maxEntries: 1000, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
    upstream: { deadlineMs: 10_000, maxAttempts: 1 },
    now,
  });
  const quota = createCallerLimits({
    maxCallers: 100,
    isCached: (k) => minter.cache.peek(k) !== undefined || minter.cache.pending(k),
    now,
  });
  const deps = {
    policy,
    minter,
    acceptedAudiences: acceptedAudiences(['https://tvs.example']),
    limits: quota,
  };
  const token = (n: number): MintedToken => ({ token: `tok-${n}`, expiresAtMs: clock.t + 3_600_000 });
  return { deps, upstream, clock, token };
}

const caller = (repo: string): PolicyCaller => ({
  kind: 'id_token',
  issuer: GH,
  subject: `repo:org/${repo}`,
  claims: {},
});
const at = { kind: 'access_token' as const, serviceAccount: SA, scopes: [CP], lifetimeSeconds: 3600 };
const id = (audience: string) => ({ kind: 'id_token' as const, serviceAccount: SA, audience });

describe('decideAndMint with quotas', () => {
  it('a caller over its mint quota gets a 429 and nothing is minted', async () => {
    const { deps, upstream, token } = setup({ mintsPerMinute: 1 });
    const first = decideAndMint(deps, caller('a'), id('https://one.a.run.app'));
    await drain();
    upstream[0].answer.resolve(token(1));
    await first;
    await expect(decideAndMint(deps, caller('a'), id('https://two.a.run.app'))).rejects.toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      reason: 'CALLER_MINT_RATE_LIMITED',
      retryAfterSeconds: 60,
    });
    expect(upstream).toHaveLength(1);
  });

  it('a cache-hit-heavy caller is never charged mints', async () => {
    const { deps, upstream, token } = setup({ mintsPerMinute: 1, requestsPerMinute: 10_000 });
    const first = decideAndMint(deps, caller('a'), at);
    await drain();
    upstream[0].answer.resolve(token(1));
    await first;
    for (let i = 0; i < 200; i++)
      expect((await decideAndMint(deps, caller('a'), at)).minted.cacheHit).toBe(true);
    expect(upstream).toHaveLength(1);
  });

  it('varying the audience under a wildcard stops at the distinct-token cap', async () => {
    const { deps, upstream, token } = setup({ mintsPerMinute: 1000, distinctTokensPerHour: 3 });
    for (let i = 0; i < 3; i++) {
      const p = decideAndMint(deps, caller('a'), id(`https://svc-${i}.a.run.app`));
      await drain();
      upstream[i].answer.resolve(token(i));
      await p;
    }
    await expect(decideAndMint(deps, caller('a'), id('https://svc-3.a.run.app'))).rejects.toMatchObject({
      reason: 'TOO_MANY_DISTINCT_TOKENS',
    });
    expect(upstream).toHaveLength(3);
  });

  it("joining another caller's mint in flight costs no mint; a caller refused meanwhile leaves that mint and its waiters alone", async () => {
    const { deps, upstream, token } = setup({ mintsPerMinute: 1, requestsPerMinute: 2 });
    // b spends its one mint (and c its two requests) elsewhere.
    const spent = decideAndMint(deps, caller('b'), id('https://b.a.run.app'));
    await drain();
    upstream[0].answer.resolve(token(0));
    await spent;
    await decideAndMint(deps, caller('c'), id('https://b.a.run.app'));
    await decideAndMint(deps, caller('c'), id('https://b.a.run.app'));
    // a's mint of a shared key is in flight ...
    const a = decideAndMint(deps, caller('a'), at);
    await drain();
    expect(upstream).toHaveLength(2);
    // ... c, over its request quota, is refused before it reaches the minter ...
    await expect(decideAndMint(deps, caller('c'), at)).rejects.toBeInstanceOf(ResourceExhaustedError);
    // ... and b, with no mint left, joins a's mint at no cost (it is a miss, but no new mint).
    const b = decideAndMint(deps, caller('b'), at);
    await drain();
    expect(upstream).toHaveLength(2);
    upstream[1].answer.resolve(token(1));
    expect((await a).minted.token).toBe('tok-1');
    expect((await b).minted.token).toBe('tok-1');
  });

  it('a burst of identical requests of one caller on a cold cache is charged one mint', async () => {
    const { deps, upstream, token } = setup({ mintsPerMinute: 1 });
    const burst = Array.from({ length: 20 }, () => decideAndMint(deps, caller('a'), at));
    await drain();
    expect(upstream).toHaveLength(1);
    upstream[0].answer.resolve(token(1));
    expect((await Promise.all(burst)).map((g) => g.minted.token)).toEqual(Array(20).fill('tok-1'));
  });

  it('a denied request is not charged and takes no table space (the quota comes after the decision)', async () => {
    const { deps } = setup({ requestsPerMinute: 1 });
    const stranger: PolicyCaller = { kind: 'id_token', issuer: GH, subject: 'repo:evil/x', claims: {} };
    for (let i = 0; i < 5; i++)
      await expect(decideAndMint(deps, stranger, at)).rejects.toMatchObject({ reason: 'NO_RULE_FOR_CALLER' });
  });

  it('requests over the caller limit are refused with Retry-After, hits included', async () => {
    const { deps, upstream, token, clock } = setup({ requestsPerMinute: 2 });
    const first = decideAndMint(deps, caller('a'), at);
    await drain();
    upstream[0].answer.resolve(token(1));
    await first;
    await decideAndMint(deps, caller('a'), at);
    await expect(decideAndMint(deps, caller('a'), at)).rejects.toMatchObject({
      reason: 'CALLER_RATE_LIMITED',
      retryAfterSeconds: 30, // 2 a minute: one token every 30 s
    });
    // Another caller is unaffected.
    expect((await decideAndMint(deps, caller('b'), at)).minted.cacheHit).toBe(true);
    clock.t += 30_000;
    expect((await decideAndMint(deps, caller('a'), at)).minted.cacheHit).toBe(true);
  });
});
