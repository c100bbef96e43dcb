/**
 * Custody of users' refresh tokens (issue 19): one Firestore document per (OAuth client, Google
 * user) — see grant-document.ts — with the refresh token sealed under a fleet data key that Cloud
 * KMS wraps (shared/crypto/), so KMS sees about one call per instance per DEK, not one per refresh.
 *
 * Concurrency (optimistic, on the document's `updateTime`; each write is a compare-and-swap that
 * is re-read and retried up to `maxAttempts` times, then fails ABORTED):
 * - Two saves racing for one user both land, in some order, and the later one merges the scopes
 *   the earlier one wrote: no consented scope is lost. The refresh token is the later save's.
 * - Revoke wins over a save it raced. A revoke erases whatever token the document holds when its
 *   write commits and returns it (so the caller revokes exactly that one at Google). A save that
 *   finds a tombstone which was not there when it started (a revoke committed meanwhile) does not
 *   overwrite it: it fails ABORTED with reason `USER_GRANT_REVOKED_DURING_SAVE`, and its caller
 *   should revoke the refresh token it was given. A save that starts on a tombstone (the user
 *   consents again after revoking) replaces it with a fresh grant: the old scopes are not merged,
 *   because revocation at Google removed them.
 *
 * Encrypt-only (`encryptOnly: true`, the consent side, whose identity holds KMS `useToEncrypt`
 * only): `save` seals under this instance's own data keys (shared/crypto/data-keys.ts) and the
 * store makes no KMS decrypt call; it reads grants with `describe` and erases them with
 * `tombstone`, neither of which opens the sealed token. `load` and `revoke` (which open it) are
 * refused there with a `TypeError`: calling them is a wiring mistake.
 *
 * Failures: Firestore or KMS unreachable / 5xx / 429 → `UpstreamUnavailable` (nothing is written
 * before the sealed token is ready, so an outage never leaves half a grant); a sealed value that
 * does not open, a DEK that is unknown or not ours, a malformed document → `InternalError` reason
 * `USER_GRANT_INTEGRITY`; contention → `AbortedError`. Messages, details and log lines never carry
 * a token, a ciphertext or key material.
 */
import { createDataKeys, DataKeyRejected, type DataKeys } from '../crypto/data-keys.js';
import { createKmsClient, KmsError } from '../crypto/kms-client.js';
import { AbortedError, InternalError, TvsError, UpstreamUnavailable } from '../errors.js';
import { createFirestoreDocuments, type FirestoreDocuments } from '../gcp/firestore-rest.js';
import { encodeFields, FirestoreValueError } from '../gcp/firestore-values.js';
import type { OwnCredential } from '../minting/own-credential.js';
import type { OpsLog } from '../ops-log.js';
import { firestoreWrappedKeys } from './firestore-wrapped-keys.js';
import {
  decodeGrant,
  GRANT_FIELDS,
  grantPath,
  REVOCATION_REASONS,
  TOMBSTONE_MASK,
  type GrantRecord,
  type RevocationReason,
  type StoredGrant,
} from './grant-document.js';
import { openRefreshToken, SealRejected, sealRefreshToken } from './grant-seal.js';

export type { RevocationReason, StoredGrant } from './grant-document.js';

export interface GrantStore {
  /** Stores a consent: scopes merged with the existing grant's (incremental auth); the new refresh token replaces the old; clears a tombstone. */
  save(input: {
    sub: string;
    email: string;
    clientId: string;
    scopes: string[];
    refreshToken: string;
  }): Promise<StoredGrant>;
  /** The grant and its decrypted refresh token; a revoked grant comes back without a token; undefined if none. */
  load(clientId: string, sub: string): Promise<{ grant: StoredGrant; refreshToken?: string } | undefined>;
  /** Erases the refresh token and records why (idempotent); returns the refresh token that was erased, if any, so the caller can revoke it at Google. */
  revoke(
    clientId: string,
    sub: string,
    reason: RevocationReason,
  ): Promise<{ refreshToken?: string } | undefined>;
  /** The grant without opening its refresh token (no KMS call); undefined if none. */
  describe(clientId: string, sub: string): Promise<StoredGrant | undefined>;
  /**
   * Writes the tombstone without opening the refresh token (an identity without KMS decrypt):
   * the token is erased from storage but NOT revoked at Google. `alreadyRevoked` when a tombstone
   * was there (its first reason stays); undefined when there is no grant.
   */
  tombstone(
    clientId: string,
    sub: string,
    reason: RevocationReason,
  ): Promise<{ alreadyRevoked: boolean } | undefined>;
}

/** The KMS AAD purpose of the grant store's data keys: they never unwrap for another use of the key. */
export const USER_GRANT_DEK_PURPOSE = 'tvs-user-grants';

