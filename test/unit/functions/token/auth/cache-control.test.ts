import { describe, expect, it } from 'vitest';
import { freshnessSeconds } from '../../../../../functions/token/auth/cache-control.js';

const headers = (init: Record<string, string>) => new Headers(init);

describe('freshnessSeconds', () => {
  it('is undefined when there is no Cache-Control header, whatever Age says', () => {
    expect(freshnessSeconds(headers({}))).toBeUndefined();
    expect(freshnessSeconds(headers({ age: '10' }))).toBeUndefined();
  });

  it.each([
    ['max-age alone', 'max-age=3600', 3600],
    ['max-age after another directive', 'public, max-age=3600', 3600],
    ['max-age among other directives', 'public, max-age=19725, must-revalidate, no-transform', 19725],
    ['max-age in upper case', 'Public, MAX-AGE=60', 60],
    ['max-age with spaces around the comma', 'public ,  max-age=60  , immutable', 60],
    ['max-age with a space before =', 'max-age =60', 60],
    ['max-age with a space after =', 'max-age= 60', 60],
    ['a quoted max-age', 'max-age="60"', 60],
    ['max-age=0', 'max-age=0', 0],
    ['the first of two max-age directives (RFC 9111 §4.2.1)', 'max-age=60, max-age=120', 60],
  ])('reads %s', (_name, cacheControl, seconds) => {
    expect(freshnessSeconds(headers({ 'cache-control': cacheControl }))).toBe(seconds);
  });

  it.each([
    ['no-store', 'no-store'],
    ['no-cache', 'no-cache'],
    ['no-store before max-age', 'no-store, max-age=3600'],
    ['no-cache after max-age', 'max-age=3600, no-cache'],
    ['no-store in upper case', 'NO-STORE, max-age=3600'],
    ['no-cache and no-store among other directives', 'no-cache, no-store, max-age=0, must-revalidate'],
  ])('gives 0 for %s', (_name, cacheControl) => {
    expect(freshnessSeconds(headers({ 'cache-control': cacheControl }))).toBe(0);
  });

  it.each([
    ['a header without max-age', 'public, must-revalidate'],
    ['an empty header', ''],
    ['an extension directive that merely ends in max-age', 'x-max-age=60'],
    ['s-maxage (for shared caches only)', 's-maxage=60'],
    ['a fractional max-age', 'max-age=1.5'],
    ['a negative max-age', 'max-age=-60'],
    ['max-age without a value', 'max-age'],
    ['max-age with trailing garbage', 'max-age=60s'],
  ])('is undefined for %s', (_name, cacheControl) => {
    expect(freshnessSeconds(headers({ 'cache-control': cacheControl }))).toBeUndefined();
  });

  it('subtracts Age from max-age (RFC 9111 §4.2.3)', () => {
    expect(freshnessSeconds(headers({ 'cache-control': 'max-age=3600', age: '600' }))).toBe(3000);
  });

  it('gives 0, not a negative number, when Age exceeds max-age', () => {
    expect(freshnessSeconds(headers({ 'cache-control': 'max-age=60', age: '90' }))).toBe(0);
    expect(freshnessSeconds(headers({ 'cache-control': 'max-age=60', age: '60' }))).toBe(0);
  });

  it.each([
    ['negative', '-30'],
    ['fractional', '30.5'],
    ['not a number', 'soon'],
    ['empty', ''],
  ])('ignores an Age that is %s', (_name, age) => {
    expect(freshnessSeconds(headers({ 'cache-control': 'max-age=60', age }))).toBe(60);
  });
});
