/**
 * API keys: created through API Keys v2 under a key id derived from the secret and the
 * rotation's generation (so a retried create finds its key instead of making a second one),
 * with the old key's restrictions; proven by an authenticated Gemini call; soft-deleted.
 */
import { createHash } from 'node:crypto';
import { FailedPreconditionError, NotFoundError } from '../../../shared/errors.js';
import type { ApiKeyInfo, ApiKeys } from '../../../shared/gcp/api-keys.js';
import { callGoogle, fetchTransport, type RestTransport } from '../../../shared/gcp/google-rest.js';
import type { RotationConfig } from '../state.js';
import type { Credential, KeyStatus } from './credential.js';

export interface ApiKeyCredentialOptions {
  apiKeys: ApiKeys;
  /** e.g. `https://generativelanguage.googleapis.com` */
  geminiUrl: string;
  verifyDeadlineMs: number;
  attemptTimeoutMs: number;
  /** Transport for the Gemini check (no Google credentials: the key under test authenticates). */
  transport?: RestTransport;
}

/** `projects/P/locations/global/keys/K` → `{ parent: projects/P/locations/global, keyId: K }`. */
export function splitKeyName(name: string): { parent: string; keyId: string } {
  const at = name.lastIndexOf('/keys/');
  return { parent: name.slice(0, at), keyId: name.slice(at + '/keys/'.length) };
}

/**
 * The key id of rotation `generation` of `secretId`: `[a-z]([a-z0-9-]{0,61}[a-z0-9])?`, never
 * UUID-shaped (API Keys' rules), unique per secret by a hash of the full secret id.
 */
export function apiKeyIdFor(secretId: string, generation: number): string {
  const hash = createHash('sha256').update(secretId).digest('hex').slice(0, 6);
  const slug = secretId.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 40).replace(/-+$/, '');
  return `${slug || 'key'}-${hash}-g${generation}`;
}

/** API-key annotation naming the secret (`projects/P/secrets/S`) a rotator-made key belongs to. */
export const OWNER_ANNOTATION = 'tvs-rotation-secret';

export function apiKeyCredential(options: ApiKeyCredentialOptions): Credential {
  const { apiKeys } = options;
  const transport = options.transport ?? fetchTransport();
  const nameOf = (config: RotationConfig, keyId: string) => `${splitKeyName(config.target).parent}/keys/${keyId}`;

  /**
   * API key ids are project-wide, so a state that names one proves nothing: only the bound key
   * itself, or a key the rotator made for this very secret (its owner annotation), may be touched.
   */
  async function keyStatus(config: RotationConfig, keyId: string, secretName: string): Promise<KeyStatus> {
    let key: ApiKeyInfo;
    try {
      key = await apiKeys.get(nameOf(config, keyId));
    } catch (err) {
      if (err instanceof NotFoundError) return 'absent';
      throw err;
    }
    if (key.deleteTime !== undefined) return 'absent';
    const owned = keyId === splitKeyName(config.target).keyId || key.annotations?.[OWNER_ANNOTATION] === secretName;
    return owned ? 'enabled' : 'foreign';
  }

  return {
    keyStatus,
    async holds(config, payload, keyId) {
      return (await apiKeys.keyString(nameOf(config, keyId))) === payload.toString('utf8').trim();
    },
    liveKeys: () => Promise.resolve(undefined),
    // Ids are deterministic: a crashed create is found and reused, never orphaned.
    deleteOrphans: () => Promise.resolve([]),
    checkCapacity: () => Promise.resolve(),
    async create(config, context) {
      const { parent, keyId: targetId } = splitKeyName(config.target);
      const keyId = apiKeyIdFor(context.secretId, context.generation);
      // Restrictions are copied from the key being replaced: a rotation must never widen access.
      // (The create step has checked that key is the bound one or one made for this secret.)
      const current = await apiKeys.get(nameOf(config, context.currentKey ?? targetId));
      await apiKeys.create(parent, keyId, {
        displayName: `${current.displayName ?? targetId} (rotation ${context.generation})`.slice(0, 63),
        ...(current.restrictions ? { restrictions: current.restrictions } : {}),
        ...(current.serviceAccountEmail ? { serviceAccountEmail: current.serviceAccountEmail } : {}),
        annotations: { [OWNER_ANNOTATION]: context.secretName },
      });
      const keyString = await apiKeys.keyString(nameOf(config, keyId));
      return { keyId, payload: Buffer.from(keyString, 'utf8') };
    },
    keyIdOf: () => undefined,
    async verify(_config, payload) {
      const keyString = payload.toString('utf8').trim();
      if (!/^[A-Za-z0-9_-]{10,200}$/.test(keyString)) {
        throw new FailedPreconditionError('The new credential did not work.', { reason: 'VERIFY_FAILED', detail: 'stored API key string is malformed' });
      }
      try {
        // 400 API_KEY_INVALID / 403 right after creation is propagation: keep trying until the deadline.
        await callGoogle(transport, { method: 'GET', url: `${options.geminiUrl}/v1beta/models?pageSize=1`, headers: { 'x-goog-api-key': keyString } }, 'Gemini models.list with the new API key', {
          deadlineMs: options.verifyDeadlineMs, timeoutMs: options.attemptTimeoutMs, maxAttempts: 30, retryAll: true,
        });
      } catch (err) {
        throw new FailedPreconditionError('The new credential did not work.', { reason: 'VERIFY_FAILED', detail: err instanceof Error ? err.message : 'unknown', cause: err });
      }
    },
    // API Keys v2 has no disabled state: the old key stays usable until it is (soft) deleted.
    disable: () => Promise.resolve(),
    async delete(config, keyId) {
      await apiKeys.delete(nameOf(config, keyId));
    },
  };
}
