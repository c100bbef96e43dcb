/**
 * The token function's Secret Manager reader over REST (`versions/*:access`) against the emulator:
 * the same bytes and version name the gRPC client library reads from the same store, the same
 * errors as the gRPC adapter maps, Google's authentication, retries of transient answers only
 * within the deadline, and the payload checksum.
 */
import * as grpc from '@grpc/grpc-js';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { createRestSecretAccessor } from '../../../shared/gcp/secret-manager-rest.js';
import { createSecretAccessor } from '../../../shared/gcp/secret-manager.js';
import type { OwnCredential } from '../../../shared/minting/own-credential.js';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

let emulator: Emulator;
let grpcClient: SecretManagerServiceClient;
let parent: string;

/** A credential handing out emulator-issued tokens; counts invalidations. */
function credential(scopes = [CLOUD_PLATFORM]) {
  const state = { invalidated: 0, issued: 0, first: undefined as string | undefined };
  const own: OwnCredential & { state: typeof state } = {
    state,
    accessToken: () => {
      state.issued += 1;
      if (state.first !== undefined && state.invalidated === 0) return Promise.resolve(state.first);
      const { value } = emulator.state.tokens.issue({
        email: 'token-service@tvs-local.iam.gserviceaccount.com',
        scopes,
        issuedBy: 'test',
      });
      state.first ??= value;
      return Promise.resolve(value);
    },
    invalidate: () => {
      state.invalidated += 1;
    },
  };
  return own;
}

async function addSecret(id: string, data: Buffer): Promise<string> {
  await grpcClient.createSecret({ parent, secretId: id, secret: { replication: { automatic: {} } } });
  const [version] = await grpcClient.addSecretVersion({
    parent: `${parent}/secrets/${id}`,
    payload: { data },
  });
  return version.name!;
}

beforeAll(async () => {
  emulator = await startEmulator();
  parent = `projects/${emulator.projectId}`;
  const [host, port] = emulator.grpcEndpoint.split(':');
  grpcClient = new SecretManagerServiceClient({
    apiEndpoint: host,
    port: Number(port),
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
});

afterAll(async () => {
  await grpcClient?.close();
  await emulator?.stop();
});

describe('REST Secret Manager accessor', () => {
  it('reads what the gRPC client reads: same bytes, same resolved version name (by number and by latest)', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255, ...Buffer.from('policy: ✓')]);
    const name = await addSecret('rest-same', bytes);
    const rest = createRestSecretAccessor({ endpoint: emulator.httpUrl, credential: credential() });
    const viaGrpc = createSecretAccessor(`http://${emulator.grpcEndpoint}`);
    for (const ref of [name, `${parent}/secrets/rest-same/versions/latest`]) {
      const [a, b] = await Promise.all([rest.access(ref), viaGrpc.access(ref)]);
      expect(a.data.equals(bytes)).toBe(true);
      expect(a).toEqual(b);
      expect(a.name).toBe(name);
    }
  });

  it('maps errors as the gRPC adapter does: missing, disabled, another project', async () => {
    const name = await addSecret('rest-errors', Buffer.from('x'));
    await grpcClient.disableSecretVersion({ name });
    const rest = createRestSecretAccessor({ endpoint: emulator.httpUrl, credential: credential() });
    const viaGrpc = createSecretAccessor(`http://${emulator.grpcEndpoint}`);
    for (const ref of [
      `${parent}/secrets/no-such-secret/versions/1`,
      name,
      'projects/someone-else/secrets/rest-errors/versions/1',
    ]) {
      const [a, b] = await Promise.all([
        rest.access(ref, { retry: false }).then(
          () => undefined,
          (err: unknown) => err,
        ),
        viaGrpc.access(ref, { retry: false }).then(
          () => undefined,
          (err: unknown) => err,
        ),
      ]);
      expect(a).toBeInstanceOf(Error);
      expect({ name: (a as Error).name, reason: (a as { reason?: string }).reason }).toEqual({
        name: (b as Error).name,
        reason: (b as { reason?: string }).reason,
      });
    }
  });

  it('needs an access token with the cloud-platform scope, as Google does', async () => {
    const name = await addSecret('rest-auth', Buffer.from('x'));
    const url = `${emulator.httpUrl}/v1/${name}:access`;
    const none = await fetch(url);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { status: string } }).error.status).toBe('UNAUTHENTICATED');
    const narrow = credential(['https://www.googleapis.com/auth/userinfo.email']);
    const scoped = await fetch(url, { headers: { authorization: `Bearer ${await narrow.accessToken()}` } });
    expect(scoped.status).toBe(403);
    const rest = createRestSecretAccessor({ endpoint: emulator.httpUrl, credential: narrow });
    await expect(rest.access(name, { retry: false })).rejects.toMatchObject({ name: expect.any(String) });
  });

  it('on 401 invalidates its token and tries once more with a fresh one', async () => {
    const name = await addSecret('rest-401', Buffer.from('fresh'));
    const own = credential();
    // The first token handed out is one the emulator never issued.
    own.state.first = 'ya29.not-issued-by-google';
    const rest = createRestSecretAccessor({ endpoint: emulator.httpUrl, credential: own });
    expect((await rest.access(name, { retry: false })).data.toString()).toBe('fresh');
    expect(own.state.invalidated).toBe(1);
    expect(own.state.issued).toBe(2);
  });

  it('retries 503 and 429 within the deadline, never 400-class answers, and not at all with retry: false', async () => {
    const name = await addSecret('rest-retry', Buffer.from('after-outage'));
    const rest = createRestSecretAccessor({
      endpoint: emulator.httpUrl,
      credential: credential(),
      sleep: async () => {},
    });
    const endpoint = 'secretmanager.AccessSecretVersion';
    emulator.faults.inject({ endpoint, times: 1, status: 503 });
    emulator.faults.inject({ endpoint, times: 1, status: 429 });
    const before = emulator.faults.count(endpoint);
    expect((await rest.access(name, { timeoutMs: 5_000 })).data.toString()).toBe('after-outage');
    expect(emulator.faults.count(endpoint) - before).toBe(3);

    emulator.faults.inject({ endpoint, times: 1, status: 503 });
    await expect(rest.access(name, { retry: false })).rejects.toMatchObject({
      reason: 'SECRET_MANAGER_UNAVAILABLE',
    });

    const start = emulator.faults.count(endpoint);
    await expect(rest.access(`${parent}/secrets/absent/versions/1`)).rejects.toMatchObject({
      reason: 'SECRET_NOT_FOUND',
    });
    expect(emulator.faults.count(endpoint) - start).toBe(1);
  });

  it('refuses a payload whose CRC32C does not match, and a body that is not an access response', async () => {
    const name = await addSecret('rest-crc', Buffer.from('x'));
    const rest = createRestSecretAccessor({ endpoint: emulator.httpUrl, credential: credential() });
    const endpoint = 'secretmanager.AccessSecretVersion';
    emulator.faults.inject({
      endpoint,
      times: 1,
      rawBody: JSON.stringify({
        name,
        payload: { data: Buffer.from('tampered').toString('base64'), dataCrc32c: '1' },
      }),
    });
    await expect(rest.access(name, { retry: false })).rejects.toMatchObject({
      reason: 'SECRET_CHECKSUM_MISMATCH',
    });
    emulator.faults.inject({ endpoint, times: 1, rawBody: '{"name": 7}' });
    await expect(rest.access(name, { retry: false })).rejects.toMatchObject({
      reason: 'SECRET_MANAGER_ERROR',
    });
  });
});
