/**
 * Shares one in-flight promise per key; the entry is cleared on success AND failure.
 *
 * Concurrent callers of {@link SingleFlight.do} with the same key get the very same promise, so
 * a burst of misses makes one upstream call (google-auth-library-nodejs #338 shows the cost of
 * not doing this). Nothing is remembered once the promise settles: a failure is seen by every
 * waiter of that flight, and the next call starts a fresh one.
 */
export class SingleFlight<K, V> {
  readonly #flights = new Map<K, Promise<V>>();

  /**
   * Runs `fn` unless a flight for `key` is already running, in which case its promise is
   * returned and `fn` is not called. `fn` is called synchronously; a synchronous throw becomes
   * a rejected promise shared like any other failure.
   */
  do(key: K, fn: () => Promise<V>): Promise<V> {
    const existing = this.#flights.get(key);
    if (existing !== undefined) return existing;
    if (typeof fn !== 'function') throw new TypeError('SingleFlight.do: fn must be a function');

    const flight = (async () => fn())();
    this.#flights.set(key, flight);
    const settle = (): void => {
      // Only remove our own flight: `forget` may have let a newer one take the key.
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    // Both branches handled, so this bookkeeping chain can never become an unhandled rejection;
    // the caller still receives `flight` itself and sees the rejection there.
    void flight.then(settle, settle);
    return flight;
  }

  /** Whether a flight for `key` is currently shared. */
  has(key: K): boolean {
    return this.#flights.has(key);
  }

  /**
   * Stops sharing the flight for `key`: it keeps running for the callers who already hold its
   * promise, but the next `do(key, ...)` starts a new one. Returns whether there was one.
   */
  forget(key: K): boolean {
    return this.#flights.delete(key);
  }

  /** Stops sharing every flight (see {@link SingleFlight.forget}). */
  forgetAll(): void {
    this.#flights.clear();
  }

  /** Number of flights currently shared. */
  get inFlight(): number {
    return this.#flights.size;
  }
}
