/**
 * A policy that cannot be re-read is trusted only for a bounded time: past the maximum staleness
 * (since the last successful load) requests fail closed until a re-read succeeds. Injected clock.
 */
import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../../../shared/errors.js';
import { acceptedAudiences } from '../../../../../functions/token/policy/accepted-audiences.js';
import type { CompiledPolicy } from '../../../../../functions/token/policy/compile-policy.js';
import {
  createPolicyProvider,
  STALE_RETRY_MS,
  type PolicyStatus,
  type PolicySource,
} from '../../../../../functions/token/policy/policy-provider.js';

const SA = 'sa@p.iam.gserviceaccount.com';
const policy = (scope: string) =>
  JSON.stringify({
    version: 1,
    serviceAccounts: { [SA]: { backend: 'keyless' } },
    rules: [
      {
        name: 'r',
        caller: { issuer: 'https://accounts.google.com', email: 'w@p.iam.gserviceaccount.com' },
        serviceAccounts: [SA],
        scopes: [scope],
      },
    ],
  });
const caller = {
  kind: 'id_token' as const,
  issuer: 'https://accounts.google.com',
  subject: '1',
  email: 'w@p.iam.gserviceaccount.com',
  emailVerified: true,
  claims: {},
};
const allows = (scope: string) => (p: CompiledPolicy) =>
  p.authorize(caller, { kind: 'access_token', serviceAccount: SA, scopes: [scope], lifetimeSeconds: 60 })
    .allowed;

/** A source whose answer the test sets: a policy text, or an error. */
function switchable(initial: string): PolicySource & { reads: number; answer: string | Error } {
  const s = {
    reads: 0,
    answer: initial as string | Error,
    describe: () => 'test source',
    read: () => {
      s.reads += 1;
      return s.answer instanceof Error ? Promise.reject(s.answer) : Promise.resolve(s.answer);
    },
  };
  return s;
}

async function setup(options: { ttlMs?: number; maxStalenessMs?: number } = {}) {
  const clock = { now: 0 };
  const src = switchable(policy('https://a'));
  const failures: Array<{ error: unknown; status: PolicyStatus }> = [];
  const changes: Array<{ stale: boolean; status: PolicyStatus }> = [];
  const provider = await createPolicyProvider({
    source: src,
    acceptedAudiences: acceptedAudiences(['https://tvs.example.com']),
    ttlMs: options.ttlMs ?? 1000,
    maxStalenessMs: options.maxStalenessMs ?? 5000,
    now: () => clock.now,
    onReloadError: (error, status) => failures.push({ error, status }),
    onStaleChange: (stale, status) => changes.push({ stale, status }),
  });
  return { clock, src, provider, failures, changes };
}

describe('policy staleness', () => {
  it('keeps the last good policy while reloads fail, until the maximum staleness', async () => {
    const { clock, src, provider, failures } = await setup();
    src.answer = '{"version": 2}';
    clock.now = 1500;
    expect(allows('https://a')(provider.current())).toBe(true);
    await expect.poll(() => failures.length).toBe(1);
    clock.now = 5000;
    expect(allows('https://a')(provider.current())).toBe(true);
    expect(allows('https://a')(await provider.currentForRequest())).toBe(true);
  });

  it('fails closed with UNAVAILABLE / POLICY_STALE past the maximum staleness, and recovers as soon as a reload succeeds', async () => {
    const { clock, src, provider, failures, changes } = await setup();
    src.answer = new Error('secret access denied');
    clock.now = 1500;
    provider.current();
    await expect.poll(() => failures.length).toBe(1);

    clock.now = 5001;
    const refused = provider.currentForRequest();
    await expect(refused).rejects.toBeInstanceOf(UnavailableError);
    await expect(refused).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      reason: 'POLICY_STALE',
      retryAfterSeconds: expect.any(Number),
    });
    expect(() => provider.current()).toThrow(expect.objectContaining({ reason: 'POLICY_STALE' }));
    expect(changes).toEqual([
      { stale: true, status: expect.objectContaining({ stale: true, lastGoodAgeMs: 5001 }) },
    ]);
    // The message is generic; the error text of the source stays in the log.
    await expect(refused).rejects.not.toThrow(/secret access denied/);

    src.answer = policy('https://b');
    clock.now += STALE_RETRY_MS;
    const recovered = await provider.currentForRequest();
    expect(allows('https://b')(recovered)).toBe(true);
    expect(allows('https://b')(provider.current())).toBe(true);
    expect(changes.map((c) => c.stale)).toEqual([true, false]);
    expect(changes[1].status).toMatchObject({ stale: false, lastGoodAgeMs: 0, consecutiveFailures: 0 });
  });

  it('reports every failed reload with the age of the last good policy and whether it is stale', async () => {
    const { clock, src, provider, failures } = await setup();
    src.answer = '{not json';
    clock.now = 1500;
    provider.current();
    await expect.poll(() => failures.length).toBe(1);
    clock.now = 6000;
    await expect(provider.currentForRequest()).rejects.toMatchObject({ reason: 'POLICY_STALE' });
    expect(failures.map((f) => f.status)).toEqual([
      { lastGoodAgeMs: 1500, stale: false, consecutiveFailures: 1 },
      { lastGoodAgeMs: 6000, stale: true, consecutiveFailures: 2 },
    ]);
  });

  it('while stale, re-reads at most once per retry interval, however many requests arrive', async () => {
    const { clock, src, provider, failures } = await setup();
    src.answer = new Error('unreachable');
    clock.now = 1500;
    provider.current();
    await expect.poll(() => failures.length).toBe(1);
    clock.now = 6000;
    const readsBefore = src.reads;
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => provider.currentForRequest()));
    for (let i = 0; i < 50; i++)
      expect(() => provider.current()).toThrow(expect.objectContaining({ reason: 'POLICY_STALE' }));
    await Promise.allSettled(Array.from({ length: 50 }, () => provider.currentForRequest()));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(src.reads - readsBefore).toBe(1);
    clock.now += STALE_RETRY_MS;
    await expect(provider.currentForRequest()).rejects.toMatchObject({ reason: 'POLICY_STALE' });
    expect(src.reads - readsBefore).toBe(2);
  });

  it('on an instance idle past the maximum staleness, waits for one re-read instead of failing', async () => {
    const { clock, src, provider, changes } = await setup();
    src.answer = policy('https://b');
    clock.now = 60_000;
    expect(allows('https://b')(await provider.currentForRequest())).toBe(true);
    expect(src.reads).toBe(2);
    expect(changes).toEqual([]);
  });

  it('does not echo the policy text when it is not JSON', async () => {
    const { clock, src, provider, failures } = await setup();
    src.answer = '{"clients": {"ci": {"secret": hunter2-very-secret}}}';
    clock.now = 1500;
    provider.current();
    await expect.poll(() => failures.length).toBe(1);
    expect(String(failures[0].error)).toMatch(/not valid JSON/);
    expect(String(failures[0].error)).not.toContain('hunter2');
  });
});

