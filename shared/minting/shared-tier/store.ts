/**
 * What the shared tier needs from its key-value store (Redis in production, fakes in unit
 * tests). Every operation is bounded by the implementation's per-operation timeout and rejects
 * with {@link StoreUnavailable} when the store cannot answer in time.
 */
export interface SharedStore {
  get(key: string): Promise<string | null>;
  /** SET key value PX ttlMs. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** SET key value NX PX ttlMs: true when this call created the key. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes `key` only while it still holds `value` (a lock we own, an entry we judged bad). */
  deleteIfEquals(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** The store did not answer (down, slow, refused our AUTH): the tier falls back to minting. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
  constructor(
    /** Log-safe: the operation and the kind of failure; never a key's value. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`shared cache store unavailable: ${detail}`, options);
  }
}
