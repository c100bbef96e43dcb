/**
 * Firestore (Native mode) documents of the emulated project's `(default)` database, as the REST
 * `get` / `patch` / `delete` methods need them: fields kept in wire form (`Value` JSON, validated
 * on write), `createTime` / `updateTime` with microseconds (Firestore's precision), strictly
 * increasing, and the `currentDocument` preconditions (`exists`, `updateTime`) checked with
 * Google's codes and wording (NOT_FOUND "No document to update: <name>", ALREADY_EXISTS "Document
 * already exists: <name>", FAILED_PRECONDITION "the stored version (<µs>) does not match the
 * required base version (<µs>)"). Tests read exactly what is stored with {@link raw}.
 *
 * Not modelled: transactions, queries, nested field paths in masks, map/array-of-array values
 * beyond validation, field transforms, per-database IAM.
 */
import { StateError } from './state-error.js';

/** A stored document in the REST `Document` shape. */
export interface FirestoreDocument {
  readonly name: string;
  readonly fields: Record<string, unknown>;
  readonly createTime: string;
  readonly updateTime: string;
}

export type FirestorePrecondition = { exists: boolean } | { updateTime: string };

/** `projects/P/databases/D/documents/c/d[/c/d…]`: segments non-empty, not `.`/`..`, ids not `__x__`. */
const DOCUMENT_NAME = /^projects\/[^/]+\/databases\/[^/]+\/documents\/(.+)$/;
const VALUE_KINDS = new Set([
  'nullValue',
  'booleanValue',
  'integerValue',
  'doubleValue',
  'timestampValue',
  'stringValue',
  'bytesValue',
  'referenceValue',
  'geoPointValue',
  'arrayValue',
  'mapValue',
]);
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
/** Google's limit on a string or bytes value: 1 MiB - 89 bytes. */
const MAX_VALUE_BYTES = 1024 * 1024 - 89;

export class FirestoreDocuments {
  readonly #docs = new Map<string, FirestoreDocument>();
  #lastMicros = 0n;

  constructor(
    readonly projectId: string,
    readonly databaseId = '(default)',
  ) {}

  /** The database prefix of document names: `projects/P/databases/(default)/documents`. */
  get root(): string {
    return `projects/${this.projectId}/databases/${this.databaseId}/documents`;
  }

  /** The stored document at `path` (relative to the root, or a full name), deep-copied; undefined if none. */
  raw(path: string): FirestoreDocument | undefined {
    const name = path.startsWith('projects/') ? path : `${this.root}/${path}`;
    const doc = this.#docs.get(name);
    return doc === undefined ? undefined : structuredClone(doc);
  }

  /** Every stored document name under `collection` (relative path). */
  list(collection: string): string[] {
    const prefix = `${this.root}/${collection}/`;
    return [...this.#docs.keys()].filter(
      (n) => n.startsWith(prefix) && !n.slice(prefix.length).includes('/'),
    );
  }

  /** Replaces stored fields behind the API's back (tests: tampering, copying between documents). */
  overwriteFields(path: string, fields: Record<string, unknown>): void {
    const name = `${this.root}/${path}`;
    const doc = this.#docs.get(name);
    const at = this.#nextTime();
    this.#docs.set(name, {
      name,
      fields: structuredClone(fields),
      createTime: doc?.createTime ?? at,
      updateTime: at,
    });
  }

  /** Checks a document name: our project and database, collection/id pairs. Throws INVALID_ARGUMENT / NOT_FOUND. */
  checkName(name: string): void {
    const match = DOCUMENT_NAME.exec(name);
    const segments = match?.[1].split('/') ?? [];
    if (
      !match ||
      segments.length % 2 !== 0 ||
      segments.some((s) => s === '' || s === '.' || s === '..' || /^__.*__$/.test(s) || s.length > 1500)
    )
      throw new StateError('INVALID_ARGUMENT', `Document name "${name}" is not valid.`);
    if (!name.startsWith(`${this.root}/`))
      throw new StateError(
        'NOT_FOUND',
        `The database ${name.split('/')[3]} does not exist for project ${name.split('/')[1]}.`,
      );
  }

  get(name: string): FirestoreDocument {
    this.checkName(name);
    const doc = this.#docs.get(name);
    if (!doc) throw new StateError('NOT_FOUND', `Document "${name}" not found.`);
    return structuredClone(doc);
  }

  /**
   * Updates the fields named in `mask` (all of `fields` when there is none; those in the mask but
   * not in `fields` are deleted), creating the document unless a precondition forbids it.
   */
  patch(
    name: string,
    fields: Record<string, unknown>,
    mask: readonly string[] | undefined,
    precondition?: FirestorePrecondition,
  ): FirestoreDocument {
    this.checkName(name);
    for (const [field, value] of Object.entries(fields)) checkValue(field, value, 0);
    for (const field of mask ?? [])
      if (!/^[A-Za-z_][A-Za-z_0-9]*$/.test(field))
        throw new StateError('INVALID_ARGUMENT', `Invalid field path: ${field}`);
    const existing = this.#docs.get(name);
    this.#check(name, existing, precondition, 'update');
    const next: Record<string, unknown> = mask === undefined ? {} : { ...existing?.fields };
    for (const field of mask ?? Object.keys(fields)) {
      if (Object.hasOwn(fields, field)) next[field] = structuredClone(fields[field]);
      else delete next[field];
    }
    const at = this.#nextTime();
    const doc = { name, fields: next, createTime: existing?.createTime ?? at, updateTime: at };
    this.#docs.set(name, doc);
    return structuredClone(doc);
  }

  delete(name: string, precondition?: FirestorePrecondition): void {
    this.checkName(name);
    this.#check(name, this.#docs.get(name), precondition, 'delete');
    this.#docs.delete(name);
  }

  #check(
    name: string,
    existing: FirestoreDocument | undefined,
    precondition: FirestorePrecondition | undefined,
    verb: 'update' | 'delete',
  ): void {
    if (precondition === undefined) return;
    if ('exists' in precondition) {
      if (precondition.exists && !existing)
        throw new StateError('NOT_FOUND', `No document to ${verb}: ${name}`);
      if (!precondition.exists && existing)
        throw new StateError('ALREADY_EXISTS', `Document already exists: ${name}`);
      return;
    }
    const wanted = micros(precondition.updateTime);
    if (wanted === undefined)
      throw new StateError('INVALID_ARGUMENT', "Invalid value at 'current_document.update_time'");
    if (!existing) throw new StateError('NOT_FOUND', `No document to ${verb}: ${name}`);
    const stored = micros(existing.updateTime)!;
    if (stored !== wanted)
      throw new StateError(
        'FAILED_PRECONDITION',
        `the stored version (${stored}) does not match the required base version (${wanted})`,
      );
  }

  /** A strictly increasing commit time with microseconds, as Firestore writes them. */
  #nextTime(): string {
    let now = BigInt(Date.now()) * 1000n;
    if (now <= this.#lastMicros) now = this.#lastMicros + 1n;
    this.#lastMicros = now;
    const iso = new Date(Number(now / 1000n)).toISOString().slice(0, 19);
    return `${iso}.${String(now % 1_000_000n).padStart(6, '0')}Z`;
  }
}

