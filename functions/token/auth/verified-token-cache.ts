/**
 * Remembers caller tokens that passed full verification (ID tokens by signature, access tokens at
 * tokeninfo), keyed by the SHA-256 of the whole token — never the token itself — so a workload
 * presenting the same token again costs a hash and a map lookup. A hit is only ever the identical
 * token, and it is served only while the token is unexpired (no skew added); bounded LRU.
 */
import { hash } from 'node:crypto';
import type { CallerIdentity } from './types.js';

export class VerifiedTokenCache {
  private readonly entries = new Map<string, CallerIdentity>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {
    if (!(maxEntries > 0)) throw new TypeError('maxEntries must be > 0');
  }

  /** The identity a previous verification of exactly this token produced, if still unexpired. */
  get(token: string): { key: string; identity: CallerIdentity | undefined } {
    const key = VerifiedTokenCache.keyOf(token);
    return { key, identity: this.lookup(key) };
  }

  /** The cache key of `token`: its SHA-256, base64url (one-shot `crypto.hash`, no Hash object). */
  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  /** {@link get} by a key from {@link keyOf} (two caches asked about one token hash it once). */
  lookup(key: string): CallerIdentity | undefined {
    const identity = this.entries.get(key);
    if (identity === undefined) return undefined;
    if (this.now() >= identity.expiresAtMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, identity); // most recently used
    return identity;
  }

  set(key: string, identity: CallerIdentity): void {
    this.entries.delete(key);
    this.entries.set(key, identity);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
