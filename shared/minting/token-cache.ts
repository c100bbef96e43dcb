import { SingleFlight } from '../http/singleflight.js';

/** A cached value that knows when it stops being usable. */
export interface Expiring {
  /** Absolute expiry, milliseconds since the epoch. */
  expiresAtMs: number;
}

/** How a {@link TokenCache} decides what to serve, refresh and keep. */
export interface TokenCacheOptions {
  /** LRU bound: at most this many entries are kept (an integer > 0). */
  maxEntries: number;
  /** Entries with this little left (or less) are still served but refreshed in the background. */
  refreshAheadMs: number;
  /** A cached entry with this little left (or less) is never served: it counts as a miss. */
  minRemainingMs: number;
  /** Clock, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** Receives background refresh failures (the caller logs them); never an unhandled rejection. */
  onBackgroundError?: (err: unknown, key: string) => void;
}

/** What {@link TokenCache.get} returns: the value and whether it came from the cache. */
export interface CacheResult<T> {
  value: T;
  hit: boolean;
}

/** Counters since construction (`inFlight` is the current number of shared mints). */
export interface TokenCacheStats {
  hits: number;
  misses: number;
  refreshes: number;
  evictions: number;
  inFlight: number;
}

/**
 * A bounded, in-memory LRU cache of expiring values (access and ID tokens) with refresh-ahead
 * and coalesced mints.
 *
 * Policy, for an entry with `remaining = expiresAtMs - now()`:
 * - `remaining > refreshAheadMs`: a hit.
 * - `minRemainingMs < remaining <= refreshAheadMs`: a hit, and one background refresh starts
 *   (shared with any concurrent miss for the key; a failure keeps the old entry and goes to
 *   `onBackgroundError`).
 * - `remaining <= minRemainingMs`: a miss; the caller waits for the shared mint.
 *
 * A minted value is always returned to the waiters of its flight, but stored only if it has
 * more than `minRemainingMs` left. Failures are never cached.
 *
 * `delete` and `clear` invalidate: a mint that was already running when they were called still
 * answers the callers that were waiting for it, but its result is not stored, and later calls
 * start a new mint instead of joining it. Callers delete a key when its value must not be used
 * any more (e.g. after a key rotation), so an older flight must not bring it back.
 *
 * No timers: refreshes are driven by reads, so the cache never keeps a process alive.
 */
export class TokenCache<T extends Expiring> {
  readonly #maxEntries: number;
  readonly #refreshAheadMs: number;
  readonly #minRemainingMs: number;
  readonly #now: () => number;
  readonly #onBackgroundError: ((err: unknown, key: string) => void) | undefined;

  /** Insertion order is recency order: the first key is the least recently used. */
  readonly #entries = new Map<string, T>();
  readonly #flights = new SingleFlight<string, T>();
  /** The flight allowed to store its result per key; `delete`/`clear` revoke it. */
  readonly #storeTickets = new Map<string, symbol>();

  #hits = 0;
  #misses = 0;
  #refreshes = 0;
  #evictions = 0;

