/**
 * Holds the compiled policy: loaded once at cold start (a bad policy fails start-up), re-read in
 * the background when older than the TTL. A reload that fails keeps the last good policy.
 */
import { readFile } from 'node:fs/promises';
import type { SecretAccessor } from '../../../shared/gcp/secret-manager.js';
import type { AcceptedAudiences } from './accepted-audiences.js';
import { compilePolicy, PolicyError, type CompiledPolicy } from './compile-policy.js';

export interface PolicySource {
  /** Where the policy comes from, for messages. */
  describe(): string;
  read(): Promise<string>;
}

export function filePolicySource(path: string): PolicySource {
  return { describe: () => `file ${path}`, read: () => readFile(path, 'utf8') };
}

export function secretPolicySource(secrets: SecretAccessor, versionName: string): PolicySource {
  return {
    describe: () => `secret ${versionName}`,
    read: async () => (await secrets.access(versionName)).data.toString('utf8'),
  };
}

export interface PolicyProvider {
  /** The current compiled policy; starts a background re-read when it is older than the TTL. */
  current(): CompiledPolicy;
  /** Re-reads now (used by the TTL path and tests). Rejects on a bad policy, keeping the old one. */
  reload(): Promise<CompiledPolicy>;
}

/** Loads and compiles the policy; throws `PolicyError` (naming source, rule and field) if it is bad. */
export async function createPolicyProvider(options: {
  source: PolicySource;
  /** Audiences this service accepts from callers; a rule minting ID tokens for one does not compile. */
  acceptedAudiences: AcceptedAudiences;
  ttlMs: number;
  now?: () => number;
  onReloadError?: (err: unknown) => void;
}): Promise<PolicyProvider> {
  const now = options.now ?? Date.now;
  const load = async (): Promise<CompiledPolicy> => {
    const text = await options.source.read();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new PolicyError(`Invalid policy from ${options.source.describe()}: not valid JSON (${(err as Error).message})`);
    }
    try {
      return compilePolicy(json, { acceptedAudiences: options.acceptedAudiences });
    } catch (err) {
      if (err instanceof PolicyError) throw new PolicyError(`${err.message.replace(/^Invalid policy/, `Invalid policy from ${options.source.describe()}`)}`);
      throw err;
    }
  };

  let policy = await load();
  let loadedAtMs = now();
  let inFlight: Promise<CompiledPolicy> | undefined;

  const reload = (): Promise<CompiledPolicy> => {
    inFlight ??= load()
      .then((next) => {
        policy = next;
        loadedAtMs = now();
        return next;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  return {
    current() {
      if (now() - loadedAtMs > options.ttlMs && !inFlight) {
        reload().catch((err: unknown) => {
          // Keep serving the last good policy; try again after another TTL rather than on every request.
          loadedAtMs = now();
          options.onReloadError?.(err);
        });
      }
      return policy;
    },
    reload,
  };
}
