/**
 * The shared cache's entry format: a token sealed with AES-256-GCM under a data key (DEK), bound
 * by its additional authenticated data to the cache key it is stored for, the DEK's id and the
 * format version. An entry copied to another key's slot, truncated, altered in any byte, or
 * sealed under another DEK fails to open. The plaintext carries the token and its expiry, which
 * the reader checks again (the Redis TTL alone is not trusted).
 *
 * Wire form (base64url of): version (1 byte) | DEK id (16 bytes) | IV (12) | tag (16) | ciphertext.
 */
import { createHash } from 'node:crypto';
import {
  DATA_KEY_ID_BYTES,
  SEAL_OVERHEAD_BYTES,
  isDataKeyId,
  openWithDataKey,
  sealWithDataKey,
  type DataKey,
} from '../../crypto/data-key.js';
import type { DataKeyRejection } from '../../crypto/data-keys.js';
import type { MintedToken } from '../minter.js';

/** The entry format this code writes and the only one it reads. */
export const ENTRY_FORMAT_VERSION = 1;
const HEADER_BYTES = 1 + DATA_KEY_ID_BYTES + SEAL_OVERHEAD_BYTES;
/** Largest sealed entry read back (a token is a few KiB at most); anything larger is refused unread. */
export const MAX_ENTRY_CHARS = 64 * 1024;

/** Why an entry was not served. Carries no token, key or ciphertext. */
export type EntryRejection = 'MALFORMED' | 'UNSUPPORTED_VERSION' | 'AUTHENTICATION_FAILED' | 'BAD_PLAINTEXT';

export class EntryRejected extends Error {
  override readonly name = 'EntryRejected';
  constructor(readonly reason: EntryRejection | DataKeyRejection) {
    super(`shared cache entry rejected: ${reason}`);
  }
}

/** The additional authenticated data of an entry: format, DEK id and the full cache key. */
function entryAad(dekId: string, cacheKey: string): Buffer {
  return Buffer.from(`tvs-shared-cache/entry\0v${ENTRY_FORMAT_VERSION}\0${dekId}\0${cacheKey}`, 'utf8');
}

/** Seals `token` for `cacheKey` under `dek`. */
export function sealEntry(dek: DataKey, cacheKey: string, token: MintedToken): string {
  if (dek.key.length !== 32 || !isDataKeyId(dek.id)) throw new TypeError('sealEntry: malformed data key');
  const plaintext = Buffer.from(JSON.stringify({ t: token.token, e: token.expiresAtMs }), 'utf8');
  return Buffer.concat([
    Buffer.from([ENTRY_FORMAT_VERSION]),
    Buffer.from(dek.id, 'hex'),
    sealWithDataKey(dek, entryAad(dek.id, cacheKey), plaintext),
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
  const plaintext = openWithDataKey(dek, entryAad(dek.id, cacheKey), parts.sealed);
  if (plaintext === undefined) throw new EntryRejected('AUTHENTICATION_FAILED');
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

function parse(sealed: string): { dekId: string; sealed: Buffer } {
  if (typeof sealed !== 'string' || sealed.length > MAX_ENTRY_CHARS || !/^[A-Za-z0-9_-]+$/.test(sealed))
    throw new EntryRejected('MALFORMED');
  const bytes = Buffer.from(sealed, 'base64url');
  if (bytes.length <= HEADER_BYTES) throw new EntryRejected('MALFORMED');
  if (bytes[0] !== ENTRY_FORMAT_VERSION) throw new EntryRejected('UNSUPPORTED_VERSION');
  return {
    dekId: bytes.subarray(1, 1 + DATA_KEY_ID_BYTES).toString('hex'),
    sealed: bytes.subarray(1 + DATA_KEY_ID_BYTES),
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
