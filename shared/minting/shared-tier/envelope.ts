/**
 * The shared cache's entry format: a token sealed with AES-256-GCM under a data key (DEK), bound
 * by its additional authenticated data to the cache key it is stored for, the DEK's id and the
 * format version. An entry copied to another key's slot, truncated, altered in any byte, or
 * sealed under another DEK fails to open. The plaintext carries the token and its expiry, which
 * the reader checks again (the Redis TTL alone is not trusted).
 *
 * Wire form (base64url of): version (1 byte) | DEK id (16 bytes) | IV (12) | tag (16) | ciphertext.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { MintedToken } from '../minter.js';

/** The entry format this code writes and the only one it reads. */
export const ENTRY_FORMAT_VERSION = 1;
const DEK_ID_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + DEK_ID_BYTES + IV_BYTES + TAG_BYTES;
/** Largest sealed entry read back (a token is a few KiB at most); anything larger is refused unread. */
export const MAX_ENTRY_CHARS = 64 * 1024;

/** A data key: 32 random bytes, named by 16 random bytes (hex) under which its wrapped copy is stored. */
export interface DataKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Why an entry was not served. Carries no token, key or ciphertext. */
export type EntryRejection = 'MALFORMED' | 'UNSUPPORTED_VERSION' | 'AUTHENTICATION_FAILED' | 'BAD_PLAINTEXT';

export class EntryRejected extends Error {
  override readonly name = 'EntryRejected';
  constructor(readonly reason: EntryRejection | 'UNKNOWN_DATA_KEY' | 'DATA_KEY_REFUSED') {
    super(`shared cache entry rejected: ${reason}`);
  }
}

/** A fresh random data key. */
export function newDataKey(): DataKey {
  return { id: randomBytes(DEK_ID_BYTES).toString('hex'), key: randomBytes(32) };
}

/** Whether `id` has the shape of a data key id (32 lower-case hex digits). */
export function isDataKeyId(id: string): boolean {
  return /^[0-9a-f]{32}$/.test(id);
}

/** The additional authenticated data of an entry: format, DEK id and the full cache key. */
function entryAad(dekId: string, cacheKey: string): Buffer {
  return Buffer.from(`tvs-shared-cache/entry\0v${ENTRY_FORMAT_VERSION}\0${dekId}\0${cacheKey}`, 'utf8');
}

/** Seals `token` for `cacheKey` under `dek`. */
export function sealEntry(dek: DataKey, cacheKey: string, token: MintedToken): string {
  if (dek.key.length !== 32 || !isDataKeyId(dek.id)) throw new TypeError('sealEntry: malformed data key');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', dek.key, iv);
  cipher.setAAD(entryAad(dek.id, cacheKey));
  const plaintext = Buffer.from(JSON.stringify({ t: token.token, e: token.expiresAtMs }), 'utf8');
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([
    Buffer.from([ENTRY_FORMAT_VERSION]),
    Buffer.from(dek.id, 'hex'),
    iv,
    cipher.getAuthTag(),
    ciphertext,
  ]).toString('base64url');
}

/** The DEK id a sealed entry names (to find its key), or throws {@link EntryRejected}. */
export function entryDataKeyId(sealed: string): string {
  return parse(sealed).dekId;
}

/** Opens an entry sealed for `cacheKey`; throws {@link EntryRejected} on any mismatch. */
export function openEntry(dek: DataKey, cacheKey: string, sealed: string): MintedToken {
  const parts = parse(sealed);
  if (parts.dekId !== dek.id) throw new EntryRejected('AUTHENTICATION_FAILED');
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', dek.key, parts.iv);
    decipher.setAAD(entryAad(dek.id, cacheKey));
    decipher.setAuthTag(parts.tag);
    plaintext = Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
  } catch {
    throw new EntryRejected('AUTHENTICATION_FAILED');
  }
  let value: unknown;
  try {
    value = JSON.parse(plaintext.toString('utf8'));
  } catch {
    throw new EntryRejected('BAD_PLAINTEXT');
  }
  const { t, e } = (value ?? {}) as { t?: unknown; e?: unknown };
  if (typeof t !== 'string' || t === '' || typeof e !== 'number' || !Number.isSafeInteger(e))
    throw new EntryRejected('BAD_PLAINTEXT');
  return { token: t, expiresAtMs: e };
}

function parse(sealed: string): { dekId: string; iv: Buffer; tag: Buffer; ciphertext: Buffer } {
  if (typeof sealed !== 'string' || sealed.length > MAX_ENTRY_CHARS || !/^[A-Za-z0-9_-]+$/.test(sealed))
    throw new EntryRejected('MALFORMED');
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length <= HEADER_BYTES) throw new EntryRejected('MALFORMED');
  if (bytes[0] !== ENTRY_FORMAT_VERSION) throw new EntryRejected('UNSUPPORTED_VERSION');
  return {
    dekId: bytes.subarray(1, 1 + DEK_ID_BYTES).toString('hex'),
    iv: bytes.subarray(1 + DEK_ID_BYTES, 1 + DEK_ID_BYTES + IV_BYTES),
    tag: bytes.subarray(1 + DEK_ID_BYTES + IV_BYTES, HEADER_BYTES),
    ciphertext: bytes.subarray(HEADER_BYTES),
  };
}

/**
 * The Redis key names: a SHA-256 of the cache key (which names the service account and scopes),
 * never the cache key itself. A reader of Redis can still confirm a guessed cache key; it cannot
 * list them, and learns nothing of a token.
 */
export function redisKeys(cacheKey: string): { entry: string; lock: string } {
  const digest = createHash('sha256').update(`tvs-shared-cache\0${cacheKey}`, 'utf8').digest('hex');
  return {
    entry: `tvs:v${ENTRY_FORMAT_VERSION}:tok:${digest}`,
    lock: `tvs:v${ENTRY_FORMAT_VERSION}:lock:${digest}`,
  };
}
