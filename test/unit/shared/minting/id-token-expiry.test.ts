import { UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { idTokenExpiryMs } from '../../../../shared/minting/id-token-expiry.js';

function jwt(payload: Record<string, unknown>): string {
  return new UnsecuredJWT(payload).encode();
}

describe('idTokenExpiryMs', () => {
  it('reads exp in milliseconds', () => {
    expect(idTokenExpiryMs(jwt({ exp: 1_900_000_000 }))).toBe(1_900_000_000_000);
  });

  it.each([
    ['not a JWT', 'not-a-jwt'],
    ['no exp', jwt({ sub: 'x' })],
    ['a string exp', jwt({ exp: '1900000000' })],
  ])('is undefined for %s', (_name, token) => {
    expect(idTokenExpiryMs(token)).toBeUndefined();
  });

  it('is undefined for a non-finite exp', () => {
    const payload = Buffer.from('{"exp":1e400}').toString('base64url');
    expect(idTokenExpiryMs(`eyJhbGciOiJub25lIn0.${payload}.`)).toBeUndefined();
  });
});
