/**
 * `npm run -s hash-client-secret -- --generate`: a new OAuth client secret (32 random bytes,
 * base64url) and its scrypt hash for the policy, printed as JSON on stdout.
 * `printf %s "$SECRET" | npm run -s hash-client-secret`: the hash of an existing secret, read from
 * stdin (never from argv, which other users can see in `ps` and shells keep in history). Secrets
 * that look weak are refused: the policy holds only the hash, so this is the last place where the
 * secret itself can be checked.
 */
import { randomBytes } from 'node:crypto';
import { CLIENT_SECRET_SYNTAX, hashClientSecret } from '../functions/token/oauth/client-secret-hash.js';

const USAGE = `usage:
  npm run -s hash-client-secret -- --generate      new secret + hash (recommended)
  printf %s "$SECRET" | npm run -s hash-client-secret  hash of an existing secret (from stdin)`;

const MIN_LENGTH = 32;
const MAX_LENGTH = 64;
const MIN_BITS = 128;

/**
 * Why `secret` is too weak to use, or undefined. A heuristic against accidents (a password, a
 * short or repetitive string), not a proof of entropy: a generated secret is the real answer.
 */
export function secretWeakness(secret: string): string | undefined {
  if (secret.length < MIN_LENGTH)
    return `it has ${secret.length} characters; at least ${MIN_LENGTH} are required`;
  if (secret.length > MAX_LENGTH) return `it has more than ${MAX_LENGTH} characters`;
  // The service accepts no other secret (see CLIENT_SECRET_SYNTAX): refuse to hash one it would never accept.
  if (!CLIENT_SECRET_SYNTAX.test(secret)) return 'it must be printable ASCII without spaces';
  const counts = new Map<string, number>();
  for (const c of secret) counts.set(c, (counts.get(c) ?? 0) + 1);
  if (Math.max(...counts.values()) > secret.length / 4)
    return 'one character makes up more than a quarter of it';
  const bigrams = new Set<string>();
  for (let i = 0; i + 1 < secret.length; i++) bigrams.add(secret.slice(i, i + 2));
  if (bigrams.size < 0.75 * (secret.length - 1)) return 'it repeats itself';
  const bits = secret.length * Math.log2(counts.size);
  if (bits < MIN_BITS)
    return `it is estimated at ${Math.floor(bits)} bits; at least ${MIN_BITS} are required`;
  return undefined;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('stdin is larger than 64 KiB');
    chunks.push(chunk);
  }
  // `echo` adds one newline: drop exactly one.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && argv[0] === '--generate') {
    const clientSecret = randomBytes(32).toString('base64url');
    process.stdout.write(
      `${JSON.stringify({ clientSecret, secretHash: await hashClientSecret(clientSecret) }, null, 2)}\n`,
    );
    process.stderr.write(
      'Give clientSecret to the client over a secure channel; put secretHash in the policy under clients.<id>.secretHash.\n',
    );
    return 0;
  }
  if (argv.length > 0) {
    // Never echo argv: it may be the secret itself.
    process.stderr.write(
      `hash-client-secret: unexpected arguments (a secret is never taken from the command line)\n${USAGE}\n`,
    );
    return 2;
  }
  if (process.stdin.isTTY) {
    process.stderr.write(`hash-client-secret: pipe the secret on stdin, or use --generate\n${USAGE}\n`);
    return 2;
  }
  const secret = await readStdin();
  const weakness = secretWeakness(secret);
  if (weakness) {
    process.stderr.write(
      `hash-client-secret: refusing a weak secret: ${weakness}. Use --generate for a new one.\n`,
    );
    return 2;
  }
  process.stdout.write(`${await hashClientSecret(secret)}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('hash-client-secret.ts')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`hash-client-secret: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
