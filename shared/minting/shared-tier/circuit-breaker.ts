/**
 * A small circuit breaker: after `failureThreshold` failures in a row the tier is skipped for
 * `openMs`; then one call per `openMs` is let through (half-open) and its success closes it. So
 * a dead Redis or KMS adds its timeout to a few misses, not to every miss.
 */
export interface CircuitBreaker {
  /** Whether a call may use the tier now (while open, one trial call per `openMs` gets true). */
  allow(): boolean;
  success(): void;
  failure(): void;
  readonly state: 'closed' | 'open';
}

export function createCircuitBreaker(
  options: { failureThreshold?: number; openMs?: number; now?: () => number } = {},
): CircuitBreaker {
  const threshold = options.failureThreshold ?? 3;
  const openMs = options.openMs ?? 5_000;
  const now = options.now ?? Date.now;
  let failures = 0;
  let nextTrialAt = 0;
  return {
    get state() {
      return failures < threshold ? 'closed' : 'open';
    },
    allow() {
      if (failures < threshold) return true;
      if (now() < nextTrialAt) return false;
      // A trial whose outcome is never reported cannot wedge the breaker: the next one comes in openMs.
      nextTrialAt = now() + openMs;
      return true;
    },
    success() {
      failures = 0;
    },
    failure() {
      failures++;
      if (failures >= threshold) nextTrialAt = now() + openMs;
    },
  };
}
