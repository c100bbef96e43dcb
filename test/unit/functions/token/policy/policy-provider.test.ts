import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptedAudiences } from '../../../../../functions/token/policy/accepted-audiences.js';
import { PolicyError } from '../../../../../functions/token/policy/compile-policy.js';
import {
  createPolicyProvider,
  filePolicySource,
  POLICY_READ_TIMEOUT_MS,
  secretPolicySource,
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
const NONE = acceptedAudiences(['https://tvs.example.com']);
const caller = {
  kind: 'id_token' as const,
  issuer: 'https://accounts.google.com',
  subject: '1',
  email: 'w@p.iam.gserviceaccount.com',
  emailVerified: true,
  claims: {},
};
const request = (scope: string) => ({
  kind: 'access_token' as const,
  serviceAccount: SA,
  scopes: [scope],
  lifetimeSeconds: 60,
});

function source(texts: string[]): PolicySource & { reads: number } {
  const s = {
    reads: 0,
    describe: () => 'test source',
    read: () => {
      const text = texts[Math.min(s.reads, texts.length - 1)];
      s.reads += 1;
      return Promise.resolve(text);
    },
  };
  return s;
}

describe('createPolicyProvider', () => {
  it('fails start-up on a bad policy, naming the source, rule and field', async () => {
    const bad = JSON.stringify({
      version: 1,
      serviceAccounts: {},
      rules: [
        { name: 'broken', caller: { issuer: 'x' }, serviceAccounts: ['a@b.com'], scopes: ['https://s'] },
      ],
    });
    await expect(
      createPolicyProvider({
        source: source([bad]),
        acceptedAudiences: NONE,
        ttlMs: 1000,
        maxStalenessMs: 3_600_000,
      }),
    ).rejects.toThrow(PolicyError);
    await expect(
      createPolicyProvider({
        source: source([bad]),
        acceptedAudiences: NONE,
        ttlMs: 1000,
        maxStalenessMs: 3_600_000,
      }),
    ).rejects.toThrow(/test source[\s\S]*rules\[0\] \(name=broken\)/);
    await expect(
      createPolicyProvider({
        source: source(['{not json']),
        acceptedAudiences: NONE,
        ttlMs: 1000,
        maxStalenessMs: 3_600_000,
      }),
    ).rejects.toThrow(/not valid JSON/);
  });

  it('loads a YAML policy, and refuses broken YAML naming the source and line', async () => {
    const yaml = `version: 1
serviceAccounts:
  ${SA}: {backend: keyless}
rules:
  - name: r
    caller: {issuer: https://accounts.google.com, email: w@p.iam.gserviceaccount.com}
    serviceAccounts: [${SA}]
    scopes: [https://a]
`;
    const provider = await createPolicyProvider({
      source: source([yaml]),
      acceptedAudiences: NONE,
      ttlMs: 1000,
      maxStalenessMs: 3_600_000,
    });
    expect(provider.current().authorize(caller, request('https://a')).allowed).toBe(true);
    await expect(
      createPolicyProvider({
        source: source([`${yaml}rules: []\n`]),
        acceptedAudiences: NONE,
        ttlMs: 1000,
        maxStalenessMs: 3_600_000,
      }),
    ).rejects.toThrow('Invalid policy from test source: not valid YAML (line 9, column 1: duplicate key)');
  });

  it('re-reads the policy in the background after the TTL and then judges by the new one', async () => {
    let now = 0;
    const src = source([policy('https://a'), policy('https://b')]);
    const provider = await createPolicyProvider({
      source: src,
      acceptedAudiences: NONE,
      ttlMs: 1000,
      maxStalenessMs: 3_600_000,
      now: () => now,
    });
    expect(provider.current().authorize(caller, request('https://a')).allowed).toBe(true);
    now = 999;
    provider.current();
    expect(src.reads).toBe(1);
    now = 1001;
    expect(provider.current().authorize(caller, request('https://a')).allowed).toBe(true); // still the old one while reloading
    await provider.reload();
    expect(provider.current().authorize(caller, request('https://b')).allowed).toBe(true);
    expect(provider.current().authorize(caller, request('https://a')).allowed).toBe(false);
  });

  it('keeps the last good policy when a re-read is bad, and reports it', async () => {
    let now = 0;
    const errors: unknown[] = [];
    const provider = await createPolicyProvider({
      source: source([policy('https://a'), '{"version": 2}']),
      acceptedAudiences: NONE,
      ttlMs: 10,
      maxStalenessMs: 3_600_000,
      now: () => now,
      onReloadError: (e) => errors.push(e),
    });
    now = 20;
    provider.current();
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(PolicyError);
    expect(provider.current().authorize(caller, request('https://a')).allowed).toBe(true);
  });

  it('refuses, at start-up and on reload, a policy minting ID tokens for an audience the service accepts', async () => {
    const selfMinting = JSON.stringify({
      version: 1,
      serviceAccounts: { [SA]: { backend: 'keyless' } },
      rules: [
        {
          name: 'mirror',
          caller: { issuer: 'https://accounts.google.com', email: 'w@p.iam.gserviceaccount.com' },
          serviceAccounts: [SA],
          idTokenAudiences: ['https://*.example.com'],
        },
      ],
    });
    await expect(
      createPolicyProvider({
        source: source([selfMinting]),
        acceptedAudiences: NONE,
        ttlMs: 1000,
        maxStalenessMs: 3_600_000,
      }),
    ).rejects.toThrow(/rules\[0\] \(name=mirror\)\.idTokenAudiences\[0\]/);
    const provider = await createPolicyProvider({
      source: source([policy('https://a'), selfMinting]),
      acceptedAudiences: NONE,
      ttlMs: 1000,
      maxStalenessMs: 3_600_000,
    });
    await expect(provider.reload()).rejects.toThrow(PolicyError);
    expect(provider.current().authorize(caller, request('https://a')).allowed).toBe(true);
  });
});

describe('secretPolicySource', () => {
  it('reads the policy secret with a bounded deadline, so a hung read counts as a failed reload', async () => {
    const calls: Array<{ name: string; options: unknown }> = [];
    const source = secretPolicySource(
      {
        access: (name, options) => {
          calls.push({ name, options });
          return Promise.resolve({ data: Buffer.from(policy('s')) } as never);
        },
      },
      'projects/p/secrets/tvs-policy/versions/latest',
    );
    expect(source.describe()).toBe('secret projects/p/secrets/tvs-policy/versions/latest');
    expect(JSON.parse(await source.read())).toMatchObject({ version: 1 });
    expect(calls).toEqual([
      {
        name: 'projects/p/secrets/tvs-policy/versions/latest',
        options: { timeoutMs: POLICY_READ_TIMEOUT_MS },
      },
    ]);
    expect(POLICY_READ_TIMEOUT_MS).toBeLessThanOrEqual(10_000);
  });
});

describe('filePolicySource', () => {
  it('names its path and reads the file', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'tvs-policy-')), 'policy.json');
    await writeFile(path, policy('https://a'));
    const source = filePolicySource(path);
    expect(source.describe()).toBe(`file ${path}`);
    expect(await source.read()).toBe(policy('https://a'));
  });

  it('a bad policy file fails start-up naming the file', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'tvs-policy-')), 'policy.json');
    await writeFile(path, policy('https://a').replace('"name":"r"', '"name":"r","bogus":1'));
    await expect(
      createPolicyProvider({
        source: filePolicySource(path),
        acceptedAudiences: NONE,
        ttlMs: 1000,
        maxStalenessMs: 5000,
      }),
    ).rejects.toThrow(new RegExp(`^Invalid policy from file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});
