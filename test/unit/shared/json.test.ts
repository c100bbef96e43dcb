import { describe, expect, it } from 'vitest';
import { isJsonObject, parseJson, parseJsonObject } from '../../../shared/json.js';

describe('parseJson', () => {
  it.each<[string, string, unknown]>([
    ['an object', '{"a":1}', { a: 1 }],
    ['an array', '[1,2]', [1, 2]],
    ['a string', '"x"', 'x'],
    ['a number', '42', 42],
    ['null', 'null', null],
    ['JSON with surrounding whitespace', ' \n{"a":true} ', { a: true }],
  ])('parses %s', (_name, text, expected) => {
    expect(parseJson(text)).toEqual(expected);
  });

  it.each([
    ['an empty text', ''],
    ['HTML', '<html>'],
    ['a truncated object', '{"access_token": "ya29.'],
    ['two values', '{} {}'],
    ['a bare word', 'undefined'],
  ])('gives undefined, without throwing, for %s', (_name, text) => {
    expect(parseJson(text)).toBeUndefined();
  });
});

describe('parseJsonObject', () => {
  it('returns the object', () => {
    expect(parseJsonObject('{"error":{"code":503}}')).toEqual({ error: { code: 503 } });
  });

  it.each([
    ['invalid JSON', '{'],
    ['an array', '[{"a":1}]'],
    ['null', 'null'],
    ['a string', '"{}"'],
    ['a number', '1'],
    ['true', 'true'],
    ['an empty text', ''],
  ])('gives undefined for %s', (_name, text) => {
    expect(parseJsonObject(text)).toBeUndefined();
  });

  it('keeps a "__proto__" key as data, without touching the prototype', () => {
    const parsed = parseJsonObject('{"__proto__":{"polluted":true}}');
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe('isJsonObject', () => {
  it.each<[unknown, boolean]>([
    [{}, true],
    [{ a: 1 }, true],
    [[], false],
    [null, false],
    [undefined, false],
    ['{}', false],
    [0, false],
  ])('%j is an object: %s', (value, expected) => {
    expect(isJsonObject(value)).toBe(expected);
  });
});
