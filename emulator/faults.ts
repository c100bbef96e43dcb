/**
 * Fault injection and call counters, shared by every emulated endpoint (HTTP and gRPC).
 *
 * Endpoint names are stable strings, e.g. `oauth.token`, `oauth.tokeninfo`, `oauth.certs`,
 * `metadata.token`, `metadata.identity`, `secretmanager.AccessSecretVersion`,
 * `iam.keys.create`, `apikeys.createKey`, `gemini.generateContent`, `sts.token`,
 * `storage.objects.get`, `firestore.get` / `firestore.patch` / `firestore.delete`, and the Redis emulator's `redis.connect` and `redis.<COMMAND>` (`redis.GET`).
 *
 * A rule's endpoint may end in `.*` to match every endpoint with that prefix (`redis.*` takes
 * the whole Redis emulator down, or slows it, with one rule).
 */

/** What an injected fault does to one call. */
export interface Fault {
  /** HTTP status to answer with (gRPC endpoints map it to the matching gRPC code). */
  status?: number;
  /** Seconds for a `Retry-After` header (HTTP only). */
  retryAfterSeconds?: number;
  /** Delay before the call is handled (or before the fault is answered). */
  latencyMs?: number;
  /** Destroy the connection instead of answering (HTTP) / answer UNAVAILABLE (gRPC). */
  reset?: boolean;
  /** Answer 200 with this raw body instead of the real handler (e.g. malformed JSON). */
  rawBody?: string;
}

/** A rule: apply `fault` to the next `times` calls of `endpoint` (Infinity = until cleared). */
export interface FaultRule extends Fault {
  endpoint: string;
  times: number;
}

export class FaultRegistry {
  private readonly rules: FaultRule[] = [];
  private readonly counts = new Map<string, number>();

  /** Adds a rule; rules for one endpoint are consumed in the order they were added. */
  inject(rule: FaultRule): void {
    if (!rule.endpoint) throw new TypeError('fault rule needs an endpoint');
    if (!(rule.times > 0)) throw new TypeError('fault rule needs times > 0');
    this.rules.push({ ...rule });
  }

  /**
   * Records one call of `endpoint` and returns the fault to apply to it, if any.
   * Every handler calls this exactly once per request, before doing any work.
   */
  take(endpoint: string): Fault | undefined {
    this.counts.set(endpoint, (this.counts.get(endpoint) ?? 0) + 1);
    const index = this.rules.findIndex((r) => matches(r.endpoint, endpoint));
    if (index < 0) return undefined;
    const rule = this.rules[index];
    rule.times -= 1;
    if (rule.times <= 0) this.rules.splice(index, 1);
    const { endpoint: _e, times: _t, ...fault } = rule;
    return fault;
  }

  /** Calls seen for one endpoint since the last reset. */
  count(endpoint: string): number {
    return this.counts.get(endpoint) ?? 0;
  }

  /** All counters, for the admin API. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Clears counters (and, unless `keepRules`, pending faults). */
  reset(options: { keepRules?: boolean } = {}): void {
    this.counts.clear();
    if (!options.keepRules) this.rules.length = 0;
  }
}

/** Whether a rule's endpoint names `endpoint`: exactly, or as a `prefix.*` pattern. */
function matches(ruleEndpoint: string, endpoint: string): boolean {
  if (ruleEndpoint === endpoint) return true;
  return ruleEndpoint.endsWith('.*') && endpoint.startsWith(ruleEndpoint.slice(0, -1));
}

/** Maps an HTTP status to the gRPC status code Google's front ends use for it. */
export function grpcCodeForHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 5; // NOT_FOUND
    case 409:
      return 10; // ABORTED
    case 412:
      return 9; // FAILED_PRECONDITION
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 501:
      return 12; // UNIMPLEMENTED
    case 503:
      return 14; // UNAVAILABLE
    case 504:
      return 4; // DEADLINE_EXCEEDED
    default:
      return status >= 500 ? 13 : 2; // INTERNAL : UNKNOWN
  }
}
