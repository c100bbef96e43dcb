import { describe, expect, it } from 'vitest';
import { ResourceExhaustedError } from '../../../../../shared/errors.js';
import {
  callerKey,
  createCallerLimits,
  mintCacheKey,
} from '../../../../../functions/token/limits/caller-limits.js';
import { DEFAULT_LIMITS, resolveLimits } from '../../../../../functions/token/limits/limits-schema.js';
import type { PolicyCaller } from '../../../../../functions/token/policy/compile-policy.js';

const ISSUER = 'https://token.actions.githubusercontent.com';
const oidc = (subject: string, kind: 'id_token' | 'google_access_token' = 'id_token'): PolicyCaller => ({
  kind,
  issuer: ISSUER,
  subject,
  claims: {},
});
const client = (clientId: string): PolicyCaller => ({ kind: 'client', clientId });

function setup(cached: Set<string> = new Set(), maxCallers = 100) {
  const clock = { t: 5_000_000 };
  const limits = createCallerLimits({ maxCallers, isCached: (k) => cached.has(k), now: () => clock.t });
  return { clock, limits, cached };
}

/** The error thrown by `fn`, which must throw a ResourceExhaustedError. */
function refusal(fn: () => unknown): ResourceExhaustedError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    return err as ResourceExhaustedError;
  }
  throw new Error('expected a refusal');
}

const L = (over: Parameters<typeof resolveLimits>[1] = {}) => resolveLimits(undefined, over);

describe('admitRequest', () => {
  it('refuses a caller over its burst with CALLER_RATE_LIMITED and the exact Retry-After, while another caller is unaffected', () => {
    const { limits } = setup();
    const limit = L({ requestsPerMinute: 6, requestBurst: 3 });
    for (let i = 0; i < 3; i++) limits.admitRequest(oidc('repo:a'), 'ci', limit);
    const err = refusal(() => limits.admitRequest(oidc('repo:a'), 'ci', limit));
    expect(err).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      reason: 'CALLER_RATE_LIMITED',
      retryAfterSeconds: 10,
    });
    expect(err.message).not.toContain('ci'); // rule names are for the log only
    expect(err.detail).toBe('rule ci: limit 6 per minute per instance');
    expect(() => limits.admitRequest(oidc('repo:b'), 'ci', limit)).not.toThrow();
  });

  it('admits again once exactly one token has refilled', () => {
    const { clock, limits } = setup();
    const limit = L({ requestsPerMinute: 60, requestBurst: 1 });
    limits.admitRequest(client('c1'), 'r', limit);
    clock.t += 999;
    expect(refusal(() => limits.admitRequest(client('c1'), 'r', limit)).retryAfterSeconds).toBe(1);
    clock.t += 1;
    expect(() => limits.admitRequest(client('c1'), 'r', limit)).not.toThrow();
  });

  it('counts one principal across credential kinds (its ID token and its Google access token)', () => {
    const { limits } = setup();
    const limit = L({ requestsPerMinute: 1 });
    limits.admitRequest(oidc('12345', 'id_token'), 'r', limit);
    expect(refusal(() => limits.admitRequest(oidc('12345', 'google_access_token'), 'r', limit)).reason).toBe(
      'CALLER_RATE_LIMITED',
    );
  });

  it('keeps one bucket per rule for a caller admitted by two rules', () => {
    const { limits } = setup();
    const limit = L({ requestsPerMinute: 1 });
    limits.admitRequest(client('c1'), 'one', limit);
    expect(() => limits.admitRequest(client('c1'), 'two', limit)).not.toThrow();
  });

  it('applies a rule aggregate across its callers (RULE_RATE_LIMITED) without charging the refused caller', () => {
    const { clock, limits } = setup();
    const limit = L({ requestsPerMinute: 100, perRule: { requestsPerMinute: 2 } });
    limits.admitRequest(client('a'), 'shared', limit);
    limits.admitRequest(client('b'), 'shared', limit);
    const err = refusal(() => limits.admitRequest(client('c'), 'shared', limit));
    expect(err).toMatchObject({ reason: 'RULE_RATE_LIMITED', retryAfterSeconds: 30 });
    // Another rule's callers are not affected.
    expect(() => limits.admitRequest(client('c'), 'other', limit)).not.toThrow();
    // c was not charged by the refused request: with a per-caller limit of 1 it still gets one.
    clock.t += 60_000;
    const strict = L({ requestsPerMinute: 1, perRule: { requestsPerMinute: 2 } });
    expect(() => limits.admitRequest(client('c'), 'shared', strict)).not.toThrow();
  });

  it('reads the limits in force at each call: the state survives a policy reload', () => {
    const { clock, limits } = setup();
    const before = L({ requestsPerMinute: 10 });
    for (let i = 0; i < 10; i++) limits.admitRequest(client('c1'), 'r', before);
    // New policy, same rule name: the spent burst is remembered ...
    const same = L({ requestsPerMinute: 10 });
    expect(refusal(() => limits.admitRequest(client('c1'), 'r', same)).reason).toBe('CALLER_RATE_LIMITED');
    // ... and a raised limit refills that state at its own rate: 1 s later the old limit (one per
    // 6 s) still refuses, the new one (one per 600 ms) admits.
    clock.t += 1000;
    expect(refusal(() => limits.admitRequest(client('c1'), 'r', same)).retryAfterSeconds).toBe(5);
    expect(() => limits.admitRequest(client('c1'), 'r', L({ requestsPerMinute: 100 }))).not.toThrow();
  });
});

