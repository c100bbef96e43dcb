/* eslint-disable @typescript-eslint/require-await -- fakes of async interfaces answer at once */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createDataKeys as createDataKeysOver,
  DataKeyRejected,
  type DataKeysOptions,
} from '../../../../shared/crypto/data-keys.js';
import { KmsError, type KeyWrapper } from '../../../../shared/crypto/kms-client.js';
import {
  redisWrappedKeys,
  SHARED_CACHE_DEK_PURPOSE,
} from '../../../../shared/minting/shared-tier/redis-wrapped-keys.js';
import type { SharedStore } from '../../../../shared/minting/shared-tier/store.js';

/** The data keys as the shared cache builds them: over a SharedStore (Redis) through its adapter. */
const createDataKeys = (
  options: Omit<DataKeysOptions, 'store' | 'purpose'> & { store: SharedStore },
): ReturnType<typeof createDataKeysOver> =>
  createDataKeysOver({
    ...options,
    store: redisWrappedKeys(options.store),
    purpose: SHARED_CACHE_DEK_PURPOSE,
  });

/** A KeyWrapper with a real AES-GCM key, counting calls; a foreign ciphertext is "refused" as KMS would. */
function fakeKms(): KeyWrapper & { calls: { encrypt: number; decrypt: number } } {
  const key = randomBytes(32);
  const calls = { encrypt: 0, decrypt: 0 };
  return {
    calls,
    async encrypt(plaintext, aad) {
      calls.encrypt++;
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
      const body = Buffer.concat([c.update(plaintext), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    async decrypt(ciphertext, aad) {
      calls.decrypt++;
      try {
        const d = createDecipheriv('aes-256-gcm', key, ciphertext.subarray(0, 12)).setAAD(aad);
        d.setAuthTag(ciphertext.subarray(12, 28));
        return Buffer.concat([d.update(ciphertext.subarray(28)), d.final()]);
      } catch {
        throw new KmsError('refused', 'decrypt: HTTP 400 INVALID_ARGUMENT');
      }
    },
  };
}

function memoryStore(): SharedStore & { values: Map<string, string> } {
  const values = new Map<string, string>();
  return {
    values,
    get: async (k) => values.get(k) ?? null,
    set: async (k, v) => void values.set(k, v),
    setIfAbsent: async (k, v) => (values.has(k) ? false : (values.set(k, v), true)),
    deleteIfEquals: async (k, v) => void (values.get(k) === v && values.delete(k)),
    close: async () => undefined,
  };
}

describe('data keys (over the shared cache’s Redis)', () => {
  it('gives the fleet one data key per period: wrapped once, unwrapped once per other instance', async () => {
    const store = memoryStore();
    const kms = fakeKms();
    let now = 1_800_000_000_000;
    const a = createDataKeys({ store, kms, now: () => now });
    const b = createDataKeys({ store, kms, now: () => now });
    const keyA = await a.current();
    const keyB = await b.current();
    expect(keyB).toEqual(keyA);
    await b.byId(keyA.id);
    await b.current();
    expect(kms.calls).toEqual({ encrypt: 1, decrypt: 1 });
    // Never stored in clear: Redis holds the wrapped key only.
    expect([...store.values.values()].some((v) => v.includes(keyA.key.toString('base64')))).toBe(false);
    // The next period has its own key; the old one still opens old entries.
    now += 3_600_000;
    const next = await a.current();
    expect(next.id).not.toBe(keyA.id);
    await expect(a.byId(keyA.id)).resolves.toEqual(keyA);
  });

  it('refuses an id that is not stored, or whose wrapped key KMS does not accept, and does not ask again soon', async () => {
    const store = memoryStore();
    const kms = fakeKms();
    const keys = createDataKeys({ store, kms });
    await expect(keys.byId('0'.repeat(32))).rejects.toEqual(new DataKeyRejected('UNKNOWN_DATA_KEY'));
    store.values.set(`tvs:v1:dek:${'1'.repeat(32)}`, randomBytes(60).toString('base64'));
    await expect(keys.byId('1'.repeat(32))).rejects.toEqual(new DataKeyRejected('DATA_KEY_REFUSED'));
    await expect(keys.byId('1'.repeat(32))).rejects.toEqual(new DataKeyRejected('DATA_KEY_REFUSED'));
    expect(kms.calls.decrypt).toBe(1);
    await expect(keys.byId('not-an-id')).rejects.toEqual(new DataKeyRejected('MALFORMED'));
  });

  it('does not accept a wrapped key moved under another id (the KMS AAD names the id)', async () => {
    const store = memoryStore();
    const kms = fakeKms();
    const real = await createDataKeys({ store, kms }).current();
    const wrapped = store.values.get(`tvs:v1:dek:${real.id}`)!;
    store.values.set(`tvs:v1:dek:${'2'.repeat(32)}`, wrapped);
    await expect(createDataKeys({ store, kms }).byId('2'.repeat(32))).rejects.toEqual(
      new DataKeyRejected('DATA_KEY_REFUSED'),
    );
  });

  it('replaces a period pointer that names a key that is not ours', async () => {
    const store = memoryStore();
    const kms = fakeKms();
    const now = () => 1_800_000_000_000;
    const period = Math.floor(now() / 3_600_000);
    store.values.set(`tvs:v1:dek-current:${period}`, '3'.repeat(32));
    const key = await createDataKeys({ store, kms, now }).current();
    expect(key.id).not.toBe('3'.repeat(32));
    expect(store.values.get(`tvs:v1:dek-current:${period}`)).toBe(key.id);
  });

  it('passes a KMS outage on (the tier falls back), remembering nothing', async () => {
    const store = memoryStore();
    const kms = fakeKms();
    const real = await createDataKeys({ store, kms }).current();
    let down = true;
    const flaky: KeyWrapper = {
      encrypt: (p, a) =>
        down ? Promise.reject(new KmsError('unavailable', 'encrypt: HTTP 503')) : kms.encrypt(p, a),
      decrypt: (c, a) =>
        down ? Promise.reject(new KmsError('unavailable', 'decrypt: HTTP 503')) : kms.decrypt(c, a),
    };
    const keys = createDataKeys({ store, kms: flaky });
    await expect(keys.byId(real.id)).rejects.toBeInstanceOf(KmsError);
    // Once KMS is back, the same instance unwraps the same id (an outage is not a refusal).
    down = false;
    await expect(keys.byId(real.id)).resolves.toEqual(real);
  });
});

describe('data keys in encrypt-only mode (an identity without KMS decrypt)', () => {
  it('seals with a key of its own per instance and period, stored wrapped, and never calls KMS decrypt', async () => {
    const store = memoryStore();
    const kms = fakeKms();
    let now = 1_800_000_000_000;
    // A decrypting instance published the period's fleet key first: encrypt-only instances ignore it.
    const reader = createDataKeys({ store, kms, now: () => now });
    const fleet = await reader.current();
    const a = createDataKeys({ store, kms, now: () => now, encryptOnly: true });
    const b = createDataKeys({ store, kms, now: () => now, encryptOnly: true });
    const keyA = await a.current();
    const keyB = await b.current();
    expect(keyA.id).not.toBe(fleet.id);
    expect(keyB.id).not.toBe(keyA.id);
    expect(await a.current()).toBe(keyA);
    expect(await a.byId(keyA.id)).toBe(keyA);
    // Another instance's key (or the fleet's) would need decrypt: refused without asking KMS.
    await expect(a.byId(keyB.id)).rejects.toEqual(new DataKeyRejected('UNKNOWN_DATA_KEY'));
    await expect(a.byId(fleet.id)).rejects.toEqual(new DataKeyRejected('UNKNOWN_DATA_KEY'));
    now += 3_600_000;
    const next = await a.current();
    expect(next.id).not.toBe(keyA.id);
    expect(kms.calls).toEqual({ encrypt: 4, decrypt: 0 });
    // What it sealed opens for a decrypting reader: the wrapped copy is stored under its id.
    const cold = createDataKeys({ store, kms, now: () => now });
    expect((await cold.byId(keyA.id)).key).toEqual(keyA.key);
  });
});
