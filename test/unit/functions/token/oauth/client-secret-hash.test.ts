import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ClientSecretHash,
  ClientSecretHashError,
  DEFAULT_SCRYPT_PARAMS,
  dummyClientSecretHash,
  formatClientSecretHash,
  hashClientSecret,
  parseClientSecretHash,
  verifyClientSecret,
} from '../../../../../functions/token/oauth/client-secret-hash.js';

const b64 = (bytes: number, fill = 7) => Buffer.alloc(bytes, fill).toString('base64url');
const SALT = b64(16, 1);
const HASH = b64(32, 2);
const SECRET = 'Yx2b7Q1cT9rWm4pZk8sN3vH6jL0dF5gA-_eRuIoPqXw';

describe('parseClientSecretHash', () => {
  it('parses the documented format', () => {
    const parsed = parseClientSecretHash(`scrypt$N=16384,r=8,p=1$${SALT}$${HASH}`);
    expect(parsed.params).toEqual({ N: 16384, r: 8, p: 1 });
    expect(parsed.salt).toEqual(Buffer.alloc(16, 1));
    expect(parsed.hash).toEqual(Buffer.alloc(32, 2));
    expect(formatClientSecretHash(parsed)).toBe(`scrypt$N=16384,r=8,p=1$${SALT}$${HASH}`);
  });

  it.each([
    ['N=32768 (the maximum memory)', `scrypt$N=32768,r=8,p=1$${SALT}$${HASH}`],
    ['r=16 at N=16384', `scrypt$N=16384,r=16,p=1$${SALT}$${HASH}`],
    ['p=2 at N=16384, r=8', `scrypt$N=16384,r=8,p=2$${SALT}$${HASH}`],
    ['a 64-byte salt', `scrypt$N=16384,r=8,p=1$${b64(64)}$${HASH}`],
  ])('accepts %s', (_name, text) => {
    expect(() => parseClientSecretHash(text)).not.toThrow();
  });

  it.each<[string, string, RegExp]>([
    ['an empty string', '', /scrypt\$N=/],
    ['a legacy hex SHA-256', 'a'.repeat(64), /unsalted SHA-256 .*no longer accepted.*hash-client-secret/],
    [
      'a legacy sha256: hash',
      `sha256:${'b'.repeat(64)}`,
      /unsalted SHA-256 .*no longer accepted.*hash-client-secret/,
    ],
    ['another algorithm', `bcrypt$N=16384,r=8,p=1$${SALT}$${HASH}`, /scrypt\$N=/],
    ['parameters in another order', `scrypt$r=8,N=16384,p=1$${SALT}$${HASH}`, /scrypt\$N=/],
    ['a missing parameter', `scrypt$N=16384,r=8$${SALT}$${HASH}`, /scrypt\$N=/],
    ['a leading zero', `scrypt$N=016384,r=8,p=1$${SALT}$${HASH}`, /scrypt\$N=/],
    ['a negative parameter', `scrypt$N=16384,r=-8,p=1$${SALT}$${HASH}`, /scrypt\$N=/],
    ['a missing hash', `scrypt$N=16384,r=8,p=1$${SALT}`, /scrypt\$N=/],
    ['an extra field', `scrypt$N=16384,r=8,p=1$${SALT}$${HASH}$x`, /scrypt\$N=/],
    [
      'standard base64 with padding',
      `scrypt$N=16384,r=8,p=1$${Buffer.alloc(16, 250).toString('base64')}$${HASH}`,
      /scrypt\$N=/,
    ],
    ['whitespace', ` scrypt$N=16384,r=8,p=1$${SALT}$${HASH}`, /scrypt\$N=/],
    ['N not a power of two', `scrypt$N=20000,r=8,p=1$${SALT}$${HASH}`, /N must be a power of two/],
    ['N below 16384', `scrypt$N=8192,r=8,p=1$${SALT}$${HASH}`, /N must be .*16384/],
    [
      'N above 32768 (memory a policy could make every request burn)',
      `scrypt$N=1048576,r=8,p=1$${SALT}$${HASH}`,
      /N must be .*32768/,
    ],
    ['r below 8', `scrypt$N=16384,r=1,p=1$${SALT}$${HASH}`, /r must be/],
    ['r above 16', `scrypt$N=16384,r=64,p=1$${SALT}$${HASH}`, /r must be/],
    ['p of 0', `scrypt$N=16384,r=8,p=0$${SALT}$${HASH}`, /p must be/],
    ['p above 2', `scrypt$N=16384,r=8,p=16$${SALT}$${HASH}`, /p must be/],
    ['more than 32 MiB of memory (N=32768, r=16)', `scrypt$N=32768,r=16,p=1$${SALT}$${HASH}`, /32 MiB/],
    [
      'more than twice the default work (N=32768, r=8, p=2)',
      `scrypt$N=32768,r=8,p=2$${SALT}$${HASH}`,
      /work/,
    ],
    ['a 15-byte salt', `scrypt$N=16384,r=8,p=1$${b64(15)}$${HASH}`, /salt must be 16-64 bytes/],
    ['a 65-byte salt', `scrypt$N=16384,r=8,p=1$${b64(65)}$${HASH}`, /salt must be 16-64 bytes/],
    ['a 31-byte hash', `scrypt$N=16384,r=8,p=1$${SALT}$${b64(31)}`, /hash must be 32 bytes/],
    ['a non-canonical base64url tail', `scrypt$N=16384,r=8,p=1$${SALT.slice(0, -1)}B$${HASH}`, /base64url/],
    ['a huge string', `scrypt$N=16384,r=8,p=1$${'A'.repeat(100_000)}$${HASH}`, /scrypt\$N=/],
  ])('refuses %s with a message that says how to fix it', (_name, text, message) => {
    expect(() => parseClientSecretHash(text)).toThrow(ClientSecretHashError);
    expect(() => parseClientSecretHash(text)).toThrow(message);
  });

  it('never repeats the offending string in its message (it may be a pasted secret)', () => {
    const pasted = 'my-plaintext-secret-pasted-by-mistake';
    expect(() => parseClientSecretHash(pasted)).toThrow(ClientSecretHashError);
    try {
      parseClientSecretHash(pasted);
    } catch (err) {
      expect((err as Error).message).not.toContain(pasted);
    }
  });
});