describe('admitMint', () => {
  it('charges only cache misses: a hit-heavy caller never spends mints', () => {
    const cached = new Set(['hit-key']);
    const { limits } = setup(cached);
    const limit = L({ mintsPerMinute: 1, requestsPerMinute: 1000 });
    for (let i = 0; i < 500; i++) {
      const key = limits.admitRequest(client('c1'), 'r', limit);
      limits.admitMint(key, 'r', limit, 'hit-key');
    }
    const key = limits.admitRequest(client('c1'), 'r', limit);
    expect(() => limits.admitMint(key, 'r', limit, 'miss-1')).not.toThrow();
    const err = refusal(() => limits.admitMint(key, 'r', limit, 'miss-2'));
    expect(err).toMatchObject({ reason: 'CALLER_MINT_RATE_LIMITED', retryAfterSeconds: 60 });
    // A hit is still served to the caller out of mints.
    expect(() => limits.admitMint(key, 'r', limit, 'hit-key')).not.toThrow();
  });

  it('caps distinct tokens per caller per hour (TOO_MANY_DISTINCT_TOKENS), re-mints of a known key excepted', () => {
    const { clock, limits } = setup();
    const limit = L({ mintsPerMinute: 1000, distinctTokensPerHour: 3 });
    const key = limits.admitRequest(client('c1'), 'r', limit);
    for (const aud of ['a', 'b', 'c'])
      limits.admitMint(key, 'r', limit, `id|sa|keyless|noemail|https://${aud}.a.run.app`);
    clock.t += 60_000;
    const err = refusal(() => limits.admitMint(key, 'r', limit, 'id|sa|keyless|noemail|https://d.a.run.app'));
    expect(err).toMatchObject({ reason: 'TOO_MANY_DISTINCT_TOKENS', retryAfterSeconds: 3540 });
    expect(err.detail).toBe('rule r: limit 3 per hour per instance');
    // A key it already had minted this hour (expired, evicted) may be minted again.
    expect(() =>
      limits.admitMint(key, 'r', limit, 'id|sa|keyless|noemail|https://a.a.run.app'),
    ).not.toThrow();
    // Another caller has its own count.
    const other = limits.admitRequest(client('c2'), 'r', limit);
    expect(() =>
      limits.admitMint(other, 'r', limit, 'id|sa|keyless|noemail|https://d.a.run.app'),
    ).not.toThrow();
    // A new hour, a new window.
    clock.t += 3_540_000;
    expect(() =>
      limits.admitMint(key, 'r', limit, 'id|sa|keyless|noemail|https://d.a.run.app'),
    ).not.toThrow();
  });

  it('a distinct-cap refusal spends no mint token, a mint refusal records no distinct key', () => {
    const { limits } = setup();
    const limit = L({ mintsPerMinute: 2, distinctTokensPerHour: 1 });
    const key = limits.admitRequest(client('c1'), 'r', limit);
    limits.admitMint(key, 'r', limit, 'k1');
    expect(refusal(() => limits.admitMint(key, 'r', limit, 'k2')).reason).toBe('TOO_MANY_DISTINCT_TOKENS');
    // The second mint token is still there for k1 again.
    expect(() => limits.admitMint(key, 'r', limit, 'k1')).not.toThrow();
    expect(refusal(() => limits.admitMint(key, 'r', limit, 'k1')).reason).toBe('CALLER_MINT_RATE_LIMITED');
  });

  it('applies a rule aggregate on mints (RULE_MINT_RATE_LIMITED)', () => {
    const { limits } = setup();
    const limit = L({ perRule: { mintsPerMinute: 1 } });
    limits.admitMint(limits.admitRequest(client('a'), 'r', limit), 'r', limit, 'k1');
    const b = limits.admitRequest(client('b'), 'r', limit);
    expect(refusal(() => limits.admitMint(b, 'r', limit, 'k2'))).toMatchObject({
      reason: 'RULE_MINT_RATE_LIMITED',
      retryAfterSeconds: 60,
    });
  });

  it('the defaults let a CI matrix of 256 jobs sharing one subject ask for three tokens each', () => {
    const cached = new Set<string>();
    const { limits } = setup(cached);
    for (let job = 0; job < 256; job++) {
      for (const k of ['at|a', 'at|b', 'id|c']) {
        const key = limits.admitRequest(oidc('repo:org/app:ref:refs/heads/main'), 'ci', DEFAULT_LIMITS);
        limits.admitMint(key, 'ci', DEFAULT_LIMITS, k);
        cached.add(k); // the first job's mint fills the shared cache
      }
    }
  });
});

