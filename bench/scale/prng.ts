/**
 * A small seeded PRNG for the scale model (mulberry32: 32-bit state, period 2^32), so a run is a
 * function of its seed alone. Not for anything secret.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Exponentially distributed with `ratePerSecond` (> 0): the wait for the next Poisson arrival. */
  exponential(ratePerSecond: number): number;
}

export function createPrng(seed: number): Prng {
  if (!Number.isSafeInteger(seed)) throw new TypeError('createPrng: seed must be a safe integer');
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    exponential(ratePerSecond) {
      // 1 - u is in (0, 1]: never log(0).
      return -Math.log(1 - next()) / ratePerSecond;
    },
  };
}
