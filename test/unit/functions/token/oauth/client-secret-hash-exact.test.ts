/**
 * The client-secret hash's exact refusals (which part is wrong, with the message that says so), the
 * scrypt parameter rules at their edges, and how the dummy hash for unknown ids picks parameters.
 */
import { describe, expect, it } from 'vitest';
import {
  ClientSecretHashError,
  DEFAULT_SCRYPT_PARAMS,
  dummyClientSecretHash,
  hashClientSecret,
  parseClientSecretHash,
  verifyClientSecret,
  type ClientSecretHash,
} from '../../../../../functions/token/oauth/client-secret-hash.js';

const b64 = (bytes: number, fill = 7) => Buffer.alloc(bytes, fill).toString('base64url');
const SALT = b64(16, 1);
const HASH = b64(32, 2);
const HEX64 = 'ab'.repeat(32);
const hashWith = (N: number, salt = SALT, hash = HASH) => `scrypt$N=${N},r=8,p=1$${salt}$${hash}`;
const refusal = (text: string) => {
  try {
    parseClientSecretHash(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ClientSecretHashError);
    expect((err as Error).name).toBe('ClientSecretHashError');
    return (err as Error).message;
  }
  throw new Error('accepted');
};

describe('parseClientSecretHash, exactly', () => {
  it('calls only a whole 64-hex-digit string an unsalted SHA-256 hash', () => {
    expect(refusal(HEX64)).toMatch(/^an unsalted SHA-256 hash is no longer accepted/);
    expect(refusal(`sha256:${HEX64}`)).toMatch(/^an unsalted SHA-256 hash/);
    expect(refusal(`x${HEX64}`)).toMatch(/^must be scrypt\$N=<N>/);
    expect(refusal(`${HEX64}0`)).toMatch(/^must be scrypt\$N=<N>/);
  });

  it('names the part that is not canonical base64url', () => {
    expect(refusal(hashWith(16_384, 'AB'))).toBe('the salt must be canonical base64url without padding');
    expect(refusal(hashWith(16_384, SALT, 'AB'))).toBe(
      'the hash must be canonical base64url without padding',
    );
  });

  it.each([
    [1, 'N must be a power of two'],
    [20_000, 'N must be a power of two'],
    [2, 'N must be 16384-32768'],
    [8192, 'N must be 16384-32768'],
  ])('N = %i: %s', (N, message) => {
    expect(refusal(hashWith(N))).toBe(message);
  });

  it('accepts both ends of the N bounds', () => {
    expect(parseClientSecretHash(hashWith(16_384)).params.N).toBe(16_384);
    expect(parseClientSecretHash(hashWith(32_768)).params.N).toBe(32_768);
  });
});

describe('verifyClientSecret, exactly', () => {
  it('answers false (never throws) for a stored hash of another length', async () => {
    const expected: ClientSecretHash = {
      params: { ...DEFAULT_SCRYPT_PARAMS },
      salt: Buffer.alloc(16, 1),
      hash: Buffer.alloc(16, 2),
    };
    await expect(verifyClientSecret('s'.repeat(32), expected)).resolves.toBe(false);
  });
});

describe('dummyClientSecretHash, exactly', () => {
  const A = { N: 16_384, r: 8, p: 1 };
  const B = { N: 16_384, r: 16, p: 1 };
  const hashes = (...params: (typeof A)[]) =>
    Promise.all(params.map((p) => hashClientSecret('s'.repeat(32), p)));

  it('counts each parameter set separately and takes the most used, wherever it stands', async () => {
    const parsed = (await hashes(A, B, B)).map(parseClientSecretHash);
    expect(dummyClientSecretHash(parsed).params).toEqual(B);
  });

  it('on a tie, keeps the parameters seen first', async () => {
    const parsed = (await hashes(B, A)).map(parseClientSecretHash);
    expect(dummyClientSecretHash(parsed).params).toEqual(B);
  });
});
