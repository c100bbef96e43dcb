import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deferred, drain, type Deferred } from '../../../../support/deferred.js';
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

describe('createPolicyProvider: how soon a new policy judges requests', () => {
  /** A source whose reads are answered by the test: each read waits for its own deferred. */
  function controlledSource(first: string) {
    const pending: Array<Deferred<string>> = [];
    let reads = 0;
    const src: PolicySource & { reads(): number; answer(text: string): void; fail(): void } = {
      describe: () => 'controlled',
      read: () => {
        reads += 1;
        if (reads === 1) return Promise.resolve(first);
        const d = deferred<string>();
        pending.push(d);
        return d.promise;
      },
      reads: () => reads,
      answer: (text) => pending.shift()!.resolve(text),
      fail: () => pending.shift()!.reject(new Error('secret manager unavailable')),
    };
    return src;
  }
  const start = async (src: PolicySource, clock: { t: number }) =>
    createPolicyProvider({
      source: src,
      acceptedAudiences: NONE,
      ttlMs: 60_000,
      maxStalenessMs: 3_600_000,
      now: () => clock.t,
    });

  it('past the TTL a request waits for the re-read and is judged by the new policy', async () => {
    const clock = { t: 0 };
    const src = controlledSource(policy('https://a'));
    const provider = await start(src, clock);
    clock.t = 60_000;
    let settled = false;
    const judged = provider.currentForRequest().then((p) => ((settled = true), p));
    await drain();
    expect(src.reads()).toBe(2);
    expect(settled).toBe(false);
    src.answer(policy('https://b'));
    const p = await judged;
    expect(p.authorize(caller, request('https://a')).allowed).toBe(false);
    expect(p.authorize(caller, request('https://b')).allowed).toBe(true);
  });

  it('from 3/4 of the TTL a request starts a re-read in the background and is not made to wait', async () => {
    const clock = { t: 0 };
    const src = controlledSource(policy('https://a'));
    const provider = await start(src, clock);
    clock.t = 44_999;
    await provider.currentForRequest();
    expect(src.reads()).toBe(1);
    clock.t = 45_000;
    const p = await provider.currentForRequest(); // resolves while the read is still pending
    expect(src.reads()).toBe(2);
    expect(p.authorize(caller, request('https://a')).allowed).toBe(true);
    src.answer(policy('https://b'));
    await drain();
    expect((await provider.currentForRequest()).authorize(caller, request('https://b')).allowed).toBe(true);
  });

  it('after a failed re-read, requests past the TTL are served by the last good policy without waiting', async () => {
    const clock = { t: 0 };
    const src = controlledSource(policy('https://a'));
    const provider = await start(src, clock);
    clock.t = 45_000;
    await provider.currentForRequest();
    src.fail();
    await drain();
    clock.t = 120_000; // past the TTL; the next re-read hangs
    const p = await provider.currentForRequest();
    expect(p.authorize(caller, request('https://a')).allowed).toBe(true);
    expect(src.reads()).toBe(3);
  });

  it('currentIfFresh answers synchronously only while currentForRequest would not wait (the TTL bound holds on the cache-hit path)', async () => {
    const clock = { t: 0 };
    const src = controlledSource(policy('https://a'));
    const provider = await start(src, clock);
    clock.t = 44_999;
    expect(provider.currentIfFresh()?.authorize(caller, request('https://a')).allowed).toBe(true);
    expect(src.reads()).toBe(1);
    // From 3/4 of the TTL: still answered, and the background re-read starts, exactly as there.
    clock.t = 45_000;
    expect(provider.currentIfFresh()).toBeDefined();
    expect(src.reads()).toBe(2);
    // Past the TTL while re-reads succeed: no synchronous answer; the request must wait for the read.
    clock.t = 60_000;
    expect(provider.currentIfFresh()).toBeUndefined();
    src.answer(policy('https://b'));
    await drain();
    // The re-read finished at t = 60 s: fresh again, and judged by the new policy.
    expect(provider.currentIfFresh()?.authorize(caller, request('https://b')).allowed).toBe(true);
    // The TTL counts from that read: fresh until 119,999 ms, not at 120,000.
    clock.t = 119_999;
    expect(provider.currentIfFresh()).toBeDefined();
    clock.t = 120_000;
    expect(provider.currentIfFresh()).toBeUndefined();
  });

  it('currentIfFresh serves the last good policy after a failed re-read, and is undefined past the maximum staleness', async () => {
    const clock = { t: 0 };
    const src = controlledSource(policy('https://a'));
    const provider = await start(src, clock);
    clock.t = 45_000;
    provider.currentIfFresh();
    src.fail();
    await drain();
    clock.t = 120_000; // past the TTL after a failure: served without waiting, as currentForRequest does
    expect(provider.currentIfFresh()?.authorize(caller, request('https://a')).allowed).toBe(true);
    clock.t = 3_600_000 + 1; // past the maximum staleness with a read due or running: must wait
    expect(provider.currentIfFresh()).toBeUndefined();
  });

  it('refresh() starts a re-read after a running one, and concurrent refreshes share it', async () => {
    const clock = { t: 0 };
    const src = controlledSource(policy('https://a'));
    const provider = await start(src, clock);
    const running = provider.reload();
    const one = provider.refresh();
    const two = provider.refresh();
    expect(src.reads()).toBe(2);
    src.answer(policy('https://a')); // the running read saw the old text
    await running;
    await drain();
    expect(src.reads()).toBe(3);
    src.answer(policy('https://b'));
    const [p1, p2] = await Promise.all([one, two]);
    expect(p1).toBe(p2);
    expect(p1.authorize(caller, request('https://b')).allowed).toBe(true);
    expect(src.reads()).toBe(3);
  });

  it('refresh() with nothing running reads at once', async () => {
    const clock = { t: 0 };
    const src = controlledSource(policy('https://a'));
    const provider = await start(src, clock);
    const refreshed = provider.refresh();
    expect(src.reads()).toBe(2);
    src.answer(policy('https://b'));
    expect((await refreshed).authorize(caller, request('https://b')).allowed).toBe(true);
  });
});
