/**
 * Holds the compiled policy: loaded once at cold start (a bad policy fails start-up), re-read in
 * the background from 3/4 of the TTL on, and before judging a request once older than the TTL
 * (so while reads succeed no request is judged by a policy read more than the TTL ago), and at
 * once on a change notification (`refresh`). A reload that fails keeps the last good policy, but
 * only for a bounded time: once no reload has succeeded for `maxStalenessMs`, requests fail
 * closed (503 POLICY_STALE) until one does.
 */
import { readFile } from 'node:fs/promises';
import { UnavailableError } from '../../../shared/errors.js';
import type { SecretAccessor } from '../../../shared/gcp/secret-access.js';
import type { AcceptedAudiences } from './accepted-audiences.js';
import { compilePolicy, PolicyError, type CompiledPolicy } from './compile-policy.js';
import { parsePolicyText } from './parse-policy-text.js';

/** While stale, how often a re-read may be tried (however many requests arrive). */
export const STALE_RETRY_MS = 1000;
/** What a refused client is told to wait before retrying. */
const STALE_RETRY_AFTER_SECONDS = 10;

export interface PolicySource {
  /** Where the policy comes from, for messages. */
  describe(): string;
  read(): Promise<string>;
}

export function filePolicySource(path: string): PolicySource {
  return { describe: () => `file ${path}`, read: () => readFile(path, 'utf8') };
}

/** Deadline of one read of the policy secret. */
export const POLICY_READ_TIMEOUT_MS = 10_000;

export function secretPolicySource(secrets: SecretAccessor, versionName: string): PolicySource {
  return {
    describe: () => `secret ${versionName}`,
    // Bounded, so a reload that hangs counts as a failure and the staleness limit can act.
    read: async () =>
      (await secrets.access(versionName, { timeoutMs: POLICY_READ_TIMEOUT_MS })).data.toString('utf8'),
  };
}

/** The policy's health, as reported with each reload failure and staleness change. */
export interface PolicyStatus {
  /** Time since the last successful load. */
  lastGoodAgeMs: number;
  /** True when past the maximum staleness with a failed reload: requests are refused. */
  stale: boolean;
  /** Reloads failed since the last successful one. */
  consecutiveFailures: number;
}

export interface PolicyProvider {
  /**
   * The current compiled policy; starts a background re-read when it is due. Throws
   * `UnavailableError` (POLICY_STALE) when the policy is past its maximum staleness and the
   * last re-read failed.
   */
  current(): CompiledPolicy;
  /**
   * The policy a request is judged by: as `current()`, but past the maximum staleness it first
   * waits for a re-read (shared by concurrent requests, at most one per `STALE_RETRY_MS`), so an
   * instance that was idle for long serves its first request instead of refusing it.
   */
  currentForRequest(): Promise<CompiledPolicy>;
  /**
   * What `currentForRequest` resolves to when it need not wait for a re-read, synchronously (it
   * may throw POLICY_STALE); `undefined` when a re-read must finish first. Lets a request whose
   * token is cached be answered without a promise.
   */
  currentIfFresh(): CompiledPolicy | undefined;
  /** Re-reads now (used by the TTL path and tests). Rejects on a bad policy, keeping the old one. */
  reload(): Promise<CompiledPolicy>;
  /**
   * A re-read that starts after this call (a running one may have read the old text): what a
   * change notification asks for. Concurrent calls share one such re-read.
   */
  refresh(): Promise<CompiledPolicy>;
}

/** Share of the TTL after which a request starts a background re-read, so steady traffic never waits. */
export const REFRESH_AHEAD_SHARE = 0.75;

export interface PolicyProviderOptions {
  source: PolicySource;
  /** Audiences this service accepts from callers; a rule minting ID tokens for one does not compile. */
  acceptedAudiences: AcceptedAudiences;
  /** Re-read when the policy is older than this. */
  ttlMs: number;
  /** Refuse requests when no re-read has succeeded for this long (and the last one failed). */
  maxStalenessMs: number;
  now?: () => number;
  /** Called for every failed re-read (the error names source, rule and field; never policy text). */
  onReloadError?: (err: unknown, status: PolicyStatus) => void;
  /** Called when requests start being refused (`true`) and when a re-read ends that (`false`). */
  onStaleChange?: (stale: boolean, status: PolicyStatus) => void;
}

