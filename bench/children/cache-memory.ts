/**
 * Memory of the token cache, measured in a process of its own (compiled, plain node, --expose-gc):
 * fills a `TokenCache` with N distinct (SA, scopes) entries and prints RSS and heap before and
 * after as one JSON line. Argv: entries, maxEntries, token length in characters.
 */
import { randomBytes } from 'node:crypto';
import { TokenCache } from '../../shared/minting/token-cache.js';

interface Token {
  token: string;
  expiresAtMs: number;
}

const [entries, maxEntries, tokenChars] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;

function measure(): { rssBytes: number; heapUsedBytes: number } {
  gc?.();
  const usage = process.memoryUsage();
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed };
}

/** A token like the emulator's (`ya29.c.` + base64url), `tokenChars` long. */
function token(): string {
  const body = randomBytes(Math.ceil((tokenChars * 3) / 4)).toString('base64url');
  return `ya29.c.${body}`.slice(0, tokenChars);
}

const before = measure();
const cache = new TokenCache<Token>({ maxEntries, refreshAheadMs: 300_000, minRemainingMs: 60_000 });
const expiresAtMs = Date.now() + 3_600_000;
for (let i = 0; i < entries; i++) {
  // The minter's key shape: kind | SA | sorted scopes.
  await cache.get(
    `at|gemini-caller@tvs-local.iam.gserviceaccount.com|https://www.googleapis.com/auth/bench-${i}`,
    () => Promise.resolve({ token: token(), expiresAtMs }),
  );
}
const after = measure();
process.stdout.write(
  `${JSON.stringify({ entries, maxEntries, tokenChars, size: cache.size, evictions: cache.stats().evictions, before, after })}\n`,
);
