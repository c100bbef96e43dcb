/**
 * The Firestore document of one grant, `userGrants/{id}`: its id, its fields and their decoding.
 *
 * The id is base64url(SHA-256(`${clientId}\0${sub}`)): no user data in the path (paths show up in
 * Google's audit logs and error messages). 32 bytes make 43 characters whose last one carries 4
 * bits, so it is one of `AEIMQUYcgkosw048` and never `_`: an id can never be of the reserved form
 * `__.*__`.
 */
import { createHash } from 'node:crypto';
import type { StoredDocument } from '../gcp/firestore-rest.js';
import {
  FirestoreValueError,
  hasField,
  readBytes,
  readString,
  readStringArray,
  readTimestamp,
  type WireFields,
} from '../gcp/firestore-values.js';

export const GRANTS_COLLECTION = 'userGrants';

export type RevocationReason = 'USER' | 'ADMIN' | 'GOOGLE_INVALID_GRANT';
export const REVOCATION_REASONS: readonly RevocationReason[] = ['USER', 'ADMIN', 'GOOGLE_INVALID_GRANT'];

export interface StoredGrant {
  sub: string;
  email: string;
  clientId: string;
  /** Everything the user consented to this client, sorted. */
  scopes: string[];
  createdAt: Date;
  updatedAt: Date;
  revoked?: { at: Date; reason: RevocationReason };
}

/** Every field a save writes; the tombstone fields are in the mask so that a save deletes them. */
export const GRANT_FIELDS = [
  'sub',
  'email',
  'clientId',
  'scopes',
  'sealed',
  'dekId',
  'createdAt',
  'updatedAt',
  'revokedAt',
  'revokedReason',
] as const;

/** What a revoke writes: `sealed` and `dekId` are in the mask and absent, so they are deleted. */
export const TOMBSTONE_MASK = ['sealed', 'dekId', 'revokedAt', 'revokedReason', 'updatedAt'] as const;

/** `userGrants/{id}` for (`clientId`, `sub`). */
export function grantPath(clientId: string, sub: string): string {
  const id = createHash('sha256').update(`${clientId}\0${sub}`, 'utf8').digest('base64url');
  return `${GRANTS_COLLECTION}/${id}`;
}

/** A decoded grant document; `sealed`/`dekId` only on a live grant. */
export interface GrantRecord {
  grant: StoredGrant;
  sealed?: { bytes: Buffer; dekId: string };
  updateTime: string;
}

/**
 * Decodes a grant document read for (`clientId`, `sub`); throws {@link FirestoreValueError} when a
 * field is missing or malformed, or when the document names another user or client (moved).
 */
export function decodeGrant(doc: StoredDocument, clientId: string, sub: string): GrantRecord {
  const f = doc.fields;
  const grant: StoredGrant = {
    sub: required(f, 'sub', readString(f, 'sub')),
    email: required(f, 'email', readString(f, 'email')),
    clientId: required(f, 'clientId', readString(f, 'clientId')),
    scopes: required(f, 'scopes', readStringArray(f, 'scopes')),
    createdAt: required(f, 'createdAt', readTimestamp(f, 'createdAt')),
    updatedAt: required(f, 'updatedAt', readTimestamp(f, 'updatedAt')),
  };
  if (grant.sub !== sub || grant.clientId !== clientId)
    throw new FirestoreValueError('sub', 'the document belongs to another user or client');
  const revokedAt = readTimestamp(f, 'revokedAt');
  const reason = readString(f, 'revokedReason');
  if ((revokedAt === undefined) !== (reason === undefined))
    throw new FirestoreValueError('revokedAt', 'revokedAt and revokedReason come together');
  if (revokedAt !== undefined) {
    if (!REVOCATION_REASONS.includes(reason as RevocationReason))
      throw new FirestoreValueError('revokedReason', 'unknown reason');
    // A tombstone holds no secret; one that does was not written by us.
    if (hasField(f, 'sealed')) throw new FirestoreValueError('sealed', 'present on a revoked grant');
    grant.revoked = { at: revokedAt, reason: reason as RevocationReason };
    return { grant, updateTime: doc.updateTime };
  }
  const bytes = required(f, 'sealed', readBytes(f, 'sealed'));
  const dekId = required(f, 'dekId', readString(f, 'dekId'));
  return { grant, sealed: { bytes, dekId }, updateTime: doc.updateTime };
}

function required<T>(_fields: WireFields, name: string, value: T | undefined): T {
  if (value === undefined) throw new FirestoreValueError(name, 'missing');
  return value;
}
