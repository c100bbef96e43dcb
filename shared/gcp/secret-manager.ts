/**
 * Small adapter over `@google-cloud/secret-manager`, loaded lazily so the heavy client stays off
 * the cold-start path. The endpoint comes from configuration: `https://secretmanager.googleapis.com`
 * in production, `http://localhost:PORT` (plaintext, loopback only) for the local emulator.
 */
import { crc32c } from '../crc32c.js';
import { InternalError } from '../errors.js';
import { mapGrpcError, type SecretAccessor } from './secret-access.js';

export { mapGrpcError, type SecretAccessor, type SecretPayload } from './secret-access.js';

type SecretManagerClient = import('@google-cloud/secret-manager').SecretManagerServiceClient;
type ClientOptions = NonNullable<
  ConstructorParameters<typeof import('@google-cloud/secret-manager').SecretManagerServiceClient>[0]
>;

/** Builds client options for an endpoint URL (shared with the rotation function's adapter). */
export async function secretManagerClientOptions(endpoint: string): Promise<ClientOptions> {
  const url = new URL(endpoint);
  const port = url.port ? Number(url.port) : 443;
  // An explicit universe domain spares gax a credentials/metadata lookup just to learn it.
  if (url.protocol === 'https:') return { apiEndpoint: url.hostname, port, universeDomain: 'googleapis.com' };
  // Plain http is accepted by config validation for loopback only (the emulator).
  const grpc = await import('@grpc/grpc-js');
  return {
    apiEndpoint: url.hostname,
    port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  };
}

/** Creates a lazily-connected Secret Manager client for `endpoint`. */
export function lazySecretManagerClient(endpoint: string): () => Promise<SecretManagerClient> {
  let client: Promise<SecretManagerClient> | undefined;
  return () => {
    client ??= (async () => {
      const [{ SecretManagerServiceClient }, options] = await Promise.all([
        import('@google-cloud/secret-manager'),
        secretManagerClientOptions(endpoint),
      ]);
      return new SecretManagerServiceClient(options);
    })();
    client.catch(() => {
      client = undefined;
    });
    return client;
  };
}

/** An accessor that reads secret versions through the real client library. */
export function createSecretAccessor(endpoint: string): SecretAccessor {
  const getClient = lazySecretManagerClient(endpoint);
  return {
    async access(versionName, options = {}) {
      const client = await getClient();
      let response;
      try {
        [response] = await client.accessSecretVersion(
          { name: versionName },
          {
            ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
            ...(options.retry === false ? { retry: null } : {}),
          },
        );
      } catch (err) {
        throw mapGrpcError(err, versionName);
      }
      const data = Buffer.from(response.payload?.data ?? new Uint8Array());
      const expected = response.payload?.dataCrc32c;
      if (expected !== undefined && expected !== null && Number(expected.toString()) !== crc32c(data)) {
        throw new InternalError('Internal error.', {
          reason: 'SECRET_CHECKSUM_MISMATCH',
          detail: `CRC32C mismatch reading ${versionName}`,
        });
      }
      return { name: response.name ?? versionName, data };
    },
  };
}