describe('policy staleness, exactly', () => {
  it('is never stale while no reload has failed, however old the policy (only a failed reload makes it stale)', async () => {
    const { clock, provider } = await setup({ ttlMs: 60_000, maxStalenessMs: 10_000 });
    clock.now = 30_000; // past the maximum, but the TTL has not asked for a re-read yet
    expect(() => provider.current()).not.toThrow();
  });

  it('refuses with a generic message and a detail that names the source, the age and the maximum in seconds', async () => {
    const { clock, src, provider, failures } = await setup({ ttlMs: 1000, maxStalenessMs: 10_000 });
    clock.now = 2000;
    await provider.reload(); // the last good policy is from t = 2 s
    src.answer = new Error('unreachable');
    clock.now = 3500;
    provider.current();
    await expect.poll(() => failures.length).toBe(1);
    clock.now = 14_345;
    const refused = provider.currentForRequest();
    await expect(refused).rejects.toMatchObject({
      message: 'The service cannot confirm that its token policy is current; try again later.',
      reason: 'POLICY_STALE',
      detail: 'no successful policy reload from test source for 12 s (maximum 10 s)',
      retryAfterSeconds: 10,
    });
  });

  it('past the maximum, re-reads every retry interval even when the TTL is longer', async () => {
    const { clock, src, provider, failures } = await setup({ ttlMs: 60_000, maxStalenessMs: 10_000 });
    src.answer = new Error('unreachable');
    clock.now = 60_000;
    provider.current(); // TTL due: the first failed re-read
    await expect.poll(() => failures.length).toBe(1);
    const before = src.reads;
    clock.now += STALE_RETRY_MS;
    await expect(provider.currentForRequest()).rejects.toMatchObject({ reason: 'POLICY_STALE' });
    expect(src.reads).toBe(before + 1);
  });

  it('reports each new outage: stale, recovered, stale again', async () => {
    const { clock, src, provider, failures, changes } = await setup({ ttlMs: 1000, maxStalenessMs: 5000 });
    src.answer = new Error('unreachable');
    clock.now = 1500;
    provider.current();
    await expect.poll(() => failures.length).toBe(1);
    clock.now = 6000;
    await expect(provider.currentForRequest()).rejects.toMatchObject({ reason: 'POLICY_STALE' });
    src.answer = policy('https://a');
    clock.now += STALE_RETRY_MS;
    await provider.currentForRequest();
    expect(changes.map((c) => c.stale)).toEqual([true, false]);

    src.answer = new Error('unreachable again');
    clock.now += 1000;
    provider.current();
    await expect.poll(() => failures.length).toBe(2);
    clock.now += 5000;
    await expect(provider.currentForRequest()).rejects.toMatchObject({ reason: 'POLICY_STALE' });
    expect(changes.map((c) => c.stale)).toEqual([true, false, true]);
  });
});