export interface FirestoreGrantStoreOptions {
  /** `https://firestore.googleapis.com` or the emulator. */
  firestoreUrl: string;
  projectId: string;
  /** Default `(default)`. */
  databaseId?: string;
  /** The service's own identity: `roles/datastore.user` on the project, encrypter/decrypter on the key. */
  credential: OwnCredential;
  /** Cloud KMS: base URL (`https://cloudkms.googleapis.com`) and `projects/…/cryptoKeys/K`. */
  kms: { url: string; keyName: string; timeoutMs?: number };
  /** The identity may only KMS-encrypt (module comment): per-instance DEKs, no `load`/`revoke`. */
  encryptOnly?: boolean;
  /** How long one DEK seals new grants (default 30 days): the fleet's DEK count grows by one a period. */
  dekPeriodMs?: number;
  /** Unwrapped DEKs kept in memory (default 64: five years of 30-day DEKs). */
  maxDataKeys?: number;
  /** Compare-and-swap attempts of one save or revoke (default 5). */
  maxAttempts?: number;
  /** Per-request deadline of Firestore calls (default 5 s). */
  timeoutMs?: number;
  log?: OpsLog;
  now?: () => number;
  fetchImpl?: typeof fetch;
}

const MAX_ID_CHARS = 512;
const MAX_TOKEN_CHARS = 4096;

export function createFirestoreGrantStore(options: FirestoreGrantStoreOptions): GrantStore {
  const now = options.now ?? Date.now;
  const maxAttempts = options.maxAttempts ?? 5;
  const documents: FirestoreDocuments = createFirestoreDocuments({
    firestoreUrl: options.firestoreUrl,
    projectId: options.projectId,
    ...(options.databaseId === undefined ? {} : { databaseId: options.databaseId }),
    credential: options.credential,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
  });
  const dataKeys: DataKeys = createDataKeys({
    store: firestoreWrappedKeys(documents, now),
    kms: createKmsClient({
      baseUrl: options.kms.url.replace(/\/+$/, ''),
      keyName: options.kms.keyName,
      credential: options.credential,
      timeoutMs: options.kms.timeoutMs ?? 5_000,
      ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
    }),
    purpose: USER_GRANT_DEK_PURPOSE,
    periodMs: options.dekPeriodMs ?? 30 * 86_400_000,
    maxKeys: options.maxDataKeys ?? 64,
    now,
    ...(options.encryptOnly ? { encryptOnly: true } : {}),
  });
  const refuseInEncryptOnly = (what: string): void => {
    if (options.encryptOnly)
      throw new TypeError(`${what}: this grant store is encrypt-only and cannot open refresh tokens`);
  };

  /** Runs `fn`, turning every failure into our typed errors; integrity failures are logged (log-safe). */
  const guarded = async <T>(what: string, path: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const mapped = mapError(err);
      if (mapped.reason === 'USER_GRANT_INTEGRITY')
        options.log?.('ERROR', 'user grant failed an integrity check', {
          event: 'user_grant_integrity',
          operation: what,
          document: path,
          detail: mapped.detail,
        });
      throw mapped;
    }
  };

  const open = async (record: GrantRecord): Promise<string> => {
    const sealed = record.sealed!;
    const dek = await dataKeys.byId(sealed.dekId);
    return openRefreshToken(dek, record.grant.clientId, record.grant.sub, sealed.bytes);
  };

  /** The tombstone, if the document is still as read (`updateTime`): erases the sealed token. */
  const writeTombstone = (path: string, updateTime: string, reason: RevocationReason) => {
    const at = new Date(now());
    return documents.patch(
      path,
      encodeFields({ revokedAt: at, revokedReason: reason, updatedAt: at }),
      TOMBSTONE_MASK,
      { updateTime },
    );
  };

  const read = async (path: string, clientId: string, sub: string) => {
    const doc = await documents.get(path);
    return doc ? { doc, record: decodeGrant(doc, clientId, sub) } : undefined;
  };

  return {
    save(input) {
      const { sub, email, clientId, refreshToken } = input;
      checkId('sub', sub);
      checkId('email', email);
      checkId('clientId', clientId);
      if (typeof refreshToken !== 'string' || refreshToken === '' || refreshToken.length > MAX_TOKEN_CHARS)
        throw new TypeError('save: refreshToken must be a non-empty string');
      const scopes = checkScopes(input.scopes);
      const path = grantPath(clientId, sub);
      return guarded('save', path, async () => {
        // The sealed token first: a KMS outage fails the save before anything is written.
        const dek = await dataKeys.current();
        const sealed = sealRefreshToken(dek, clientId, sub, refreshToken);
        let tombstoneAtStart: number | undefined;
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const found = await read(path, clientId, sub);
          const revokedAt = found?.record.grant.revoked?.at.getTime();
          if (attempt === 1) tombstoneAtStart = revokedAt;
          else if (revokedAt !== undefined && revokedAt !== tombstoneAtStart)
            throw new AbortedError('The grant was revoked while it was being saved.', {
              reason: 'USER_GRANT_REVOKED_DURING_SAVE',
              detail: `save of ${path} met a revocation that committed after it started`,
            });
          const live = found && !found.record.grant.revoked ? found.record.grant : undefined;
          const at = new Date(now());
          const fields = encodeFields({
            sub,
            email,
            clientId,
            scopes: [...new Set([...(live?.scopes ?? []), ...scopes])].sort(),
            sealed,
            dekId: dek.id,
            createdAt: live?.createdAt ?? at,
            updatedAt: at,
          });
          const written = await documents.patch(
            path,
            fields,
            GRANT_FIELDS,
            found ? { updateTime: found.doc.updateTime } : { exists: false },
          );
          if (written !== 'conflict') return decodeGrant(written, clientId, sub).grant;
        }
        throw contention('save', path);
      });
    },

    load(clientId, sub) {
      refuseInEncryptOnly('load');
      checkId('clientId', clientId);
      checkId('sub', sub);
      const path = grantPath(clientId, sub);
      return guarded('load', path, async () => {
        const found = await read(path, clientId, sub);
        if (!found) return undefined;
        const { record } = found;
        if (record.grant.revoked) return { grant: record.grant };
        return { grant: record.grant, refreshToken: await open(record) };
      });
    },

    revoke(clientId, sub, reason) {
      refuseInEncryptOnly('revoke');
      checkId('clientId', clientId);
      checkId('sub', sub);
      if (!REVOCATION_REASONS.includes(reason)) throw new TypeError('revoke: unknown revocation reason');
      const path = grantPath(clientId, sub);
      return guarded('revoke', path, async () => {
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const found = await read(path, clientId, sub);
          if (!found) return undefined;
          // Already revoked: the first reason stays, and there is no token to hand out again.
          if (found.record.grant.revoked) return {};
          let refreshToken: string | undefined;
          try {
            refreshToken = await open(found.record);
          } catch (err) {
            // A token that cannot be opened is erased all the same (it is of no use to anyone);
            // an outage is not: nothing is written, the caller tries again.
            const mapped = mapError(err);
            if (mapped.reason !== 'USER_GRANT_INTEGRITY') throw mapped;
            options.log?.('ERROR', 'user grant failed an integrity check; erasing it', {
              event: 'user_grant_integrity',
              operation: 'revoke',
              document: path,
              detail: mapped.detail,
            });
          }
          const written = await writeTombstone(path, found.doc.updateTime, reason);
          if (written !== 'conflict') return refreshToken === undefined ? {} : { refreshToken };
        }
        throw contention('revoke', path);
      });
    },

    describe(clientId, sub) {
      checkId('clientId', clientId);
      checkId('sub', sub);
      const path = grantPath(clientId, sub);
      return guarded('describe', path, async () => (await read(path, clientId, sub))?.record.grant);
    },

    tombstone(clientId, sub, reason) {
      checkId('clientId', clientId);
      checkId('sub', sub);
      if (!REVOCATION_REASONS.includes(reason)) throw new TypeError('tombstone: unknown revocation reason');
      const path = grantPath(clientId, sub);
      return guarded('tombstone', path, async () => {
        for (let attempt = 1; attempt <= maxAttempts; attempt++) {
          const found = await read(path, clientId, sub);
          if (!found) return undefined;
          if (found.record.grant.revoked) return { alreadyRevoked: true };
          const written = await writeTombstone(path, found.doc.updateTime, reason);
          if (written !== 'conflict') return { alreadyRevoked: false };
        }
        throw contention('tombstone', path);
      });
    },
  };
}

