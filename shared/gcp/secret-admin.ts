/**
 * Secret Manager administration for the rotator (list/get/update secrets with etag
 * compare-and-swap; add/list/access/enable/disable/destroy versions) through the real
 * `@google-cloud/secret-manager` client, loaded lazily. Reuses the token function's adapter
 * for client options and error mapping.
 */
import { crc32c } from '../crc32c.js';
import { AbortedError, InternalError, TvsError } from '../errors.js';
import { lazySecretManagerClient, mapGrpcError } from './secret-manager.js';

/** A secret as the rotator reads it. */
export interface SecretInfo {
  /** `projects/<number>/secrets/<id>` */
  name: string;
  secretId: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Alias → version number. */
  aliases: Record<string, number>;
  etag: string;
}

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

export interface VersionInfo {
  /** `projects/<number>/secrets/<id>/versions/<n>` */
  name: string;
  number: number;
  state: VersionState;
}

export interface SecretUpdate {
  annotations: Record<string, string>;
  /** Replaces every alias when given. */
  aliases?: Record<string, number>;
}

export interface SecretAdmin {
  /** Secrets of the project matching a Secret Manager list `filter`. */
  list(projectId: string, filter: string): Promise<SecretInfo[]>;
  get(name: string): Promise<SecretInfo>;
  /**
   * Replaces annotations (and aliases) if the secret's etag is still `etag`.
   * Throws `AbortedError` reason `ETAG_MISMATCH` when someone else changed the secret first.
   */
  update(name: string, update: SecretUpdate, etag: string): Promise<SecretInfo>;
  /** Adds a version with its CRC32C (Secret Manager checks it). */
  addVersion(secretName: string, data: Buffer): Promise<VersionInfo>;
  listVersions(secretName: string): Promise<VersionInfo[]>;
  /** The payload of a version (a number or an alias); CRC32C-checked. */
  access(versionName: string): Promise<Buffer>;
  enable(versionName: string): Promise<void>;
  disable(versionName: string): Promise<void>;
  destroy(versionName: string): Promise<void>;
}

type ProtoSecret = {
  name?: string | null;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  versionAliases?: Record<string, unknown> | null;
  etag?: string | null;
};
type ProtoVersion = { name?: string | null; state?: unknown };

function toSecret(s: ProtoSecret): SecretInfo {
  const name = s.name ?? '';
  const aliases: Record<string, number> = {};
  for (const [alias, n] of Object.entries(s.versionAliases ?? {})) aliases[alias] = Number(String(n));
  return {
    name,
    secretId: name.split('/').pop() ?? '',
    labels: { ...s.labels },
    annotations: { ...s.annotations },
    aliases,
    etag: s.etag ?? '',
  };
}

function toVersion(v: ProtoVersion): VersionInfo {
  const name = v.name ?? '';
  const state = String(v.state) as VersionState;
  return { name, number: Number(name.split('/').pop()), state };
}

/** The admin adapter over the real client at `endpoint`. */
export function createSecretAdmin(endpoint: string, options: { timeoutMs?: number } = {}): SecretAdmin {
  const getClient = lazySecretManagerClient(endpoint);
  const callOptions = options.timeoutMs ? { timeout: options.timeoutMs } : undefined;
  const run = async <T>(
    resource: string,
    fn: (client: Awaited<ReturnType<typeof getClient>>) => Promise<T>,
  ): Promise<T> => {
    const client = await getClient();
    try {
      return await fn(client);
    } catch (err) {
      throw err instanceof TvsError ? err : mapGrpcError(err, resource);
    }
  };

  return {
    list: (projectId, filter) =>
      run(`projects/${projectId}`, async (c) => {
        const [secrets] = await c.listSecrets({ parent: `projects/${projectId}`, filter }, callOptions);
        return secrets.map(toSecret);
      }),
    get: (name) => run(name, async (c) => toSecret((await c.getSecret({ name }, callOptions))[0])),
    async update(name, update, etag) {
      const client = await getClient();
      const paths = ['annotations', ...(update.aliases ? ['version_aliases'] : [])];
      try {
        const [secret] = await client.updateSecret(
          {
            secret: {
              name,
              etag,
              annotations: update.annotations,
              ...(update.aliases ? { versionAliases: update.aliases } : {}),
            },
            updateMask: { paths },
          },
          callOptions,
        );
        return toSecret(secret);
      } catch (err) {
        // With an etag, FAILED_PRECONDITION means the secret changed since we read it.
        if ((err as { code?: unknown }).code === 9) {
          throw new AbortedError('The secret changed concurrently.', {
            reason: 'ETAG_MISMATCH',
            detail: `UpdateSecret ${name}`,
            cause: err,
          });
        }
        throw mapGrpcError(err, name);
      }
    },
    addVersion: (secretName, data) =>
      run(secretName, async (c) => {
        const [version] = await c.addSecretVersion(
          { parent: secretName, payload: { data, dataCrc32c: crc32c(data) } },
          callOptions,
        );
        return toVersion(version);
      }),
    listVersions: (secretName) =>
      run(secretName, async (c) => {
        const [versions] = await c.listSecretVersions({ parent: secretName }, callOptions);
        return versions.map(toVersion).sort((a, b) => a.number - b.number);
      }),
    access: (versionName) =>
      run(versionName, async (c) => {
        const [response] = await c.accessSecretVersion({ name: versionName }, callOptions);
        const data = Buffer.from(response.payload?.data ?? new Uint8Array());
        const expected = response.payload?.dataCrc32c;
        if (expected !== undefined && expected !== null && Number(String(expected)) !== crc32c(data)) {
          throw new InternalError('Internal error.', {
            reason: 'SECRET_CHECKSUM_MISMATCH',
            detail: `CRC32C mismatch reading ${versionName}`,
          });
        }
        return data;
      }),
    enable: (versionName) =>
      run(versionName, async (c) => {
        await c.enableSecretVersion({ name: versionName }, callOptions);
      }),
    disable: (versionName) =>
      run(versionName, async (c) => {
        await c.disableSecretVersion({ name: versionName }, callOptions);
      }),
    destroy: (versionName) =>
      run(versionName, async (c) => {
        await c.destroySecretVersion({ name: versionName }, callOptions);
      }),
  };
}
