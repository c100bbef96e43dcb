/**
 * The policy provider's sources: the names an operator reads in errors, and how each reads.
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
