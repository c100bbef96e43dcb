/** The `clients` section of the policy: scrypt hashes only, bounded parameters, no legacy SHA-256. */
import { describe, expect, it } from 'vitest';
import { compilePolicy, PolicyError } from '../../../../../functions/token/policy/compile-policy.js';
import {
  DEFAULT_SCRYPT_PARAMS,
  hashClientSecret,
  verifyClientSecret,
} from '../../../../../functions/token/oauth/client-secret-hash.js';

const SA = 'gemini@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const salt = (fill: number) => Buffer.alloc(16, fill).toString('base64url');
const HASH = Buffer.alloc(32, 9).toString('base64url');
const hashString = (params = 'N=16384,r=8,p=1', fill = 1) => `scrypt$${params}$${salt(fill)}$${HASH}`;

function policy(clients: Record<string, unknown>): unknown {
  return {
    version: 1,
    serviceAccounts: { [SA]: {} },
    clients,
    rules: Object.keys(clients).map((id, i) => ({
      name: `client-${i}`,
      caller: { client: id },
      serviceAccounts: [SA],
      scopes: [CP],
    })),
  };
}

describe('policy clients', () => {
  it('compiles a scrypt hash and hands it out parsed', () => {
    const p = compilePolicy(policy({ batch: { secretHash: hashString(), description: 'nightly batch' } }));
    expect(p.clientSecretHash('batch')).toMatchObject({ params: DEFAULT_SCRYPT_PARAMS });
    expect(p.clientSecretHash('batch')?.hash).toEqual(Buffer.alloc(32, 9));
    expect(p.clientSecretHash('nobody')).toBeUndefined();
  });

  it('verifies a secret hashed by the tool through the compiled policy', async () => {
    const secret = 'Yx2b7Q1cT9rWm4pZk8sN3vH6jL0dF5gA-_eRuIoPqXw';
    const p = compilePolicy(policy({ batch: { secretHash: await hashClientSecret(secret) } }));
    expect(await verifyClientSecret(secret, p.clientSecretHash('batch')!)).toBe(true);
  });

  it('offers a dummy hash with the parameters its clients use, for unknown ids', () => {
    const p = compilePolicy(
      policy({
        a: { secretHash: hashString('N=32768,r=8,p=1', 1) },
        b: { secretHash: hashString('N=32768,r=8,p=1', 2) },
      }),
    );
    expect(p.dummyClientSecretHash.params).toEqual({ N: 32768, r: 8, p: 1 });
    expect(p.dummyClientSecretHash.hash).toHaveLength(32);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a legacy secretSha256 field',
      { batch: { secretSha256: 'a'.repeat(64) } },
      /clients\.batch\.secretSha256: an unsalted SHA-256 .*no longer accepted.*npm run -s hash-client-secret -- --generate.*"secretHash"/s,
    ],
    [
      'a legacy sha256: value in secretHash',
      { batch: { secretHash: `sha256:${'a'.repeat(64)}` } },
      /clients\.batch\.secretHash: an unsalted SHA-256 .*no longer accepted/,
    ],
    ['a client without a hash', { batch: { description: 'x' } }, /clients\.batch\.secretHash: is required/],
    [
      'both fields',
      { batch: { secretHash: hashString(), secretSha256: 'a'.repeat(64) } },
      /clients\.batch\.secretSha256/,
    ],
    [
      'a plaintext secret',
      { batch: { secretHash: 'hunter2hunter2hunter2' } },
      /clients\.batch\.secretHash: must be scrypt\$N=/,
    ],
    [
      'a work factor below the minimum',
      { batch: { secretHash: hashString('N=1024,r=8,p=1') } },
      /clients\.batch\.secretHash: N must be/,
    ],
    [
      'a work factor that would make every request burn a gigabyte',
      { batch: { secretHash: hashString('N=1048576,r=8,p=1') } },
      /clients\.batch\.secretHash: N must be/,
    ],
    [
      'a huge parallelism',
      { batch: { secretHash: hashString('N=16384,r=8,p=99') } },
      /clients\.batch\.secretHash: p must be/,
    ],
    ['a hash that is not a string', { batch: { secretHash: 42 } }, /clients\.batch\.secretHash/],
    [
      'two clients sharing one hash (one secret, or a copy-paste)',
      { a: { secretHash: hashString() }, b: { secretHash: hashString() } },
      /clients\.b\.secretHash: the same hash as client "a"/,
    ],
  ])('refuses %s at compile time', (_name, clients, message) => {
    expect(() => compilePolicy(policy(clients))).toThrow(PolicyError);
    expect(() => compilePolicy(policy(clients))).toThrow(message);
  });

  it('does not echo a plaintext pasted as the hash in the error', () => {
    const pasted = 'pasted-plaintext-client-secret-0123456789';
    expect(() => compilePolicy(policy({ batch: { secretHash: pasted } }))).toThrow(PolicyError);
    try {
      compilePolicy(policy({ batch: { secretHash: pasted } }));
    } catch (err) {
      expect((err as Error).message).not.toContain(pasted);
    }
  });
});