/** Loads and compiles the policy; throws `PolicyError` (naming source, rule and field) if it is bad. */
export async function createPolicyProvider(options: PolicyProviderOptions): Promise<PolicyProvider> {
  const now = options.now ?? Date.now;
  const { source, ttlMs, maxStalenessMs } = options;
  const load = async (): Promise<CompiledPolicy> => {
    const json = await parsePolicyText(await source.read(), source.describe());
    try {
      return compilePolicy(json, { acceptedAudiences: options.acceptedAudiences });
    } catch (err) {
      if (err instanceof PolicyError)
        throw new PolicyError(
          `${err.message.replace(/^Invalid policy/, `Invalid policy from ${source.describe()}`)}`,
        );
      throw err;
    }
  };

  let policy = await load();
  let goodAtMs = now();
  let attemptedAtMs = goodAtMs;
  let failures = 0;
  let refusing = false;
  let inFlight: Promise<CompiledPolicy> | undefined;

  const pastMaximum = (t: number) => t - goodAtMs > maxStalenessMs;
  const isStale = (t: number) => failures > 0 && pastMaximum(t);
  const status = (t: number): PolicyStatus => ({
    lastGoodAgeMs: t - goodAtMs,
    stale: isStale(t),
    consecutiveFailures: failures,
  });
  // Past the maximum a re-read is what ends the outage, so it is tried often (but not per request).
  const reloadDue = (t: number) =>
    !inFlight && t - attemptedAtMs >= (pastMaximum(t) ? Math.min(ttlMs, STALE_RETRY_MS) : ttlMs);

  const reload = (): Promise<CompiledPolicy> => {
    inFlight ??= (async () => {
      attemptedAtMs = now();
      try {
        const next = await load();
        policy = next;
        goodAtMs = attemptedAtMs = now();
        failures = 0;
        if (refusing) {
          refusing = false;
          options.onStaleChange?.(false, status(goodAtMs));
        }
        return next;
      } catch (err) {
        failures += 1;
        attemptedAtMs = now();
        options.onReloadError?.(err, status(attemptedAtMs));
        throw err;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  const current = (): CompiledPolicy => {
    const t = now();
    if (reloadDue(t)) reload().catch(() => undefined); // reported through onReloadError
    if (isStale(t)) {
      if (!refusing) {
        refusing = true;
        options.onStaleChange?.(true, status(t));
      }
      throw new UnavailableError(
        'The service cannot confirm that its token policy is current; try again later.',
        {
          reason: 'POLICY_STALE',
          detail: `no successful policy reload from ${source.describe()} for ${Math.floor((t - goodAtMs) / 1000)} s (maximum ${Math.floor(maxStalenessMs / 1000)} s)`,
          retryAfterSeconds: STALE_RETRY_AFTER_SECONDS,
        },
      );
    }
    return policy;
  };

  /**
   * `currentForRequest` without waiting: the policy when no re-read has to finish first (starting
   * a due background re-read, or throwing POLICY_STALE, exactly as `current`), else `undefined`.
   */
  const currentIfFresh = (): CompiledPolicy | undefined => {
    const t = now();
    if (pastMaximum(t) && (inFlight || reloadDue(t))) return undefined;
    // While re-reads succeed, no request is judged by a policy read more than the TTL ago: that
    // bounds how long a break-glass change takes to reach every instance.
    if (failures === 0 && t - goodAtMs >= ttlMs) return undefined;
    if (!inFlight && t - attemptedAtMs >= ttlMs * REFRESH_AHEAD_SHARE) {
      reload().catch(() => undefined); // reported through onReloadError
    }
    return current();
  };

  let queued: Promise<CompiledPolicy> | undefined;
  const refresh = (): Promise<CompiledPolicy> => {
    if (!inFlight) return reload();
    queued ??= inFlight
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return reload();
      });
    return queued;
  };

  return {
    current,
    currentIfFresh,
    async currentForRequest() {
      return currentIfFresh() ?? (await reload().catch(() => undefined), current());
    },
    reload,
    refresh,
  };
}
