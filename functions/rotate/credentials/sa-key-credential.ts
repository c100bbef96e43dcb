/**
 * Service-account keys: IAM creates them (server-chosen ids, key material only in the create
 * answer), a token exchange proves them, disable then delete retires them.
 */
import {
  FailedPreconditionError,
  NotFoundError,
  TvsError,
  UpstreamUnavailable,
} from '../../../shared/errors.js';
import type { IamKeys } from '../../../shared/gcp/iam-keys.js';
import { withRetry } from '../../../shared/http/retry.js';
import { serviceAccountKeySchema, type ServiceAccountKey } from '../../../shared/minting/sa-key.js';
import { signAssertion, toSigningKey } from '../../../shared/minting/sign-assertion.js';
import { exchangeAssertion } from '../../../shared/minting/token-exchange.js';
import type { RotationConfig } from '../state.js';
import type { Credential } from './credential.js';

/** IAM allows at most 10 user-managed keys per service account. */
export const MAX_USER_MANAGED_KEYS = 10;
const VERIFY_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface SaKeyCredentialOptions {
  iam: IamKeys;
  tokenUriAllowlist: readonly string[];
  /** How long verification keeps retrying while IAM propagates the new key. */
  verifyDeadlineMs: number;
  attemptTimeoutMs: number;
  fetchImpl?: typeof fetch;
}

function verifyFailed(detail: string, cause?: unknown): FailedPreconditionError {
  return new FailedPreconditionError('The new credential did not work.', {
    reason: 'VERIFY_FAILED',
    detail,
    cause,
  });
}

/** Parses and checks a key file; only field names and codes reach the error, never values. */
function parseKeyFile(payload: Buffer, email: string, allowlist: readonly string[]): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    throw verifyFailed('key file is not JSON');
  }
  const parsed = serviceAccountKeySchema.safeParse(json);
  if (!parsed.success)
    throw verifyFailed(
      `key file invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}:${i.code}`).join(', ')}`,
    );
  if (parsed.data.client_email.toLowerCase() !== email.toLowerCase())
    throw verifyFailed(`key file belongs to ${parsed.data.client_email}, not ${email}`);
  if (!allowlist.includes(parsed.data.token_uri))
    throw verifyFailed(`token_uri ${parsed.data.token_uri} is not in TVS_TOKEN_URI_ALLOWLIST`);
  return parsed.data;
}

export function saKeyCredential(options: SaKeyCredentialOptions): Credential {
  const { iam } = options;
  /** The key id of a key file of the bound SA (undefined for anything else). */
  const keyIdOf = (config: RotationConfig, payload: Buffer): string | undefined => {
    try {
      return parseKeyFile(payload, config.target, options.tokenUriAllowlist).private_key_id;
    } catch {
      return undefined;
    }
  };
  return {
    async keyStatus(config, keyId) {
      try {
        // The path names the bound SA: a key id of any other SA is simply not found.
        return (await iam.get(config.target, keyId)).disabled ? 'disabled' : 'enabled';
      } catch (err) {
        if (err instanceof NotFoundError) return 'absent';
        throw err;
      }
    },
    holds(config, payload, keyId) {
      return Promise.resolve(keyIdOf(config, payload) === keyId);
    },
    async liveKeys(config) {
      return (await iam.list(config.target)).map((k) => k.keyId);
    },
    async unrecordedKeys(config, keysBefore, known) {
      return (await iam.list(config.target))
        .map((k) => k.keyId)
        .filter((id) => !keysBefore.includes(id) && !known.includes(id));
    },
    // The private key is only in the create answer: an unstored key cannot be reused.
    retryAdoptsKey: false,
    async checkCapacity(config) {
      const live = (await iam.list(config.target)).length;
      if (live >= MAX_USER_MANAGED_KEYS) {
        throw new FailedPreconditionError('The service account has the maximum number of keys.', {
          reason: 'KEY_CAP',
          detail: `${config.target} has ${live} user-managed keys (limit ${MAX_USER_MANAGED_KEYS}); none is one the rotator recorded as its own`,
        });
      }
    },
    async create(config) {
      let created;
      try {
        created = await iam.create(config.target);
      } catch (err) {
        if (
          err instanceof TvsError &&
          /disableServiceAccountKeyCreation/.test(`${err.detail ?? ''} ${err.metadata.violations ?? ''}`)
        ) {
          throw new FailedPreconditionError('An organization policy forbids creating service account keys.', {
            reason: 'ORG_POLICY_BLOCKS_KEY_CREATION',
            detail: err.detail,
            cause: err,
          });
        }
        throw err;
      }
      return { keyId: created.keyId, payload: created.keyFile };
    },
    keyIdOf,
    async verify(config, payload) {
      const key = await toSigningKey(parseKeyFile(payload, config.target, options.tokenUriAllowlist)).catch(
        (err: unknown) => {
          throw verifyFailed('private_key does not import as an RSA PKCS#8 key', err);
        },
      );
      try {
        await withRetry(
          async (signal) => {
            const assertion = await signAssertion(key, { scopes: [VERIFY_SCOPE] });
            await exchangeAssertion(key.tokenUri, assertion, {
              signal,
              timeoutMs: options.attemptTimeoutMs,
              fetchImpl: options.fetchImpl,
            });
          },
          {
            maxAttempts: 30,
            baseDelayMs: 250,
            maxDelayMs: 5000,
            deadlineMs: options.verifyDeadlineMs,
            // Every failure of the exchange is one of our errors, transient or a refusal; retry both:
            // invalid_grant right after create is IAM propagation (keys take up to ~60 s).
            classify: (err) => ({
              retryable: err instanceof TvsError,
              retryAfterMs: err instanceof UpstreamUnavailable ? err.retryAfterMs : undefined,
            }),
          },
        );
      } catch (err) {
        throw verifyFailed(
          `token exchange with key ${key.keyId} failed: ${err instanceof Error ? err.message : 'unknown'}`,
          err,
        );
      }
    },
    async disable(config, keyId) {
      try {
        await iam.disable(config.target, keyId);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    },
    async delete(config, keyId) {
      await iam.delete(config.target, keyId);
    },
  };
}
