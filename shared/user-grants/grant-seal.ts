/**
 * The `sealed` field of a grant document: the refresh token under AES-256-GCM with a fleet data
 * key (shared/crypto/data-key.ts), bound by its additional authenticated data to the format
 * version, the DEK id, the OAuth client and the Google user. A value copied into another user's
 * (or client's) document, sealed under another DEK than the document names, truncated or altered
 * in any byte fails to open.
 *
 * Wire form: version (1 byte) | IV (12) | tag (16) | ciphertext. The DEK id is the document's
 * `dekId` field (and in the AAD).
 */
import { openWithDataKey, sealWithDataKey, SEAL_OVERHEAD_BYTES, type DataKey } from '../crypto/data-key.js';

/** The format this code writes and the only one it reads. */
export const GRANT_SEAL_VERSION = 1;
/** Refresh tokens are ~100 bytes; anything far larger is not ours. */
const MAX_SEALED_BYTES = 8 * 1024;

/** Why a sealed value did not open. Carries no token, key or ciphertext. */
export type SealRejection = 'MALFORMED' | 'UNSUPPORTED_VERSION' | 'AUTHENTICATION_FAILED';

export class SealRejected extends Error {
  override readonly name = 'SealRejected';
  constructor(readonly reason: SealRejection) {
    super(`sealed refresh token rejected: ${reason}`);
  }
}

function sealAad(dekId: string, clientId: string, sub: string): Buffer {
  // NUL separates the parts: none of them can contain one (checked by the store).
  return Buffer.from(`tvs-user-grant\0v${GRANT_SEAL_VERSION}\0${dekId}\0${clientId}\0${sub}`, 'utf8');
}

/** Seals `refreshToken` for (`clientId`, `sub`) under `dek`. */
export function sealRefreshToken(dek: DataKey, clientId: string, sub: string, refreshToken: string): Buffer {
  return Buffer.concat([
    Buffer.from([GRANT_SEAL_VERSION]),
    sealWithDataKey(dek, sealAad(dek.id, clientId, sub), Buffer.from(refreshToken, 'utf8')),
  ]);
}

/** Opens a value sealed for (`clientId`, `sub`) under `dek`; throws {@link SealRejected} on any mismatch. */
export function openRefreshToken(dek: DataKey, clientId: string, sub: string, sealed: Buffer): string {
  if (sealed.length <= 1 + SEAL_OVERHEAD_BYTES || sealed.length > MAX_SEALED_BYTES)
    throw new SealRejected('MALFORMED');
  if (sealed[0] !== GRANT_SEAL_VERSION) throw new SealRejected('UNSUPPORTED_VERSION');
  const plaintext = openWithDataKey(dek, sealAad(dek.id, clientId, sub), sealed.subarray(1));
  if (plaintext === undefined) throw new SealRejected('AUTHENTICATION_FAILED');
  const token = plaintext.toString('utf8');
  if (token === '' || !Buffer.from(token, 'utf8').equals(plaintext)) throw new SealRejected('MALFORMED');
  return token;
}
