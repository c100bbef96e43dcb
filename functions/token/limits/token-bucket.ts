/**
 * Token buckets keyed by string, in one bounded table, as GCRA (the generic cell rate algorithm):
 * each key holds one number, its theoretical arrival time (TAT). A bucket of `burst` tokens that
 * refills one token every `I = 60,000 / perMinute` ms admits a request at `t` when
 * `TAT - t <= I * (burst - 1)`, and then moves TAT to `max(TAT, t) + I`. A key whose TAT is in the past holds a full
 * bucket: it carries no information and is the first thing the table lets go.
 *
 * Retry-After is exact: a refused request could have been admitted at `TAT - I * (burst - 1)`,
 * the moment the bucket has refilled one token.
 *
 * The table holds at most `maxEntries` keys, evicting the least recently used when a new key
 * arrives. That fails OPEN for the evicted key (it gets a full bucket back) rather than closed for
 * the new one: refusing new keys while the table is full would let one holder of many identities
 * lock every new caller out, while an evicted key's owner gains at most one bucket, no more than a
 * fresh identity would. The least recently used key has been idle longest, so it has usually
 * refilled anyway. (Compare oauth/failure-throttle.ts, which must fail closed: forgetting a failure
 * count there would reopen password guessing.)
 */

export interface TokenBucketTableOptions {
  maxEntries: number;
  now?: () => number;
}

export class TokenBucketTable {
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Key → TAT (ms since the epoch). Insertion order is recency order: the first key is the LRU. */
  readonly #tat = new Map<string, number>();

  constructor(options: TokenBucketTableOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1)
      throw new TypeError('TokenBucketTable: maxEntries must be a positive integer');
    this.#maxEntries = options.maxEntries;
    this.#now = options.now ?? Date.now;
  }

  /** The clock the table reads; callers checking several buckets for one request read it once. */
  now(): number {
    return this.#now();
  }

  /**
   * Milliseconds until `key`, a bucket refilling `perMinute` tokens a minute and holding at most
   * `burst`, could admit one request at `t` (0: it can now). Reads only: no token is taken and no
   * entry created, so a request checked against several buckets takes from none unless all admit it.
   * Numbers, not a shape object, so the hot path allocates nothing.
   */
  wait(key: string, perMinute: number, burst: number, t: number): number {
    const tat = this.#tat.get(key);
    if (tat === undefined) return 0;
    const earliest = tat - (60_000 / perMinute) * (burst - 1);
    return earliest > t ? earliest - t : 0;
  }

  /** Takes one token from `key` at `t` (after `wait` said 0); creates the entry, evicting the LRU. */
  take(key: string, perMinute: number, t: number): void {
    const tat = this.#tat.get(key);
    if (tat === undefined) {
      if (this.#tat.size >= this.#maxEntries) this.#evictOne(t);
    } else {
      this.#tat.delete(key);
    }
    this.#tat.set(key, (tat === undefined || tat < t ? t : tat) + 60_000 / perMinute);
  }

  /** Keys currently held. */
  get size(): number {
    return this.#tat.size;
  }

  /** Drops a full bucket if the oldest few hold one, else the least recently used key. */
  #evictOne(t: number): void {
    let scanned = 0;
    for (const [key, tat] of this.#tat) {
      if (tat <= t) {
        this.#tat.delete(key);
        return;
      }
      // Bounded scan: under a flood of live keys, eviction stays O(1).
      if (++scanned >= 8) break;
    }
    const oldest = this.#tat.keys().next();
    if (oldest.done !== true) this.#tat.delete(oldest.value);
  }
}

/** Whole seconds to tell a client (Retry-After), never 0 for a refusal. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}