describe('memory bounds', () => {
  it('callers cycling identities never grow the tables past maxCallers', () => {
    const { limits } = setup(new Set(), 50);
    for (let i = 0; i < 5000; i++) {
      const key = limits.admitRequest(oidc(`attacker-${i}`), 'r', DEFAULT_LIMITS);
      limits.admitMint(key, 'r', DEFAULT_LIMITS, `k-${i}`);
    }
    // No size accessor on the limiter: the tables are bounded by TokenBucketTable / DistinctKeyTracker
    // (tested there); here the limiter keeps working for a fresh caller after the flood.
    expect(() => limits.admitRequest(oidc('legit'), 'r', DEFAULT_LIMITS)).not.toThrow();
  });

  it('a subject of any length is kept as a bounded key', () => {
    const long = callerKey(oidc('x'.repeat(10_000)), 'r');
    expect(long.length).toBeLessThan(100);
    expect(long).not.toBe(callerKey(oidc(`${'x'.repeat(9_999)}y`), 'r'));
  });

  it('caller keys cannot collide across issuer/subject splits or with client ids', () => {
    const a = callerKey({ kind: 'id_token', issuer: 'https://a', subject: 'b c', claims: {} }, 'r');
    const b = callerKey({ kind: 'id_token', issuer: 'https://a b', subject: 'c', claims: {} }, 'r');
    expect(a).not.toBe(b);
    expect(callerKey(client('x'), 'r')).not.toBe(
      callerKey({ kind: 'id_token', issuer: 'c', subject: ':x', claims: {} }, 'r'),
    );
  });
});

describe('mintCacheKey', () => {
  it('is the minter’s key: scopes in any order and repeated give one key; lifetimes and audiences do not', () => {
    const sa = { email: 'sa@p.iam.gserviceaccount.com', backend: 'keyless' as const };
    const at = (scopes: string[], lifetimeSeconds = 3600) =>
      mintCacheKey(sa, { kind: 'access_token', serviceAccount: sa.email, scopes, lifetimeSeconds });
    expect(at(['b', 'a', 'a'])).toBe(at(['a', 'b']));
    expect(at(['a'], 600)).not.toBe(at(['a'], 601));
    const id = (audience: string) =>
      mintCacheKey(sa, { kind: 'id_token', serviceAccount: sa.email, audience });
    expect(id('https://x.a.run.app')).not.toBe(id('https://y.a.run.app'));
  });
});