  constructor(options: TokenCacheOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError('TokenCache: options must be an object');
    }
    const { maxEntries, refreshAheadMs, minRemainingMs, now, onBackgroundError } = options;
    if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0) {
      throw new TypeError('TokenCache: maxEntries must be an integer greater than 0');
    }
    if (!isNonNegativeFinite(refreshAheadMs)) {
      throw new TypeError('TokenCache: refreshAheadMs must be a finite number >= 0');
    }
    if (!isNonNegativeFinite(minRemainingMs)) {
      throw new TypeError('TokenCache: minRemainingMs must be a finite number >= 0');
    }
    if (minRemainingMs > refreshAheadMs) {
      throw new TypeError('TokenCache: minRemainingMs must not exceed refreshAheadMs');
    }
    if (now !== undefined && typeof now !== 'function') {
      throw new TypeError('TokenCache: now must be a function');
    }
    if (onBackgroundError !== undefined && typeof onBackgroundError !== 'function') {
      throw new TypeError('TokenCache: onBackgroundError must be a function');
    }
    this.#maxEntries = maxEntries;
    this.#refreshAheadMs = refreshAheadMs;
    this.#minRemainingMs = minRemainingMs;
    this.#now = now ?? Date.now;
    this.#onBackgroundError = onBackgroundError;
  }

  /**
   * Returns a cached value or mints one. Concurrent misses for one key share ONE mint call
   * (singleflight); a failed mint is not cached and is seen by every waiter of that flight.
   */
  async get(key: string, mint: () => Promise<T>): Promise<CacheResult<T>> {
    const cached = this.getCached(key, mint);
    if (cached !== undefined) return { value: cached, hit: true };
    this.#misses++;
    const value = await this.#mintShared(key, mint);
    return { value, hit: false };
  }

  /**
   * The hit half of {@link get}, synchronously: the cached value if it may be served (counted as
   * a hit, LRU touched, and a background refresh started in the refresh-ahead window, through
   * `mint`), else `undefined` — nothing counted, nothing minted; the caller then calls `get`.
   * Lets a request served from the cache finish without waiting for a promise.
   */
  getCached(key: string, mint: () => Promise<T>): T | undefined {
    if (typeof mint !== 'function') throw new TypeError('TokenCache.get: mint must be a function');
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const remaining = entry.expiresAtMs - this.#now();
    if (remaining > this.#minRemainingMs) {
      this.#hits++;
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      if (remaining <= this.#refreshAheadMs) this.#refreshInBackground(key, mint);
      return entry;
    }
    // Never servable again (time only moves forward): free the slot now.
    this.#entries.delete(key);
    return undefined;
  }

  /** The cached value if it may still be served; no LRU touch, no mint, no stats. */
  peek(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAtMs - this.#now() <= this.#minRemainingMs) return undefined;
    return entry;
  }

  /** Whether a mint for `key` is running that a `get` missing now would join (no new mint). */
  pending(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Drops `key` and stops a running mint for it from storing its result. */
  delete(key: string): boolean {
    this.#storeTickets.delete(key);
    this.#flights.forget(key);
    return this.#entries.delete(key);
  }

  /** Drops every entry whose value `matches` (and stops running mints for those keys from storing); returns how many. */
  deleteWhere(matches: (value: T) => boolean): number {
    let dropped = 0;
    for (const [key, value] of [...this.#entries]) {
      if (matches(value) && this.delete(key)) dropped++;
    }
    return dropped;
  }

  /** Drops every entry and stops every running mint from storing its result. */
  clear(): void {
    this.#storeTickets.clear();
    this.#flights.forgetAll();
    this.#entries.clear();
  }

  /** Number of stored entries (some may be too close to expiry to serve). */
  get size(): number {
    return this.#entries.size;
  }

  /** Counters since construction; `inFlight` is the number of mints callers can still join. */
  stats(): TokenCacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      refreshes: this.#refreshes,
      evictions: this.#evictions,
      inFlight: this.#flights.inFlight,
    };
  }

  #mintShared(key: string, mint: () => Promise<T>): Promise<T> {
    return this.#flights.do(key, async () => {
      const ticket = Symbol(key);
      this.#storeTickets.set(key, ticket);
      try {
        const value = await mint();
        if (this.#storeTickets.get(key) === ticket) this.#store(key, value);
        return value;
      } finally {
        if (this.#storeTickets.get(key) === ticket) this.#storeTickets.delete(key);
      }
    });
  }

  #refreshInBackground(key: string, mint: () => Promise<T>): void {
    // At most one mint per key: a refresh or miss already running will replace the entry.
    if (this.#flights.has(key)) return;
    this.#refreshes++;
    this.#mintShared(key, mint).catch((err: unknown) => {
      try {
        this.#onBackgroundError?.(err, key);
      } catch {
        // A failing reporter must not turn into an unhandled rejection; the old entry stays.
      }
    });
  }

  #store(key: string, value: T): void {
    if (!(value.expiresAtMs - this.#now() > this.#minRemainingMs)) return;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
      this.#evictions++;
    }
  }
}

function isNonNegativeFinite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}
