/**
 * API Keys API v2 for the rotator: get a key (its restrictions), create one with a chosen key id
 * (a long-running operation, polled to completion), read its key string, soft-delete it.
 */
import { InternalError, NotFoundError, TvsError, UnavailableError } from '../errors.js';
import { abortableSleep } from '../http/retry.js';
import { callGoogle, restError, type CallOptions, type RestTransport } from './google-rest.js';

/** The parts of an API key the rotator reads and copies (no key string). */
export interface ApiKeyInfo {
  /** `projects/<number>/locations/global/keys/<id>` */
  name: string;
  uid?: string;
  displayName?: string;
  restrictions?: Record<string, unknown>;
  /** Set on keys bound to a service account. */
  serviceAccountEmail?: string;
  /** Free-form metadata; the rotator ties its keys to their secret here. */
  annotations?: Record<string, string>;
  deleteTime?: string;
}

/** What a new key copies from the one it replaces. */
export interface NewApiKey {
  displayName?: string;
  restrictions?: Record<string, unknown>;
  serviceAccountEmail?: string;
  annotations?: Record<string, string>;
}

export interface ApiKeys {
  /** NOT_FOUND when unknown or deleted. */
  get(name: string): Promise<ApiKeyInfo>;
  /**
   * Creates `parent/keys/keyId` and waits for the operation. When that id is taken (409), the
   * existing key is returned with `existed: true`: the caller decides whether it is its own.
   */
  create(parent: string, keyId: string, key: NewApiKey): Promise<{ key: ApiKeyInfo; existed: boolean }>;
  /** The key string (the credential itself: never log it). */
  keyString(name: string): Promise<string>;
  /** Soft delete (undeletable for 30 days); already deleted or unknown is fine. */
  delete(name: string): Promise<void>;
}

interface Operation {
  name?: string;
  done?: boolean;
  error?: { code?: number; message?: string; status?: string };
  response?: Record<string, unknown>;
}

export interface ApiKeysOptions {
  baseUrl: string;
  transport: RestTransport;
  call: CallOptions;
  /** How long to wait for a long-running operation (default 60 s). */
  operationDeadlineMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

function toInfo(json: Record<string, unknown>): ApiKeyInfo {
  if (typeof json.name !== 'string')
    throw new InternalError('API Keys answered without a key name.', {
      reason: 'APIKEYS_MALFORMED_RESPONSE',
    });
  const pick = <K extends keyof ApiKeyInfo>(k: K, v: unknown) =>
    v === undefined || v === null || v === '' ? {} : { [k]: v };
  return {
    name: json.name,
    ...pick('uid', json.uid),
    ...pick('displayName', json.displayName),
    ...pick('restrictions', json.restrictions),
    ...pick('serviceAccountEmail', json.serviceAccountEmail),
    ...(json.annotations && typeof json.annotations === 'object'
      ? { annotations: { ...(json.annotations as Record<string, string>) } }
      : {}),
    ...pick('deleteTime', json.deleteTime),
  };
}

/** API Keys v2 over REST at `baseUrl` (default production `https://apikeys.googleapis.com`). */
export function createApiKeys(options: ApiKeysOptions): ApiKeys {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => abortableSleep(ms));
  const operationDeadlineMs = options.operationDeadlineMs ?? 60_000;
  const url = (path: string) => `${options.baseUrl}/v2/${path}`;
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, what: string, body?: unknown) =>
    callGoogle(
      options.transport,
      { method, url: url(path), ...(body === undefined ? {} : { body }) },
      what,
      options.call,
    );

  async function wait(operation: Operation, what: string): Promise<Operation> {
    const deadline = now() + operationDeadlineMs;
    let op = operation;
    for (let delayMs = 100; !op.done; delayMs = Math.min(delayMs * 2, 2000)) {
      if (!op.name)
        throw new InternalError(`${what}: operation without a name.`, {
          reason: 'APIKEYS_MALFORMED_RESPONSE',
        });
      if (now() + delayMs > deadline)
        throw new UnavailableError(`${what}: operation did not finish in time.`, {
          reason: 'OPERATION_TIMEOUT',
          detail: `${what}: ${op.name}`,
        });
      await sleep(delayMs);
      op = (await call('GET', op.name, `${what} (operation)`)) as Operation;
    }
    if (op.error) {
      const status =
        op.error.code === 6
          ? 409
          : op.error.code === 5
            ? 404
            : op.error.code === 7
              ? 403
              : op.error.code === 9
                ? 400
                : 500;
      throw restError(
        status,
        { error: { status: op.error.status ?? '', message: op.error.message ?? '' } },
        what,
      );
    }
    return op;
  }

  const api: ApiKeys = {
    async get(name) {
      return toInfo((await call('GET', name, `API Keys GetKey ${name}`)) as Record<string, unknown>);
    },
    async create(parent, keyId, key) {
      const what = `API Keys CreateKey ${parent}/keys/${keyId}`;
      const body = {
        ...(key.displayName ? { displayName: key.displayName } : {}),
        ...(key.restrictions ? { restrictions: key.restrictions } : {}),
        ...(key.serviceAccountEmail ? { serviceAccountEmail: key.serviceAccountEmail } : {}),
        ...(key.annotations ? { annotations: key.annotations } : {}),
      };
      try {
        const op = await wait(
          (await call('POST', `${parent}/keys?keyId=${encodeURIComponent(keyId)}`, what, body)) as Operation,
          what,
        );
        if (op.response && typeof op.response.name === 'string')
          return { key: toInfo(op.response), existed: false };
      } catch (err) {
        // The id is taken: by an earlier attempt of ours (a retried create), or by someone else.
        if (!(err instanceof TvsError && err.code === 'ABORTED')) throw err;
        return { key: await api.get(`${parent}/keys/${keyId}`), existed: true };
      }
      return { key: await api.get(`${parent}/keys/${keyId}`), existed: false };
    },
    async keyString(name) {
      const json = (await call('GET', `${name}/keyString`, `API Keys GetKeyString ${name}`)) as {
        keyString?: unknown;
      };
      if (typeof json?.keyString !== 'string' || json.keyString === '') {
        throw new InternalError('API Keys answered without a key string.', {
          reason: 'APIKEYS_MALFORMED_RESPONSE',
          detail: name,
        });
      }
      return json.keyString;
    },
    async delete(name) {
      const what = `API Keys DeleteKey ${name}`;
      const deleted = async (): Promise<boolean> => {
        try {
          return (await api.get(name)).deleteTime !== undefined;
        } catch (err) {
          if (err instanceof NotFoundError) return true;
          throw err;
        }
      };
      if (await deleted()) return;
      try {
        await wait((await call('DELETE', name, what)) as Operation, what);
      } catch (err) {
        // Deleting a key that is already (soft) deleted is refused: that is the state we want.
        if (
          err instanceof NotFoundError ||
          (err instanceof TvsError && err.code === 'FAILED_PRECONDITION' && (await deleted()))
        )
          return;
        throw err;
      }
    },
  };
  return api;
}
