/**
 * Firestore's REST `Value` encoding for the few types the grant store writes, and strict readers
 * for what comes back. Wire format, from Google's REST reference
 * (cloud.google.com/firestore/docs/reference/rest/v1/Value): a `Value` is an object with exactly
 * one of `nullValue` (JSON `null`), `booleanValue`, `integerValue` (int64 as a decimal string),
 * `doubleValue`, `timestampValue` (RFC 3339; Google writes it Z-normalised with 0, 3, 6 or 9
 * fractional digits and stores microseconds, rounding further precision down), `stringValue`,
 * `bytesValue` (base64), `referenceValue`, `geoPointValue`, `arrayValue` (`{values: Value[]}`,
 * `values` left out when the array is empty) or `mapValue` (`{fields}`). A `Document` is
 * `{name, fields, createTime, updateTime}`.
 *
 * Readers never echo a value in their errors: a field may hold a secret (`sealed`).
 */
import { isJsonObject } from '../json.js';

/** A Document's `fields` in wire form. */
export type WireFields = Record<string, unknown>;

/** What the grant store writes: strings, string arrays, bytes, timestamps. */
export type FieldValue = string | readonly string[] | Buffer | Date;

/** A field that is absent, of another type, or malformed. Names the field and the problem only. */
export class FirestoreValueError extends Error {
  override readonly name = 'FirestoreValueError';
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`field ${field}: ${problem}`);
  }
}

/** The wire form of one value. */
export function encodeValue(value: FieldValue): Record<string, unknown> {
  if (typeof value === 'string') return { stringValue: value };
  if (Buffer.isBuffer(value)) return { bytesValue: value.toString('base64') };
  if (value instanceof Date) return { timestampValue: formatTimestamp(value) };
  if (Array.isArray(value)) {
    const values = (value as readonly unknown[]).map((v) => {
      if (typeof v !== 'string') throw new TypeError('encodeValue: only string arrays are supported');
      return { stringValue: v };
    });
    // proto3 JSON leaves an empty repeated field out: `{}` is the empty array.
    return { arrayValue: values.length > 0 ? { values } : {} };
  }
  throw new TypeError('encodeValue: unsupported value');
}

/** Encodes every field of `fields` (undefined entries are left out). */
export function encodeFields(fields: Record<string, FieldValue | undefined>): WireFields {
  const wire: WireFields = {};
  for (const [name, value] of Object.entries(fields))
    if (value !== undefined) wire[name] = encodeValue(value);
  return wire;
}

/** RFC 3339 in UTC with milliseconds (`Date` holds no more), as Google accepts it. */
export function formatTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new TypeError('formatTimestamp: invalid date');
  return date.toISOString();
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp as a Date (precision beyond milliseconds is dropped); undefined when malformed. */
export function parseTimestamp(text: string): Date | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const fraction = (match[2] ?? '').padEnd(3, '0').slice(0, 3);
  const ms = Date.parse(`${match[1]}.${fraction}${match[3]}`);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

/** Whether `fields` has `name` (of any type). */
export function hasField(fields: WireFields, name: string): boolean {
  return Object.hasOwn(fields, name);
}

function valueOf(fields: WireFields, name: string, key: string): unknown {
  if (!Object.hasOwn(fields, name)) return undefined;
  const value = fields[name];
  if (!isJsonObject(value) || !Object.hasOwn(value, key)) throw new FirestoreValueError(name, `not a ${key}`);
  return value[key];
}

/** A `stringValue` field; undefined when absent. */
export function readString(fields: WireFields, name: string): string | undefined {
  const value = valueOf(fields, name, 'stringValue');
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new FirestoreValueError(name, 'malformed stringValue');
  return value;
}

/** An `arrayValue` of `stringValue`s; undefined when absent. */
export function readStringArray(fields: WireFields, name: string): string[] | undefined {
  const value = valueOf(fields, name, 'arrayValue');
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) throw new FirestoreValueError(name, 'malformed arrayValue');
  const values = value.values ?? [];
  if (!Array.isArray(values)) throw new FirestoreValueError(name, 'malformed arrayValue');
  return values.map((v: unknown) => {
    if (!isJsonObject(v) || typeof v.stringValue !== 'string')
      throw new FirestoreValueError(name, 'array element is not a stringValue');
    return v.stringValue;
  });
}

/** A `bytesValue` (standard base64, as Google writes it); undefined when absent. */
export function readBytes(fields: WireFields, name: string): Buffer | undefined {
  const value = valueOf(fields, name, 'bytesValue');
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0)
    throw new FirestoreValueError(name, 'malformed bytesValue');
  return Buffer.from(value, 'base64');
}

/** A `timestampValue`; undefined when absent. */
export function readTimestamp(fields: WireFields, name: string): Date | undefined {
  const value = valueOf(fields, name, 'timestampValue');
  if (value === undefined) return undefined;
  const date = typeof value === 'string' ? parseTimestamp(value) : undefined;
  if (!date) throw new FirestoreValueError(name, 'malformed timestampValue');
  return date;
}
