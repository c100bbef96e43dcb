import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../shared/crc32c.js';

describe('crc32c', () => {
  it.each([
    ['', 0x00000000],
    ['a', 0xc1d04330],
    ['123456789', 0xe3069283],
    ['The quick brown fox jumps over the lazy dog', 0x22620404],
  ])('computes the Castagnoli checksum of %j', (input, expected) => {
    expect(crc32c(Buffer.from(input))).toBe(expected);
  });

  it('computes the RFC 3720 vector of 32 zero bytes', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });
});
