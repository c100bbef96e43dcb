import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../../../../shared/errors.js';
import type { SecretAccessor } from '../../../../shared/gcp/secret-manager.js';
import { ServiceAccountKeyStore } from '../../../../shared/minting/key-store.js';

const TOKEN_URI = 'https://oauth2.googleapis.com/token';
const A = 'a@p.iam.gserviceaccount.com';
const B = 'b@p.iam.gserviceaccount.com';
const SECRET = 'projects/p/secrets/shared/versions/current';

function keyFile(email: string, keyId: string, tokenUri = TOKEN_URI): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return JSON.stringify({
    type: 'service_account',
    private_key_id: keyId,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: email,
    token_uri: tokenUri,
  });
}

/** A fake of our own SecretAccessor interface, counting reads. */
function accessor(payloads: string[]): SecretAccessor & { reads: number } {
  const a = {
    reads: 0,
    access: (name: string) => {
      const data = payloads[Math.min(a.reads, payloads.length - 1)];
      a.reads += 1;
      return Promise.resolve({ name: name.replace('current', String(a.reads)), data: Buffer.from(data) });
    },
  };
  return a;
}

describe('ServiceAccountKeyStore', () => {
  const fileA = keyFile(A, 'aaaa');

  it('loads once for concurrent callers and serves the loaded key afterwards', async () => {
    const secrets = accessor([fileA]);
    const store = new ServiceAccountKeyStore({ secrets, tokenUriAllowlist: [TOKEN_URI] });
    const keys = await Promise.all(Array.from({ length: 50 }, () => store.get(SECRET, A)));
    expect(new Set(keys.map((k) => k.keyId))).toEqual(new Set(['aaaa']));
    expect(secrets.reads).toBe(1);
    await store.get(SECRET, A);
    expect(secrets.reads).toBe(1);
  });

  it("never serves one service account's key for another, cached or in flight", async () => {
    const secrets = accessor([fileA]);
    const store = new ServiceAccountKeyStore({ secrets, tokenUriAllowlist: [TOKEN_URI] });
    const [a, b] = await Promise.allSettled([store.get(SECRET, A), store.get(SECRET, B)]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    await expect(store.get(SECRET, B)).rejects.toMatchObject({ reason: 'KEY_INVALID' });
  });

  it.each([
    ['not JSON', 'nope'],
    ['a key file with a token_uri outside the allow-list', keyFile(A, 'bbbb', 'https://evil.example/token')],
    [
      'a key file without a private key',
      JSON.stringify({
        type: 'service_account',
        private_key_id: 'cc',
        client_email: A,
        token_uri: TOKEN_URI,
      }),
    ],
  ])('refuses %s with KEY_INVALID and no key material in the error', async (_name, payload) => {
    const store = new ServiceAccountKeyStore({
      secrets: accessor([payload]),
      tokenUriAllowlist: [TOKEN_URI],
    });
    const err = await store.get(SECRET, A).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).reason).toBe('KEY_INVALID');
    expect(JSON.stringify({ m: (err as Error).message, d: (err as InternalError).detail })).not.toContain(
      'PRIVATE KEY',
    );
  });

  it('re-reads in the background when the key is older than the refresh interval, serving the old key meanwhile', async () => {
    let now = 0;
    const secrets = accessor([fileA, keyFile(A, 'dddd')]);
    const store = new ServiceAccountKeyStore({
      secrets,
      tokenUriAllowlist: [TOKEN_URI],
      refreshIntervalMs: 1000,
      now: () => now,
    });
    expect((await store.get(SECRET, A)).keyId).toBe('aaaa');
    now = 1001;
    expect((await store.get(SECRET, A)).keyId).toBe('aaaa');
    await expect.poll(async () => (await store.get(SECRET, A)).keyId).toBe('dddd');
    expect(secrets.reads).toBe(2);
  });

  it('reloads at once for a refused key, but only if the caller still holds the stale one', async () => {
    const secrets = accessor([fileA, keyFile(A, 'eeee')]);
    const store = new ServiceAccountKeyStore({ secrets, tokenUriAllowlist: [TOKEN_URI] });
    await store.get(SECRET, A);
    const [r1, r2] = await Promise.all([store.reload(SECRET, A, 'aaaa'), store.reload(SECRET, A, 'aaaa')]);
    expect([r1.keyId, r2.keyId]).toEqual(['eeee', 'eeee']);
    expect(secrets.reads).toBe(2);
    expect((await store.reload(SECRET, A, 'aaaa')).keyId).toBe('eeee');
    expect(secrets.reads).toBe(2);
  });
});
