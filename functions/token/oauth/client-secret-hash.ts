/**
 * OAuth client secrets at rest: scrypt (RFC 7914) with its parameters in the hash string,
 *
 *     scrypt$N=<N>,r=<r>,p=<p>$<salt, base64url>$<32-byte derived key, base64url>
 *
 * (base64url without padding, canonical). The policy holds only this string. Whoever edits the
 * policy chooses the parameters, so they are bounded: at least the default work (N=16384, r=8,
 * p=1: 16 MiB, tens of milliseconds), at most 32 MiB of memory and twice the default work per
 * verification, so a policy cannot make every request burn seconds or gigabytes.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost: a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

export interface ClientSecretHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

/** What `npm run hash-client-secret` writes. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 16_384, r: 8, p: 1 });

export const SCRYPT_BOUNDS = {
  N: { min: 16_384, max: 32_768 },
  r: { min: 8, max: 16 },
  p: { min: 1, max: 2 },
  /** 128 * N * r bytes of memory per derivation. */
  maxMemoryBytes: 32 * 1024 * 1024,
  /** N * r * p, relative cost: twice the default. */
  maxWork: 2 * 16_384 * 8,
  saltBytes: { min: 16, max: 64 },
} as const;

/**
 * What a client secret may look like: 32-64 printable ASCII characters. Enforced when hashing (the
 * CLI) and when verifying, so no short secret is ever accepted whatever hash the policy holds,
 * and HMAC's key handling inside scrypt (zero-padding short keys, hashing keys over 64 bytes)
 * cannot make two different strings equivalent: "s" and "s\0" would otherwise derive alike.
 */
export const CLIENT_SECRET_SYNTAX = /^[\x21-\x7e]{32,64}$/;

const HASH_BYTES = 32;
const SALT_BYTES = 16;
const FORMAT = 'scrypt$N=<N>,r=<r>,p=<p>$<salt base64url>$<hash base64url>';
const HOW_TO = 'generate a new secret and hash with `npm run -s hash-client-secret -- --generate`';
const SHAPE =
  /^scrypt\$N=(0|[1-9]\d{0,8}),r=(0|[1-9]\d{0,3}),p=(0|[1-9]\d{0,3})\$([A-Za-z0-9_-]{1,128})\$([A-Za-z0-9_-]{1,128})$/;

/** A hash string that does not parse or is out of bounds; the message never repeats the input. */
export class ClientSecretHashError extends Error {
  override readonly name = 'ClientSecretHashError';
}

/** Parses and bounds-checks a hash string. Throws `ClientSecretHashError` saying what to fix. */
export function parseClientSecretHash(text: string): ClientSecretHash {
  if (/^(?:sha256:)?[0-9a-fA-F]{64}$/.test(text)) {
    throw new ClientSecretHashError(
      `an unsalted SHA-256 hash is no longer accepted: ${HOW_TO}, give the client the new secret, and put the hash under "secretHash"`,
    );
  }
  const m = text.length <= 400 ? SHAPE.exec(text) : null;
  if (!m) throw new ClientSecretHashError(`must be ${FORMAT} (${HOW_TO})`);
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  checkParams(params);
  const salt = decode(m[4], 'salt');
  const hash = decode(m[5], 'hash');
  if (salt.length < SCRYPT_BOUNDS.saltBytes.min || salt.length > SCRYPT_BOUNDS.saltBytes.max) {
    throw new ClientSecretHashError(
      `the salt must be ${SCRYPT_BOUNDS.saltBytes.min}-${SCRYPT_BOUNDS.saltBytes.max} bytes, not ${salt.length}`,
    );
  }
  if (hash.length !== HASH_BYTES)
    throw new ClientSecretHashError(`the hash must be ${HASH_BYTES} bytes, not ${hash.length}`);
  return { params, salt, hash };
}

/** The canonical string of a parsed hash. */
export function formatClientSecretHash(h: ClientSecretHash): string {
  return `scrypt$N=${h.params.N},r=${h.params.r},p=${h.params.p}$${h.salt.toString('base64url')}$${h.hash.toString('base64url')}`;
}

/** Hashes `secret` with a fresh random salt; the result is what goes into the policy. */
export async function hashClientSecret(
  secret: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
  salt: Buffer = randomBytes(SALT_BYTES),
): Promise<string> {
  checkParams(params);
  return formatClientSecretHash({ params: { ...params }, salt, hash: await derive(secret, salt, params) });
}

/**
 * True when `secret` matches. Derives with the async `crypto.scrypt` (on libuv's thread pool, so
 * the event loop keeps serving) and compares in constant time.
 */
export async function verifyClientSecret(secret: string, expected: ClientSecretHash): Promise<boolean> {
  checkParams(expected.params);
  const derived = await derive(secret, expected.salt, expected.params);
  return derived.length === expected.hash.length && timingSafeEqual(derived, expected.hash);
}

/**
 * A hash for unknown client ids, verified instead of a real one so that an unknown id costs what a
 * known one does. Its parameters are those most of `clients` use; its salt and hash are random, so
 * no secret is known to match it (and the caller refuses unknown ids whatever it returns).
 */
export function dummyClientSecretHash(clients: readonly ClientSecretHash[]): ClientSecretHash {
  const counts = new Map<string, { params: ScryptParams; n: number }>();
  for (const c of clients) {
    const key = `${c.params.N},${c.params.r},${c.params.p}`;
    const seen = counts.get(key) ?? { params: c.params, n: 0 };
    seen.n += 1;
    counts.set(key, seen);
  }
  let params: ScryptParams = { ...DEFAULT_SCRYPT_PARAMS };
  let best = 0;
  for (const { params: p, n } of counts.values()) if (n > best) [params, best] = [{ ...p }, n];
  return { params, salt: randomBytes(SALT_BYTES), hash: randomBytes(HASH_BYTES) };
}

function checkParams({ N, r, p }: ScryptParams): void {
  const b = SCRYPT_BOUNDS;
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0)
    throw new ClientSecretHashError('N must be a power of two');
  if (N < b.N.min || N > b.N.max) throw new ClientSecretHashError(`N must be ${b.N.min}-${b.N.max}`);
  if (!Number.isSafeInteger(r) || r < b.r.min || r > b.r.max)
    throw new ClientSecretHashError(`r must be ${b.r.min}-${b.r.max}`);
  if (!Number.isSafeInteger(p) || p < b.p.min || p > b.p.max)
    throw new ClientSecretHashError(`p must be ${b.p.min}-${b.p.max}`);
  if (128 * N * r > b.maxMemoryBytes)
    throw new ClientSecretHashError('N and r ask for more than 32 MiB per derivation (128 * N * r)');
  if (N * r * p > b.maxWork)
    throw new ClientSecretHashError(`N * r * p asks for more than twice the default work (${b.maxWork})`);
}

function decode(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text)
    throw new ClientSecretHashError(`the ${what} must be canonical base64url without padding`);
  return bytes;
}

function derive(secret: string, salt: Buffer, { N, r, p }: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem above the bounded 32 MiB: OpenSSL needs a little more than 128 * N * r.
    scrypt(secret, salt, HASH_BYTES, { N, r, p, maxmem: 2 * SCRYPT_BOUNDS.maxMemoryBytes }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
