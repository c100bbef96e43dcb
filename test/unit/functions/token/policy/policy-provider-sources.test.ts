/**
 * The policy provider's sources and the exact texts and timings of its staleness rules: what an
 * operator reads (source names in errors, the refusal's detail) and when re-reads happen.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptedAudiences } from '../../../../../functions/token/policy/accepted-audiences.js';
import {
  createPolicyProvider,
  filePolicySource,
  POLICY_READ_TIMEOUT_MS,
  secretPolicySource,
  STALE_RETRY_MS,
  type PolicySource,
} from '../../../../../functions/token/policy/policy-provider.js';
import type { SecretAccessor } from '../../../../../shared/gcp/secret-manager.js';

const SA = 'sa@p.iam.gserviceaccount.com';
const POLICY = JSON.stringify({
  version: 1,
  serviceAccounts: { [SA]: { backend: 'keyless' } },
  rules: [
    {
      name: 'r',
      caller: { issuer: 'https://accounts.google.com', email: 'w@p.iam.gserviceaccount.com' },
      serviceAccounts: [SA],
      scopes: ['https://a'],
    },
  ],
});
const audiences = acceptedAudiences(['https://tvs.example.com']);

function switchable(): PolicySource & { reads: number; answer: string | Error } {
  const s = {
    reads: 0,
    answer: POLICY as string | Error,
    describe: () => 'test source',
    read: () => {
      s.reads += 1;
      return s.answer instanceof Error ? Promise.reject(s.answer) : Promise.resolve(s.answer);
    },
  };
  return s;
}

async function setup(ttlMs: number, maxStalenessMs: number) {
  const clock = { now: 0 };
  const src = switchable();
  const failures: unknown[] = [];
  const changes: boolean[] = [];
  const provider = await createPolicyProvider({
    source: src,
    acceptedAudiences: audiences,
    ttlMs,
    maxStalenessMs,
    now: () => clock.now,
    onReloadError: (error) => failures.push(error),
    onStaleChange: (stale) => changes.push(stale),
  });
  return { clock, src, provider, failures, changes };
}

describe('policy sources', () => {
  it('a file source names its path and reads the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tvs-policy-'));
    const path = join(dir, 'policy.json');
    await writeFile(path, POLICY);
    const source = filePolicySource(path);
    expect(source.describe()).toBe(`file ${path}`);
    expect(await source.read()).toBe(POLICY);
  });

  it('a bad policy file fails start-up naming the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tvs-policy-'));
    const path = join(dir, 'policy.json');
    await writeFile(path, POLICY.replace('"name":"r"', '"name":"r","bogus":1'));
    await expect(
      createPolicyProvider({
        source: filePolicySource(path),
        acceptedAudiences: audiences,
        ttlMs: 1000,
        maxStalenessMs: 5000,
      }),
    ).rejects.toThrow(new RegExp(`^Invalid policy from file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('a secret source names the version and reads it with a bounded deadline', async () => {
    const asked: Array<{ name: string; timeoutMs?: number }> = [];
    const secrets = {
      access: (name: string, options?: { timeoutMs?: number }) => {
        asked.push({ name, timeoutMs: options?.timeoutMs });
        return Promise.resolve({ data: Buffer.from(POLICY, 'utf8') });
      },
    } as unknown as SecretAccessor;
    const version = 'projects/p/secrets/policy/versions/latest';
    const source = secretPolicySource(secrets, version);
    expect(source.describe()).toBe(`secret ${version}`);
    expect(await source.read()).toBe(POLICY);
    expect(asked).toEqual([{ name: version, timeoutMs: POLICY_READ_TIMEOUT_MS }]);
  });
});

describe('policy staleness, exactly', () => {
  it('is never stale while no reload has failed, however old the policy (only a failed reload makes it stale)', async () => {
    const { clock, provider } = await setup(60_000, 10_000);
    clock.now = 30_000; // past the maximum, but the TTL has not asked for a re-read yet
    expect(() => provider.current()).not.toThrow();
  });

  it('refuses with a generic message and a detail that names the source, the age and the maximum in seconds', async () => {
    const { clock, src, provider, failures } = await setup(1000, 10_000);
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
    const { clock, src, provider, failures } = await setup(60_000, 10_000);
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
    const { clock, src, provider, failures, changes } = await setup(1000, 5000);
    src.answer = new Error('unreachable');
    clock.now = 1500;
    provider.current();
    await expect.poll(() => failures.length).toBe(1);
    clock.now = 6000;
    await expect(provider.currentForRequest()).rejects.toMatchObject({ reason: 'POLICY_STALE' });
    src.answer = POLICY;
    clock.now += STALE_RETRY_MS;
    await provider.currentForRequest();
    expect(changes).toEqual([true, false]);

    src.answer = new Error('unreachable again');
    clock.now += 1000;
    provider.current();
    await expect.poll(() => failures.length).toBe(2);
    clock.now += 5000;
    await expect(provider.currentForRequest()).rejects.toMatchObject({ reason: 'POLICY_STALE' });
    expect(changes).toEqual([true, false, true]);
  });
});
