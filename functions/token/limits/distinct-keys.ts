/**
 * How many DIFFERENT tokens each caller has had minted in the current window (e.g. an hour): a
 * caller allowed `https://*.a.run.app` audiences, or any lifetime up to an hour, could otherwise
 * have a new token minted on every request by varying the audience or the lifetime, each one a
 * cache miss and an upstream call.
 *
 * Only mints are recorded (cache hits cost nothing upstream), so this runs on the miss path only.
 * A caller's window opens with its first mint and lasts `windowMs`; re-minting a key already
 * recorded in the window (expiry, eviction) is not a new distinct token.
 *
 * Memory: each caller holds at most `cap` 48-bit digests of its cache keys (8 bytes each, in a
 * Float64Array grown by doubling), never the keys; the table holds at most `maxEntries` callers,
 * evicting the least recently used (failing open for that caller, as token-bucket.ts explains).
 * The digest is SHA-256 under a per-process random salt, so a caller cannot choose two keys that
 * share one slot.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface DistinctKeysOptions {
  windowMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Window {
  startedAtMs: number;
  count: number;
  digests: Float64Array;
}

export class DistinctKeyTracker {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #salt = randomBytes(16);
  readonly #windows = new Map<string, Window>();

  constructor(options: DistinctKeysOptions) {
    if (!(options.windowMs > 0)) throw new TypeError('DistinctKeyTracker: windowMs must be positive');
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1)
      throw new TypeError('DistinctKeyTracker: maxEntries must be a positive integer');
    this.#windowMs = options.windowMs;
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
  }

  /** A cache key's digest: what is recorded and compared. */
  digest(cacheKey: string): number {
    return createHash('sha256').update(this.#salt).update(cacheKey).digest().readUIntBE(0, 6);
  }

  /**
   * 0 when `caller` may have `digest` minted (already recorded in its window, or room for one
   * more); otherwise the milliseconds until its window ends. Reads only.
   */
  wait(caller: string, digest: number, cap: number, t: number): number {
    const w = this.#windows.get(caller);
    if (w === undefined || t - w.startedAtMs >= this.#windowMs) return 0;
    if (w.count < cap || indexOf(w, digest) >= 0) return 0;
    return w.startedAtMs + this.#windowMs - t;
  }

  /** Records `digest` for `caller` (after `wait` said 0). */
  record(caller: string, digest: number, t: number): void {
    let w = this.#windows.get(caller);
    if (w === undefined) {
      if (this.#windows.size >= this.#maxEntries) {
        const oldest = this.#windows.keys().next();
        if (oldest.done !== true) this.#windows.delete(oldest.value);
      }
      w = { startedAtMs: t, count: 0, digests: new Float64Array(8) };
    } else {
      this.#windows.delete(caller);
      if (t - w.startedAtMs >= this.#windowMs) Object.assign(w, { startedAtMs: t, count: 0 });
    }
    this.#windows.set(caller, w);
    if (indexOf(w, digest) >= 0) return;
    if (w.count === w.digests.length) {
      const grown = new Float64Array(w.digests.length * 2);
      grown.set(w.digests);
      w.digests = grown;
    }
    w.digests[w.count++] = digest;
  }

  /** Callers currently held. */
  get size(): number {
    return this.#windows.size;
  }

  /** Distinct keys recorded for `caller` in its current window (tests, diagnostics). */
  count(caller: string): number {
    const w = this.#windows.get(caller);
    return w === undefined || this.#now() - w.startedAtMs >= this.#windowMs ? 0 : w.count;
  }
}

function indexOf(w: Window, digest: number): number {
  for (let i = 0; i < w.count; i++) if (w.digests[i] === digest) return i;
  return -1;
}
