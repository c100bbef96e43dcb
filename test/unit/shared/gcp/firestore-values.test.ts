import { describe, expect, it } from 'vitest';
import {
  encodeFields,
  encodeValue,
  FirestoreValueError,
  formatTimestamp,
  parseTimestamp,
  readBytes,
  readString,
  readStringArray,
  readTimestamp,
} from '../../../../shared/gcp/firestore-values.js';

describe('Firestore REST value codec', () => {
  it.each([
    ['a string', 'x', { stringValue: 'x' }],
    ['bytes as standard base64', Buffer.from([0xfb, 0xff, 0x00]), { bytesValue: '+/8A' }],
    [
      'a timestamp as RFC 3339 UTC',
      new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
      { timestampValue: '2026-01-02T03:04:05.006Z' },
    ],
    ['a string array', ['a', 'b'], { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } }],
    ['an empty array (proto3 JSON leaves `values` out)', [], { arrayValue: {} }],
  ])('encodes %s', (_what, value, wire) => {
    expect(encodeValue(value)).toEqual(wire);
  });

  it('encodes a document’s fields, leaving undefined ones out', () => {
    expect(encodeFields({ a: 'x', b: undefined })).toEqual({ a: { stringValue: 'x' } });
  });

  it('refuses what it cannot encode with TypeError', () => {
    expect(() => encodeValue(1 as never)).toThrow(TypeError);
    expect(() => encodeValue([1] as never)).toThrow(TypeError);
    expect(() => formatTimestamp(new Date(Number.NaN))).toThrow(TypeError);
  });

  it('reads back what it wrote', () => {
    const when = new Date(Date.UTC(2026, 5, 1, 12, 0, 0, 123));
    const bytes = Buffer.from('sealed bytes');
    const fields = encodeFields({ s: 'v', a: ['x', 'y'], e: [], b: bytes, t: when });
    expect(readString(fields, 's')).toBe('v');
    expect(readStringArray(fields, 'a')).toEqual(['x', 'y']);
    expect(readStringArray(fields, 'e')).toEqual([]);
    expect(readBytes(fields, 'b')).toEqual(bytes);
    expect(readTimestamp(fields, 't')).toEqual(when);
    expect(readString(fields, 'absent')).toBeUndefined();
  });

  it.each([
    ['2026-01-02T03:04:05Z', Date.UTC(2026, 0, 2, 3, 4, 5)],
    ['2026-01-02T03:04:05.123456Z', Date.UTC(2026, 0, 2, 3, 4, 5, 123)],
    ['2026-01-02T03:04:05.123456789Z', Date.UTC(2026, 0, 2, 3, 4, 5, 123)],
    ['2026-01-02T03:04:05.1Z', Date.UTC(2026, 0, 2, 3, 4, 5, 100)],
    ['2026-01-02T05:04:05+02:00', Date.UTC(2026, 0, 2, 3, 4, 5)],
  ])('parses the timestamp %s (Google writes 0, 3, 6 or 9 digits; extra precision dropped)', (text, ms) => {
    expect(parseTimestamp(text)?.getTime()).toBe(ms);
  });

  it.each(['2026-01-02 03:04:05Z', '2026-01-02T03:04:05', '2026-01-02T03:04:05.1234567890Z', 'yesterday'])(
    'rejects the malformed timestamp %s',
    (text) => {
      expect(parseTimestamp(text)).toBeUndefined();
    },
  );

  it.each([
    ['a value of another type', 'f', { f: { integerValue: '1' } }, readString],
    ['a non-object value', 'f', { f: 'x' }, readString],
    ['a non-string stringValue', 'f', { f: { stringValue: 1 } }, readString],
    [
      'an array with a non-string element',
      'f',
      { f: { arrayValue: { values: [{ integerValue: '1' }] } } },
      readStringArray,
    ],
    [
      'an arrayValue whose values is not an array',
      'f',
      { f: { arrayValue: { values: {} } } },
      readStringArray,
    ],
    ['bytes that are not base64', 'f', { f: { bytesValue: 'not base64!' } }, readBytes],
    ['bytes with bad padding', 'f', { f: { bytesValue: 'abc' } }, readBytes],
    ['a malformed timestamp', 'f', { f: { timestampValue: 'soon' } }, readTimestamp],
  ] as const)('refuses %s, naming the field but never its value', (_what, name, fields, read) => {
    let caught: unknown;
    try {
      read(fields, name);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FirestoreValueError);
    expect((caught as FirestoreValueError).field).toBe(name);
    expect((caught as Error).message).not.toMatch(/not base64!|soon|abc"/);
  });
});
