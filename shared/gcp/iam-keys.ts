/**
 * IAM service-account keys (`projects.serviceAccounts.keys`, REST v1) for the rotator: create,
 * list, get, disable, enable, delete. Paths use the SA's real project id (from its email), never
 * `-`, so a 404 reliably means "already gone".
 */
import { InternalError, NotFoundError } from '../errors.js';
import { callGoogle, type CallOptions, type RestTransport } from './google-rest.js';

/** One key as the rotator needs it (no key material). */
export interface SaKeyInfo {
  keyId: string;
  disabled: boolean;
  keyType: string;
  validAfterTime?: string;
}

/** A freshly created key: its id and the key-file JSON, which exists only in this answer. */
export interface CreatedSaKey {
  keyId: string;
  /** The Google key-file JSON, bytes as Google sent them (base64-decoded `privateKeyData`). */
  keyFile: Buffer;
}

/** The IAM key operations the rotator uses. */
export interface IamKeys {
  create(email: string): Promise<CreatedSaKey>;
  /** User-managed keys that are not deleted. */
  list(email: string): Promise<SaKeyInfo[]>;
  get(email: string, keyId: string): Promise<SaKeyInfo>;
  disable(email: string, keyId: string): Promise<void>;
  enable(email: string, keyId: string): Promise<void>;
  delete(email: string, keyId: string): Promise<void>;
}

/** `name@PROJECT.iam.gserviceaccount.com` → `PROJECT`. */
export function projectOfServiceAccount(email: string): string {
  const match = /^[^@]+@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$/.exec(email);
  if (!match) throw new TypeError(`not a user-managed service account email: ${email}`);
  return match[1];
}

interface KeyJson {
  name?: string;
  privateKeyData?: string;
  disabled?: boolean;
  keyType?: string;
  validAfterTime?: string;
}

function keyIdOf(name: string | undefined): string {
  const id = name?.split('/').pop();
  if (!id) throw new InternalError('IAM answered without a key name.', { reason: 'IAM_MALFORMED_RESPONSE' });
  return id;
}

function info(json: KeyJson): SaKeyInfo {
  return {
    keyId: keyIdOf(json.name),
    disabled: json.disabled === true,
    keyType: json.keyType ?? 'USER_MANAGED',
    ...(json.validAfterTime ? { validAfterTime: json.validAfterTime } : {}),
  };
}

/** IAM keys over REST at `baseUrl` (default production `https://iam.googleapis.com`). */
export function createIamKeys(options: {
  baseUrl: string;
  transport: RestTransport;
  call: CallOptions;
}): IamKeys {
  const keysUrl = (email: string) =>
    `${options.baseUrl}/v1/projects/${projectOfServiceAccount(email)}/serviceAccounts/${encodeURIComponent(email)}/keys`;
  const keyUrl = (email: string, keyId: string) => `${keysUrl(email)}/${encodeURIComponent(keyId)}`;
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, what: string, body?: unknown) =>
    callGoogle(
      options.transport,
      { method, url, ...(body === undefined ? {} : { body }) },
      what,
      options.call,
    );

  return {
    async create(email) {
      // Not retried: a lost answer would leave a key nobody holds (the rotator cleans such orphans).
      const json = (await callGoogle(
        options.transport,
        {
          method: 'POST',
          url: keysUrl(email),
          body: { privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE', keyAlgorithm: 'KEY_ALG_RSA_2048' },
        },
        `IAM keys.create for ${email}`,
        { ...options.call, maxAttempts: 1 },
      )) as KeyJson;
      if (typeof json.privateKeyData !== 'string' || json.privateKeyData === '') {
        throw new InternalError('IAM answered without key data.', {
          reason: 'IAM_MALFORMED_RESPONSE',
          detail: `keys.create for ${email}`,
        });
      }
      return { keyId: keyIdOf(json.name), keyFile: Buffer.from(json.privateKeyData, 'base64') };
    },
    async list(email) {
      const json = (await call(
        'GET',
        `${keysUrl(email)}?keyTypes=USER_MANAGED`,
        `IAM keys.list for ${email}`,
      )) as { keys?: KeyJson[] };
      return (json?.keys ?? []).map(info).filter((k) => k.keyType === 'USER_MANAGED');
    },
    async get(email, keyId) {
      return info((await call('GET', keyUrl(email, keyId), `IAM keys.get ${keyId}`)) as KeyJson);
    },
    async disable(email, keyId) {
      await call('POST', `${keyUrl(email, keyId)}:disable`, `IAM keys.disable ${keyId}`, {});
    },
    async enable(email, keyId) {
      await call('POST', `${keyUrl(email, keyId)}:enable`, `IAM keys.enable ${keyId}`, {});
    },
    async delete(email, keyId) {
      try {
        await call('DELETE', keyUrl(email, keyId), `IAM keys.delete ${keyId}`);
      } catch (err) {
        // Already gone is what we wanted.
        if (!(err instanceof NotFoundError)) throw err;
      }
    },
  };
}
