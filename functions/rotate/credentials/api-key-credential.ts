/**
 * API keys: created through API Keys v2 under an unpredictable key id derived from the
 * rotation's random nonce, marked with that nonce and the owning secret, with the old key's
 * restrictions; proven by an authenticated Gemini call; soft-deleted. A retried create that finds
 * its id taken adopts the key only if it carries the nonce and exactly those restrictions.
 */
import { createHash } from 'node:crypto';
import { FailedPreconditionError, NotFoundError } from '../../../shared/errors.js';
import type { ApiKeyInfo, ApiKeys, NewApiKey } from '../../../shared/gcp/api-keys.js';
import { callGoogle, boundedTransport, type RestTransport } from '../../../shared/gcp/google-rest.js';
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
 * The key id of the rotation of `secretId` with random `nonce`: a readable slug of the secret id
 * and 64 bits of a hash of secret and nonce, so nobody can tell the id before the rotation is
 * claimed. Matches `[a-z]([a-z0-9-]{0,61}[a-z0-9])?` and is never UUID-shaped (API Keys' rules).
 */
export function apiKeyIdFor(secretId: string, nonce: string): string {
  const suffix = createHash('sha256').update(`${secretId}\n${nonce}`).digest('hex').slice(0, 16);
  const slug = secretId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return `${slug || 'key'}-${suffix}`;
}

/** API-key annotation naming the secret (`projects/P/secrets/S`) a rotator-made key belongs to. */
export const OWNER_ANNOTATION = 'tvs-rotation-secret';
/** API-key annotation carrying the nonce of the rotation that created the key. */
export const NONCE_ANNOTATION = 'tvs-rotation-nonce';

/** JSON with object keys sorted: restrictions compare by content, not key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Why a key found under the rotation's id is not the one this rotation would have made, if it is not. */
function notOurs(found: ApiKeyInfo, wanted: NewApiKey): string | undefined {
  if (found.deleteTime !== undefined) return 'it is deleted';
  if (found.annotations?.[NONCE_ANNOTATION] !== wanted.annotations?.[NONCE_ANNOTATION])
    return "it does not carry this rotation's nonce";
  if (found.annotations?.[OWNER_ANNOTATION] !== wanted.annotations?.[OWNER_ANNOTATION])
    return 'it names another secret';
  if (canonical(found.restrictions ?? {}) !== canonical(wanted.restrictions ?? {}))
    return 'its restrictions differ from the ones the rotator sets';
  if ((found.serviceAccountEmail ?? '') !== (wanted.serviceAccountEmail ?? ''))
    return 'its service account binding differs';
  return undefined;
}

export function apiKeyCredential(options: ApiKeyCredentialOptions): Credential {
  const { apiKeys } = options;
  const transport = options.transport ?? boundedTransport();
  const nameOf = (config: RotationConfig, keyId: string) =>
    `${splitKeyName(config.target).parent}/keys/${keyId}`;

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
    const owned =
      keyId === splitKeyName(config.target).keyId || key.annotations?.[OWNER_ANNOTATION] === secretName;
    return owned ? 'enabled' : 'foreign';
  }

  return {
    keyStatus,
    async holds(config, payload, keyId) {
      return (await apiKeys.keyString(nameOf(config, keyId))) === payload.toString('utf8').trim();
    },
    liveKeys: () => Promise.resolve(undefined),
    unrecordedKeys: () => Promise.resolve([]),
    // The id follows from the recorded nonce: a crashed create is found and reused, never orphaned.
    retryAdoptsKey: true,
    checkCapacity: () => Promise.resolve(),
    async create(config, context) {
      const { parent, keyId: targetId } = splitKeyName(config.target);
      const keyId = apiKeyIdFor(context.secretId, context.nonce);
      // Restrictions are copied from the key being replaced: a rotation must never widen access.
      // (The create step has checked that key is the bound one or one made for this secret.)
      const current = await apiKeys.get(nameOf(config, context.currentKey ?? targetId));
      const wanted: NewApiKey = {
        displayName: `${current.displayName ?? targetId} (rotation ${context.generation})`.slice(0, 63),
        ...(current.restrictions ? { restrictions: current.restrictions } : {}),
        ...(current.serviceAccountEmail ? { serviceAccountEmail: current.serviceAccountEmail } : {}),
        annotations: { [OWNER_ANNOTATION]: context.secretName, [NONCE_ANNOTATION]: context.nonce },
      };
      const { key, existed } = await apiKeys.create(parent, keyId, wanted);
      const refusal = existed ? notOurs(key, wanted) : undefined;
      if (refusal) {
        // Someone else's key under our id (pre-created to be promoted): never adopt it, make nothing else.
        throw new FailedPreconditionError(
          'An API key already holds the id this rotation chose and was not made by it; nothing was adopted or created.',
          {
            reason: 'API_KEY_ID_CONFLICT',
            detail: `key ${keyId}: ${refusal}`,
          },
        );
      }
      const keyString = await apiKeys.keyString(nameOf(config, keyId));
      return { keyId, payload: Buffer.from(keyString, 'utf8') };
    },
    keyIdOf: () => undefined,
    async verify(_config, payload) {
      const keyString = payload.toString('utf8').trim();
      if (!/^[A-Za-z0-9_-]{10,200}$/.test(keyString)) {
        throw new FailedPreconditionError('The new credential did not work.', {
          reason: 'VERIFY_FAILED',
          detail: 'stored API key string is malformed',
        });
      }
      try {
        // 400 API_KEY_INVALID / 403 right after creation is propagation: keep trying until the deadline.
        await callGoogle(
          transport,
          {
            method: 'GET',
            url: `${options.geminiUrl}/v1beta/models?pageSize=1`,
            headers: { 'x-goog-api-key': keyString },
          },
          'Gemini models.list with the new API key',
          {
            deadlineMs: options.verifyDeadlineMs,
            timeoutMs: options.attemptTimeoutMs,
            maxAttempts: 30,
            retryAll: true,
          },
        );
      } catch (err) {
        throw new FailedPreconditionError('The new credential did not work.', {
          reason: 'VERIFY_FAILED',
          detail: err instanceof Error ? err.message : 'unknown',
          cause: err,
        });
      }
    },
    // API Keys v2 has no disabled state: the old key stays usable until it is (soft) deleted.
    disable: () => Promise.resolve(),
    async delete(config, keyId) {
      await apiKeys.delete(nameOf(config, keyId));
    },
  };
}
