/**
 * A data key (DEK) of envelope encryption, and AES-256-GCM under it: what the shared token cache
 * (shared/minting/shared-tier/envelope.ts) and the user-grant store
 * (shared/user-grants/grant-seal.ts) seal their secrets with. Each caller frames the sealed bytes
 * in its own versioned format and binds them, through the additional authenticated data (AAD), to
 * where they are stored; this module only seals and opens.
 *
 * Sealed form: IV (12 bytes, random) | tag (16) | ciphertext.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** A data key: 32 random bytes, named by 16 random bytes (hex) under which its wrapped copy is stored. */
export interface DataKey {
  readonly id: string;
  readonly key: Buffer;
}

export const DATA_KEY_ID_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes {@link sealWithDataKey} adds to the plaintext. */
export const SEAL_OVERHEAD_BYTES = IV_BYTES + TAG_BYTES;

/** A fresh random data key. */
export function newDataKey(): DataKey {
  return { id: randomBytes(DATA_KEY_ID_BYTES).toString('hex'), key: randomBytes(32) };
}

/** Whether `id` has the shape of a data key id (32 lower-case hex digits). */
export function isDataKeyId(id: string): boolean {
  return /^[0-9a-f]{32}$/.test(id);
}

/** AES-256-GCM of `plaintext` under `dek`, authenticating `aad`: IV | tag | ciphertext. */
export function sealWithDataKey(dek: DataKey, aad: Buffer, plaintext: Buffer): Buffer {
  if (dek.key.length !== 32 || !isDataKeyId(dek.id))
    throw new TypeError('sealWithDataKey: malformed data key');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dek.key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

/**
 * Opens what {@link sealWithDataKey} sealed under the same key and AAD; `undefined` when it does
 * not authenticate (wrong key or AAD, truncated, altered) — the caller names the failure.
 */
export function openWithDataKey(dek: DataKey, aad: Buffer, sealed: Buffer): Buffer | undefined {
  if (sealed.length < SEAL_OVERHEAD_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', dek.key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(IV_BYTES, SEAL_OVERHEAD_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(SEAL_OVERHEAD_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