describe('hashClientSecret and verifyClientSecret', () => {
  it('verifies the secret it hashed, with a fresh salt each time', async () => {
    const a = await hashClientSecret(SECRET);
    const b = await hashClientSecret(SECRET);
    expect(a).toMatch(/^scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyClientSecret(SECRET, parseClientSecretHash(a))).toBe(true);
    expect(await verifyClientSecret(SECRET, parseClientSecretHash(b))).toBe(true);
  });

  it.each([
    ['a wrong secret', `${SECRET.slice(0, -1)}x`],
    ['a prefix of the secret', SECRET.slice(0, 20)],
    ['the secret with a trailing newline', `${SECRET}\n`],
    ['an empty secret', ''],
  ])('refuses %s', async (_name, presented) => {
    const hash = parseClientSecretHash(await hashClientSecret(SECRET));
    expect(await verifyClientSecret(presented, hash)).toBe(false);
  });

  it('uses the parameters recorded in the hash string', async () => {
    const text = await hashClientSecret(SECRET, { N: 32768, r: 8, p: 1 });
    expect(text.startsWith('scrypt$N=32768,r=8,p=1$')).toBe(true);
    const parsed = parseClientSecretHash(text);
    expect(await verifyClientSecret(SECRET, parsed)).toBe(true);
    // The same salt and hash under other parameters is another hash: it must not verify.
    expect(await verifyClientSecret(SECRET, { ...parsed, params: DEFAULT_SCRYPT_PARAMS })).toBe(false);
  });

  it('refuses to hash with parameters outside the bounds', async () => {
    await expect(hashClientSecret(SECRET, { N: 1024, r: 8, p: 1 })).rejects.toThrow(ClientSecretHashError);
  });

  it('does not block the event loop while deriving', async () => {
    const hash = parseClientSecretHash(await hashClientSecret(SECRET));
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 0);
    await Promise.all([
      verifyClientSecret(SECRET, hash),
      verifyClientSecret(SECRET, hash),
      verifyClientSecret(SECRET, hash),
    ]);
    clearInterval(timer);
    // scryptSync would run all three on this thread with no timer firing in between.
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('dummyClientSecretHash', () => {
  it('uses the parameters most clients use, so an unknown id costs what a known one does', () => {
    const at = (N: number) => ({ params: { N, r: 8, p: 1 }, salt: randomBytes(16), hash: randomBytes(32) });
    expect(dummyClientSecretHash([at(32768), at(16384), at(32768)]).params).toEqual({ N: 32768, r: 8, p: 1 });
    expect(dummyClientSecretHash([]).params).toEqual(DEFAULT_SCRYPT_PARAMS);
  });

  it('is random: no secret is known to hash to it', () => {
    const a = dummyClientSecretHash([]);
    const b = dummyClientSecretHash([]);
    expect(a.salt.equals(b.salt)).toBe(false);
    expect(a.hash.equals(b.hash)).toBe(false);
    expect(a.hash).toHaveLength(32);
  });
});

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
