/**
 * Client authentication for `client_credentials`: throttle per client id, then verify the secret
 * against the policy's scrypt hash. Whether the id exists changes nothing an attacker can see:
 * an unknown id is throttled the same way, and its secret is derived against a dummy hash with
 * the same parameters (then refused, whatever the comparison said). A secret outside
 * `CLIENT_SECRET_SYNTAX` is treated the same way: derived against the dummy, then refused.
 */
import { createHash } from 'node:crypto';
import { CLIENT_SECRET_SYNTAX, verifyClientSecret, type ClientSecretHash } from './client-secret-hash.js';
import { createDerivationLimiter, OverloadedError, type DerivationLimiter } from './derivation-limiter.js';
import type { FailureThrottle } from './failure-throttle.js';

/** The part of the compiled policy this needs. */
export interface ClientSecretStore {
  clientSecretHash(clientId: string): ClientSecretHash | undefined;
  readonly dummyClientSecretHash: ClientSecretHash;
}

export type ClientAuthResult =
  | { ok: true; clientId: string }
  | { ok: false; reason: 'INVALID_CLIENT' }
  | { ok: false; reason: 'CLIENT_AUTH_THROTTLED' | 'CLIENT_AUTH_OVERLOADED'; retryAfterSeconds: number };

export interface ClientAuthenticator {
  /** `source`: the request's source key (limits/client-source.ts), throttled when `sourceThrottle` is set. */
  authenticate(
    store: ClientSecretStore,
    clientId: string,
    secret: string,
    source?: string,
  ): Promise<ClientAuthResult>;
}

export interface ClientAuthenticatorOptions {
  throttle: FailureThrottle;
  /**
   * The same mechanism per source address: one source spraying many client ids gets no more
   * than its own failures. Checked first, so a throttled source takes no slot in `throttle`.
   */
  sourceThrottle?: FailureThrottle;
  /** Bounds derivations in flight (default: 2 running, 64 waiting). */
  limiter?: DerivationLimiter;
  /** Defaults to `verifyClientSecret`; tests observe which hash was derived. */
  verify?: (secret: string, hash: ClientSecretHash) => Promise<boolean>;
}

/** Ids longer than this are throttled under their SHA-256, so the table's keys stay small. */
const MAX_KEY_LENGTH = 128;

/** Creates the authenticator; the throttle's state lives as long as it does (one per instance). */
export function createClientAuthenticator(options: ClientAuthenticatorOptions): ClientAuthenticator {
  const verify = options.verify ?? verifyClientSecret;
  const limiter = options.limiter ?? createDerivationLimiter({ maxConcurrent: 2, maxQueued: 64 });
  return {
    async authenticate(store, clientId, secret, source) {
      const key =
        clientId.length <= MAX_KEY_LENGTH
          ? `id:${clientId}`
          : `sha256:${createHash('sha256').update(clientId).digest('hex')}`;
      const fromSource =
        options.sourceThrottle && source !== undefined ? options.sourceThrottle.attempt(source) : undefined;
      if (fromSource?.throttled)
        return {
          ok: false,
          reason: 'CLIENT_AUTH_THROTTLED',
          retryAfterSeconds: fromSource.retryAfterSeconds,
        };
      const byId = options.throttle.attempt(key);
      if (byId.throttled) {
        // No secret is checked: the source's slot is freed without counting a failure.
        if (fromSource) fromSource.settle(true);
        return { ok: false, reason: 'CLIENT_AUTH_THROTTLED', retryAfterSeconds: byId.retryAfterSeconds };
      }
      // Both throttles see the one outcome of this attempt.
      const attempt = {
        settle(succeeded: boolean) {
          byId.settle(succeeded);
          if (fromSource) fromSource.settle(succeeded);
        },
      };
      let ok = false;
      let checked = true;
      try {
        const expected = CLIENT_SECRET_SYNTAX.test(secret) ? store.clientSecretHash(clientId) : undefined;
        const matched = await limiter.run(() => verify(secret, expected ?? store.dummyClientSecretHash));
        // Only a real hash authenticates: a secret matching the dummy still fails.
        ok = matched && expected !== undefined;
      } catch (err) {
        if (!(err instanceof OverloadedError)) throw err;
        checked = false;
        return { ok: false, reason: 'CLIENT_AUTH_OVERLOADED', retryAfterSeconds: 1 };
      } finally {
        // A shed attempt checked no secret: it frees its slot without counting as a failure.
        attempt.settle(ok || !checked);
      }
      return ok ? { ok: true, clientId } : { ok: false, reason: 'INVALID_CLIENT' };
    },
  };
}
