/**
 * API Keys v2 state: keys with Google's lifecycle (create → soft delete → undelete within 30
 * days → purge). Methods are synchronous, so an etag check and the write it guards cannot
 * interleave with another call.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ApiKeyError, type ApiKey, type KeyInput } from './api-key-model.js';

/** Deleted keys can be undeleted for this long, then they are purged. */
export const UNDELETE_WINDOW_MS = 30 * 24 * 3600 * 1000;

/** CreateKeyRequest.key_id: RFC-1034 label, lower case, at most 63 characters. */
const KEY_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** "The id must NOT be a UUID-like string" (CreateKeyRequest docs). */
const UUID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_STRING_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const MUTABLE_FIELDS = ['displayName', 'restrictions', 'annotations'] as const;
type MutableField = (typeof MUTABLE_FIELDS)[number];

export interface ApiKeyRegistryOptions {
  readonly projectNumber: string;
  /** Clock, for tests; defaults to the wall clock. */
  readonly now?: () => Date;
}

export class ApiKeyRegistry {
  private readonly keys = new Map<string, ApiKey>();
  private readonly now: () => Date;

  constructor(private readonly options: ApiKeyRegistryOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** `projects/{number}/locations/global/keys/{id}` */
  nameOf(keyId: string): string {
    return `projects/${this.options.projectNumber}/locations/global/keys/${keyId}`;
  }

  /** Creates a key; `keyId` undefined = a generated id. */
  create(keyId: string | undefined, input: KeyInput): ApiKey {
    this.purge();
    const id = keyId ?? randomUUID();
    if (keyId !== undefined && (!KEY_ID.test(keyId) || UUID_LIKE.test(keyId))) {
      throw new ApiKeyError(
        'INVALID_ARGUMENT',
        `Invalid key_id "${keyId.slice(0, 80)}": it must match [a-z]([a-z0-9-]{0,61}[a-z0-9])? and must not be a UUID.`,
      );
    }
    // Deleted keys keep their id until purged, so the id stays taken (as at Google).
    if (this.keys.has(id)) throw new ApiKeyError('ALREADY_EXISTS', `Key ${this.nameOf(id)} already exists.`);
    const now = this.now();
    const key: ApiKey = {
      keyId: id,
      uid: randomUUID(),
      keyString: newKeyString(),
      displayName: input.displayName ?? '',
      annotations: { ...input.annotations },
      restrictions: input.restrictions ? structuredClone(input.restrictions) : undefined,
      serviceAccountEmail: input.serviceAccountEmail,
      createTime: now,
      updateTime: now,
      deleteTime: undefined,
      etag: newEtag(),
    };
    this.keys.set(id, key);
    return copy(key);
  }

  /** A key, deleted or not (until purged). */
  get(keyId: string): ApiKey | undefined {
    this.purge();
    const key = this.keys.get(keyId);
    return key ? copy(key) : undefined;
  }

  /** Keys in creation order; deleted ones only with `showDeleted`. */
  list(options: { showDeleted?: boolean } = {}): ApiKey[] {
    this.purge();
    return [...this.keys.values()].filter((k) => options.showDeleted || !k.deleteTime).map(copy);
  }

  /** The live (not deleted) key with this key string. */
  lookup(keyString: string): ApiKey | undefined {
    this.purge();
    const key = [...this.keys.values()].find((k) => k.keyString === keyString);
    return key && !key.deleteTime ? copy(key) : undefined;
  }

  /**
   * Updates the fields in `updateMask` (undefined or empty = every mutable field present in
   * `input`, Google's "implied mask"). A given etag must match.
   */
  update(keyId: string, input: KeyInput, updateMask: readonly string[] | undefined): ApiKey {
    const key = this.requireLive(keyId);
    this.checkEtag(key, input.etag);
    const fields: MutableField[] = [];
    if (updateMask && updateMask.length > 0) {
      for (const path of updateMask) {
        if (!(MUTABLE_FIELDS as readonly string[]).includes(path)) {
          throw new ApiKeyError(
            'INVALID_ARGUMENT',
            `Invalid update_mask path "${path.slice(0, 80)}": only displayName, restrictions and annotations can be updated.`,
          );
        }
        fields.push(path as MutableField);
      }
    } else {
      fields.push(...MUTABLE_FIELDS.filter((f) => input[f] !== undefined));
    }
    if (fields.includes('displayName')) key.displayName = input.displayName ?? '';
    if (fields.includes('annotations')) key.annotations = { ...input.annotations };
    if (fields.includes('restrictions'))
      key.restrictions = input.restrictions ? structuredClone(input.restrictions) : undefined;
    this.touch(key);
    return copy(key);
  }

  /** Soft delete: the key stops working at once and can be undeleted for 30 days. */
  delete(keyId: string, etag?: string): ApiKey {
    const key = this.requireLive(keyId);
    this.checkEtag(key, etag);
    key.deleteTime = this.now();
    this.touch(key);
    return copy(key);
  }

  undelete(keyId: string): ApiKey {
    const key = this.require(keyId);
    if (!key.deleteTime)
      throw new ApiKeyError('FAILED_PRECONDITION', `Key ${this.nameOf(keyId)} is not deleted.`);
    key.deleteTime = undefined;
    this.touch(key);
    return copy(key);
  }

  clear(): void {
    this.keys.clear();
  }

  private require(keyId: string): ApiKey {
    this.purge();
    const key = this.keys.get(keyId);
    if (!key) throw new ApiKeyError('NOT_FOUND', `Key ${this.nameOf(keyId)} not found.`);
    return key;
  }

  private requireLive(keyId: string): ApiKey {
    const key = this.require(keyId);
    if (key.deleteTime) throw new ApiKeyError('FAILED_PRECONDITION', `Key ${this.nameOf(keyId)} is deleted.`);
    return key;
  }

  private checkEtag(key: ApiKey, etag: string | undefined): void {
    if (etag && etag !== key.etag) {
      throw new ApiKeyError(
        'ABORTED',
        `The etag provided [${etag.slice(0, 80)}] does not match the current etag of ${this.nameOf(key.keyId)}.`,
      );
    }
  }

  private touch(key: ApiKey): void {
    key.updateTime = this.now();
    key.etag = newEtag();
  }

  private purge(): void {
    const cutoff = this.now().getTime() - UNDELETE_WINDOW_MS;
    for (const [id, key] of this.keys)
      if (key.deleteTime && key.deleteTime.getTime() <= cutoff) this.keys.delete(id);
  }
}

/** `AIza` + 35 characters of the base64url alphabet, like Google's key strings. */
function newKeyString(): string {
  const bytes = randomBytes(35);
  let out = 'AIza';
  for (const b of bytes) out += KEY_STRING_ALPHABET[b % 64];
  return out;
}

/** A weak etag in the form Google's API Keys answers with, e.g. `W/"oxcK2Ql+3x3lZvaEoOsKmA=="`. */
function newEtag(): string {
  return `W/"${randomBytes(16).toString('base64')}"`;
}

function copy(key: ApiKey): ApiKey {
  return structuredClone(key);
}
