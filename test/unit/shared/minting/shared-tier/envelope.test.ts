import { describe, expect, it } from 'vitest';
import { newDataKey } from '../../../../../shared/crypto/data-key.js';
import {
  EntryRejected,
  entryDataKeyId,
  openEntry,
  redisKeys,
  sealEntry,
} from '../../../../../shared/minting/shared-tier/envelope.js';

const KEY = 'id|vertex@p.iam.gserviceaccount.com|keyless|noemail|https://a.example';
const TOKEN = { token: 'eyJhbGciOiJSUzI1NiJ9.payload.signature', expiresAtMs: 1_800_000_000_000 };

const rejection = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof EntryRejected) return err.reason;
    throw err;
  }
  throw new Error('not rejected');
};

describe('the shared cache entry envelope', () => {
  it('opens what it sealed, for the same cache key and data key', () => {
    const dek = newDataKey();
    const sealed = sealEntry(dek, KEY, TOKEN);
    expect(entryDataKeyId(sealed)).toBe(dek.id);
    expect(openEntry(dek, KEY, sealed)).toEqual(TOKEN);
  });

  it('never carries the token, its parts or the cache key in clear', () => {
    const sealed = sealEntry(newDataKey(), KEY, TOKEN);
    const bytes = Buffer.from(sealed, 'base64url').toString('latin1');
    for (const part of [TOKEN.token, ...TOKEN.token.split('.'), 'vertex@p', 'https://a.example'])
      expect(sealed.includes(part) || bytes.includes(part)).toBe(false);
  });

  it('seals each time under a fresh IV (equal tokens give different entries)', () => {
    const dek = newDataKey();
    expect(sealEntry(dek, KEY, TOKEN)).not.toBe(sealEntry(dek, KEY, TOKEN));
  });

  it('refuses an entry moved to another cache key (the AAD names the key)', () => {
    const dek = newDataKey();
    const sealed = sealEntry(dek, KEY, TOKEN);
    expect(rejection(() => openEntry(dek, `${KEY}x`, sealed))).toBe('AUTHENTICATION_FAILED');
  });

  it('refuses an entry opened with another data key, or naming another key id', () => {
    const dek = newDataKey();
    const sealed = sealEntry(dek, KEY, TOKEN);
    expect(rejection(() => openEntry(newDataKey(), KEY, sealed))).toBe('AUTHENTICATION_FAILED');
    // Same key material under another id: the id is authenticated too.
    expect(rejection(() => openEntry({ id: newDataKey().id, key: dek.key }, KEY, sealed))).toBe(
      'AUTHENTICATION_FAILED',
    );
  });

  it.each([
    ['the version byte', 0],
    ['the data key id', 5],
    ['the IV', 20],
    ['the tag', 35],
    ['the ciphertext', -1],
  ])('refuses an entry with one bit of %s flipped', (_what, index) => {
    const dek = newDataKey();
    const bytes = Buffer.from(sealEntry(dek, KEY, TOKEN), 'base64url');
    bytes[index < 0 ? bytes.length + index : index] ^= 0x04;
    const reason = rejection(() => openEntry(dek, KEY, bytes.toString('base64url')));
    expect(['AUTHENTICATION_FAILED', 'UNSUPPORTED_VERSION']).toContain(reason);
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'abc$def'],
    ['only a header', Buffer.alloc(45, 1).toString('base64url')],
    ['too long', 'A'.repeat(70_000)],
  ])('refuses a malformed entry (%s) without trying to decrypt it', (_what, sealed) => {
    expect(rejection(() => entryDataKeyId(sealed))).toBe('MALFORMED');
  });

  it('refuses a truncated entry', () => {
    const dek = newDataKey();
    const sealed = sealEntry(dek, KEY, TOKEN);
    expect(rejection(() => openEntry(dek, KEY, sealed.slice(0, sealed.length - 4)))).toBe(
      'AUTHENTICATION_FAILED',
    );
  });

  it('names Redis keys by a hash of the cache key, entry and lock apart', () => {
    const keys = redisKeys(KEY);
    expect(keys.entry).toMatch(/^tvs:v1:tok:[0-9a-f]{64}$/);
    expect(keys.lock).toBe(keys.entry.replace(':tok:', ':lock:'));
    expect(redisKeys(`${KEY} `).entry).not.toBe(keys.entry);
  });
});