function contention(what: string, path: string): AbortedError {
  return new AbortedError('The grant is being changed concurrently; try again.', {
    reason: 'USER_GRANT_CONTENTION',
    detail: `${what} of ${path}: every compare-and-swap attempt met a concurrent write`,
  });
}

/** Our typed error for anything the store's dependencies throw. */
function mapError(err: unknown): TvsError {
  if (err instanceof TvsError) return err;
  if (err instanceof KmsError) {
    if (err.kind === 'unavailable')
      return new UpstreamUnavailable('The upstream service is unavailable; try again later.', {
        reason: 'KMS_UNAVAILABLE',
        detail: err.detail,
        cause: err,
      });
    return new InternalError('Internal error.', { reason: 'KMS_ERROR', detail: err.detail, cause: err });
  }
  const integrity = (detail: string) =>
    new InternalError('Internal error.', { reason: 'USER_GRANT_INTEGRITY', detail, cause: err });
  if (err instanceof DataKeyRejected) return integrity(`data key ${err.reason}`);
  if (err instanceof SealRejected) return integrity(`sealed refresh token ${err.reason}`);
  if (err instanceof FirestoreValueError) return integrity(`malformed document: ${err.message}`);
  if (err instanceof TypeError) throw err;
  return new InternalError('Internal error.', {
    reason: 'INTERNAL',
    detail: `user grant store: ${err instanceof Error ? err.name : typeof err}`,
    cause: err,
  });
}

function checkId(name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '' || value.length > MAX_ID_CHARS || value.includes('\0'))
    throw new TypeError(`${name} must be a non-empty string without NUL`);
}

function checkScopes(scopes: unknown): string[] {
  if (
    !Array.isArray(scopes) ||
    scopes.length === 0 ||
    !scopes.every((s) => typeof s === 'string' && /^[\x21-\x7e]{1,512}$/.test(s))
  )
    throw new TypeError('scopes must be a non-empty array of scope strings');
  return scopes as string[];
}