/** Microseconds since the epoch of an RFC 3339 timestamp (further digits rounded down); undefined if malformed. */
export function micros(text: string): bigint | undefined {
  const match = TIMESTAMP.exec(text);
  if (!match) return undefined;
  const seconds = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1000n + BigInt((match[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** Validates one `Value` as Google's JSON parser would (INVALID_ARGUMENT with the field's path). */
function checkValue(path: string, value: unknown, depth: number): void {
  const invalid = (what: string) =>
    new StateError('INVALID_ARGUMENT', `Invalid value at 'document.fields[${path}]' (${what})`);
  if (depth > 20) throw new StateError('INVALID_ARGUMENT', 'Value is too deeply nested.');
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('type.googleapis.com/google.firestore.v1.Value');
  const kinds = Object.keys(value).filter((k) => VALUE_KINDS.has(k));
  const unknown = Object.keys(value).find((k) => !VALUE_KINDS.has(k));
  if (unknown !== undefined) throw invalid(`unknown field "${unknown}"`);
  if (kinds.length !== 1)
    throw new StateError('INVALID_ARGUMENT', `Value at '${path}' must have exactly one value type set.`);
  const v = (value as Record<string, unknown>)[kinds[0]];
  switch (kinds[0]) {
    case 'nullValue':
      if (v !== null && v !== 'NULL_VALUE') throw invalid('TYPE_ENUM');
      return;
    case 'booleanValue':
      if (typeof v !== 'boolean') throw invalid('TYPE_BOOL');
      return;
    case 'integerValue':
      if (!(typeof v === 'string' && /^-?\d{1,19}$/.test(v)) && !Number.isSafeInteger(v))
        throw invalid('TYPE_INT64');
      return;
    case 'doubleValue':
      if (typeof v !== 'number' && !['NaN', 'Infinity', '-Infinity'].includes(v as string))
        throw invalid('TYPE_DOUBLE');
      return;
    case 'timestampValue':
      if (typeof v !== 'string' || micros(v) === undefined)
        throw invalid('type.googleapis.com/google.protobuf.Timestamp');
      return;
    case 'stringValue':
    case 'referenceValue':
      if (typeof v !== 'string') throw invalid('TYPE_STRING');
      if (Buffer.byteLength(v) > MAX_VALUE_BYTES)
        throw new StateError('INVALID_ARGUMENT', `Value at '${path}' is longer than 1048487 bytes.`);
      return;
    case 'bytesValue':
      if (
        typeof v !== 'string' ||
        !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v) ||
        v.replace(/=+$/, '').length % 4 === 1
      )
        throw invalid('TYPE_BYTES), Base64 decoding failed');
      if (Buffer.from(v, 'base64').length > MAX_VALUE_BYTES)
        throw new StateError('INVALID_ARGUMENT', `Value at '${path}' is longer than 1048487 bytes.`);
      return;
    case 'geoPointValue':
      if (typeof v !== 'object' || v === null) throw invalid('type.googleapis.com/google.type.LatLng');
      return;
    case 'arrayValue': {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw invalid('type.googleapis.com/google.firestore.v1.ArrayValue');
      const values = (v as { values?: unknown }).values ?? [];
      if (!Array.isArray(values)) throw invalid('type.googleapis.com/google.firestore.v1.ArrayValue');
      values.forEach((item, i) => {
        if (typeof item === 'object' && item !== null && 'arrayValue' in item)
          throw new StateError('INVALID_ARGUMENT', 'Cannot have nested arrays.');
        checkValue(`${path}[${i}]`, item, depth + 1);
      });
      return;
    }
    case 'mapValue': {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw invalid('type.googleapis.com/google.firestore.v1.MapValue');
      const fields = (v as { fields?: unknown }).fields ?? {};
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
        throw invalid('type.googleapis.com/google.firestore.v1.MapValue');
      for (const [k, item] of Object.entries(fields)) checkValue(`${path}.${k}`, item, depth + 1);
      return;
    }
  }
}
