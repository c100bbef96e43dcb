/**
 * Remembers caller tokens that passed full verification (ID tokens by signature, access tokens at
 * tokeninfo), keyed by the SHA-256 of the whole token — never the token itself — so a workload
 * presenting the same token again costs a hash and a map lookup. A hit is only ever the identical
 * token, and it is served only while the token is unexpired (no skew added); bounded LRU.
 */
import { createHash } from 'node:crypto';
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
    const key = createHash('sha256').update(token, 'utf8').digest('base64url');
    const identity = this.entries.get(key);
    if (identity === undefined) return { key, identity };
    if (this.now() >= identity.expiresAtMs) {
      this.entries.delete(key);
      return { key, identity: undefined };
    }
    this.entries.delete(key);
    this.entries.set(key, identity); // most recently used
    return { key, identity };
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
