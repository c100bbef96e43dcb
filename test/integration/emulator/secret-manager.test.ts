/**
 * The real @google-cloud/secret-manager client (gax 5, gRPC) against the emulator's Secret
 * Manager over a real socket.
 */
import * as grpc from '@grpc/grpc-js';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../../shared/crc32c.js';
import { FaultRegistry } from '../../../emulator/faults.js';
import {
  startSecretManagerGrpc,
  type SecretManagerGrpcServer,
} from '../../../emulator/secret-manager/grpc-server.js';
import { SecretStore } from '../../../emulator/secret-manager/secret-store.js';
import type { SecretNotification } from '../../../emulator/secret-manager/secret-model.js';

const PROJECT_ID = 'tvs-test';
const PROJECT_NUMBER = '123456789012';
const PARENT = `projects/${PROJECT_ID}`;
const AUTOMATIC = { automatic: {} };

let store: SecretStore;
let faults: FaultRegistry;
let server: SecretManagerGrpcServer;
let client: SecretManagerServiceClient;
const notifications: SecretNotification[] = [];

beforeAll(async () => {
  store = new SecretStore({ projectId: PROJECT_ID, projectNumber: PROJECT_NUMBER });
  store.on('notification', (n: SecretNotification) => notifications.push(n));
  faults = new FaultRegistry();
  server = await startSecretManagerGrpc({ store, faults });
  // sslCreds skips Google credentials entirely; universeDomain stops google-auth-library from
  // probing the GCE metadata server to learn the universe (a network call and a warning).
  client = new SecretManagerServiceClient({
    apiEndpoint: '127.0.0.1',
    port: server.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
});

afterAll(async () => {
  await client.close();
  await server.stop();
});

interface RpcError {
  code: number;
  details: string;
}

async function rpcError(call: Promise<unknown>): Promise<RpcError> {
  try {
    await call;
  } catch (error) {
    return error as RpcError;
  }
  throw new Error('expected the call to fail');
}

const secretPath = (id: string): string => `${PARENT}/secrets/${id}`;
const numberedPath = (id: string): string => `projects/${PROJECT_NUMBER}/secrets/${id}`;

async function createSecret(id: string, extra: Record<string, unknown> = {}) {
  const [secret] = await client.createSecret({
    parent: PARENT,
    secretId: id,
    secret: { replication: AUTOMATIC, ...extra },
  });
  return secret;
}

async function addVersion(id: string, text: string) {
  const [version] = await client.addSecretVersion({
    parent: secretPath(id),
    payload: { data: Buffer.from(text) },
  });
  return version;
}

describe('secrets', () => {
  it('creates a secret and answers with the project number, a quoted etag and the replication as given', async () => {
    const created = await createSecret('create-basic', { labels: { team: 'core' } });
    expect(created.name).toBe(numberedPath('create-basic'));
    expect(created.etag).toMatch(/^"[0-9a-f]+"$/);
    expect(created.labels).toEqual({ team: 'core' });
    expect(created.replication?.automatic).toBeTruthy();
    expect(Number(created.createTime?.seconds)).toBeGreaterThan(1_600_000_000);

    const [byNumber] = await client.getSecret({ name: numberedPath('create-basic') });
    expect(byNumber.etag).toBe(created.etag);

    const [managed] = await client.createSecret({
      parent: `projects/${PROJECT_NUMBER}`,
      secretId: 'create-managed',
      secret: {
        replication: { userManaged: { replicas: [{ location: 'europe-west1' }, { location: 'us-east1' }] } },
      },
    });
    expect(managed.replication?.userManaged?.replicas?.map((r) => r.location)).toEqual([
      'europe-west1',
      'us-east1',
    ]);
  });

  it('refuses to create a secret that exists with ALREADY_EXISTS', async () => {
    await createSecret('create-twice');
    const error = await rpcError(createSecret('create-twice'));
    expect(error.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(error.details).toBe(`Secret [${numberedPath('create-twice')}] already exists.`);
  });

  it('answers NOT_FOUND for an unknown secret, in Google words', async () => {
    const error = await rpcError(client.getSecret({ name: secretPath('never-created') }));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toBe(`Secret [${numberedPath('never-created')}] not found or has no versions.`);
  });

  it('answers PERMISSION_DENIED for another project, as Google checks IAM first', async () => {
    const error = await rpcError(client.getSecret({ name: 'projects/someone-else/secrets/x' }));
    expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('updates labels, annotations and aliases under the update mask and changes the etag each time', async () => {
    const created = await createSecret('update-fields', { labels: { keep: 'no' } });
    await addVersion('update-fields', 'v1');
    await addVersion('update-fields', 'v2');
    const [updated] = await client.updateSecret({
      secret: {
        name: secretPath('update-fields'),
        labels: { env: 'prod' },
        annotations: { 'tvs.rotation_kind': 'sa-key' },
        versionAliases: { current: 2, previous: 1 },
        topics: [{ name: 'projects/p/topics/t' }],
      },
      updateMask: { paths: ['labels', 'annotations', 'version_aliases'] },
    });
    expect(updated.labels).toEqual({ env: 'prod' });
    expect(updated.annotations).toEqual({ 'tvs.rotation_kind': 'sa-key' });
    expect(
      Object.fromEntries(Object.entries(updated.versionAliases ?? {}).map(([k, v]) => [k, String(v)])),
    ).toEqual({ current: '2', previous: '1' });
    expect(updated.topics).toEqual([]); // not in the mask
    expect(updated.etag).not.toBe(created.etag);

    // A no-op update still changes the etag (docs/etags).
    const [again] = await client.updateSecret({
      secret: { name: secretPath('update-fields'), labels: { env: 'prod' } },
      updateMask: { paths: ['labels'] },
    });
    expect(again.etag).not.toBe(updated.etag);
  });

  it('rejects an annotation key Google would not accept', async () => {
    await createSecret('update-annotation-key');
    const error = await rpcError(
      client.updateSecret({
        secret: { name: secretPath('update-annotation-key'), annotations: { 'tvs/kind': 'x' } },
        updateMask: { paths: ['annotations'] },
      }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('applies an update with the current etag and refuses a stale one with FAILED_PRECONDITION', async () => {
    const created = await createSecret('update-cas');
    const [first] = await client.updateSecret({
      secret: { name: secretPath('update-cas'), etag: created.etag, labels: { a: '1' } },
      updateMask: { paths: ['labels'] },
    });
    expect(first.labels).toEqual({ a: '1' });
    const stale = await rpcError(
      client.updateSecret({
        secret: { name: secretPath('update-cas'), etag: created.etag, labels: { a: '2' } },
        updateMask: { paths: ['labels'] },
      }),
    );
    expect(stale.code).toBe(grpc.status.FAILED_PRECONDITION);
    const [current] = await client.getSecret({ name: secretPath('update-cas') });
    expect(current.labels).toEqual({ a: '1' });
  });

  it('lets exactly one of two concurrent updates with the same etag win', async () => {
    const created = await createSecret('update-race');
    const update = (value: string) =>
      client.updateSecret({
        secret: { name: secretPath('update-race'), etag: created.etag, labels: { winner: value } },
        updateMask: { paths: ['labels'] },
      });
    const results = await Promise.allSettled([update('a'), update('b'), update('c')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((r) => (r.reason as RpcError).code)).toEqual([
      grpc.status.FAILED_PRECONDITION,
      grpc.status.FAILED_PRECONDITION,
    ]);
  });

  it('requires an update mask', async () => {
    await createSecret('update-no-mask');
    const error = await rpcError(
      client.updateSecret({ secret: { name: secretPath('update-no-mask'), labels: { a: 'b' } } }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('deletes with the current etag only', async () => {
    const created = await createSecret('delete-me');
    await client.updateSecret({
      secret: { name: secretPath('delete-me'), labels: { x: 'y' } },
      updateMask: { paths: ['labels'] },
    });
    const stale = await rpcError(client.deleteSecret({ name: secretPath('delete-me'), etag: created.etag }));
    expect(stale.code).toBe(grpc.status.FAILED_PRECONDITION);
    const [current] = await client.getSecret({ name: secretPath('delete-me') });
    await client.deleteSecret({ name: secretPath('delete-me'), etag: current.etag });
    expect((await rpcError(client.getSecret({ name: secretPath('delete-me') }))).code).toBe(
      grpc.status.NOT_FOUND,
    );
  });

  it('lists secrets newest first, filtered by labels, page by page', async () => {
    for (let i = 1; i <= 5; i++) {
      await createSecret(`list-${i}`, {
        labels: i % 2 === 1 ? { suite: 'list', env: 'prod' } : { suite: 'list' },
      });
    }
    const [all] = await client.listSecrets({ parent: PARENT, filter: 'labels.suite=list' });
    expect(all.map((s) => s.name)).toEqual([5, 4, 3, 2, 1].map((i) => numberedPath(`list-${i}`)));

    const [page1, next1, raw1] = await client.listSecrets(
      { parent: PARENT, filter: 'labels.suite=list AND labels.env:*', pageSize: 2 },
      { autoPaginate: false },
    );
    expect(page1.map((s) => s.name)).toEqual([numberedPath('list-5'), numberedPath('list-3')]);
    expect(raw1?.totalSize).toBe(0); // 0 whenever a filter is set
    expect(next1?.pageToken).toBeTruthy();
    const [page2, next2] = await client.listSecrets(
      { ...next1!, parent: PARENT, filter: 'labels.suite=list AND labels.env:*', pageSize: 2 },
      { autoPaginate: false },
    );
    expect(page2.map((s) => s.name)).toEqual([numberedPath('list-1')]);
    expect(next2).toBeNull();

    const [notProd] = await client.listSecrets({
      parent: PARENT,
      filter: 'labels.suite=list AND NOT labels.env:*',
    });
    expect(notProd.map((s) => s.name)).toEqual([numberedPath('list-4'), numberedPath('list-2')]);
  });

  it('refuses a page token from another query and a malformed filter', async () => {
    const [, next] = await client.listSecrets({ parent: PARENT, pageSize: 1 }, { autoPaginate: false });
    expect(next?.pageToken).toBeTruthy();
    const reused = await rpcError(
      client.listSecrets(
        { parent: PARENT, pageSize: 1, pageToken: next!.pageToken, filter: 'labels.a=b' },
        { autoPaginate: false },
      ),
    );
    expect(reused.code).toBe(grpc.status.INVALID_ARGUMENT);
    const malformed = await rpcError(
      client.listSecrets({ parent: PARENT, filter: 'labels.a=(' }, { autoPaginate: false }),
    );
    expect(malformed.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('secret versions', () => {
  it('adds versions numbered from 1, verifying a given CRC32C', async () => {
    await createSecret('versions-add');
    const data = Buffer.from('{"type":"service_account"}');
    const [v1] = await client.addSecretVersion({
      parent: secretPath('versions-add'),
      payload: { data, dataCrc32c: crc32c(data) },
    });
    expect(v1.name).toBe(`${numberedPath('versions-add')}/versions/1`);
    expect(v1.state).toBe('ENABLED');
    expect(v1.clientSpecifiedPayloadChecksum).toBe(true);
    const v2 = await addVersion('versions-add', 'no checksum');
    expect(v2.name).toBe(`${numberedPath('versions-add')}/versions/2`);
    expect(v2.clientSpecifiedPayloadChecksum).toBe(false);

    const mismatch = await rpcError(
      client.addSecretVersion({
        parent: secretPath('versions-add'),
        payload: { data, dataCrc32c: (crc32c(data) + 1) % 2 ** 32 },
      }),
    );
    expect(mismatch.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(mismatch.details).toMatch(/Checksum mismatch/);
    const [versions] = await client.listSecretVersions({ parent: secretPath('versions-add') });
    expect(versions).toHaveLength(2); // the refused one was not stored
  });

  it('accepts a 64 KiB payload and refuses one byte more', async () => {
    await createSecret('versions-size');
    await client.addSecretVersion({
      parent: secretPath('versions-size'),
      payload: { data: Buffer.alloc(65536, 1) },
    });
    const error = await rpcError(
      client.addSecretVersion({
        parent: secretPath('versions-size'),
        payload: { data: Buffer.alloc(65537, 1) },
      }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('accesses latest, a number and an alias, with the resolved name and the CRC32C', async () => {
    await createSecret('versions-access');
    await addVersion('versions-access', 'first');
    await addVersion('versions-access', 'second');
    await client.updateSecret({
      secret: { name: secretPath('versions-access'), versionAliases: { stable: 1 } },
      updateMask: { paths: ['version_aliases'] },
    });

    const [latest] = await client.accessSecretVersion({
      name: `${secretPath('versions-access')}/versions/latest`,
    });
    expect(latest.name).toBe(`${numberedPath('versions-access')}/versions/2`);
    expect(latest.payload?.data?.toString()).toBe('second');
    expect(String(latest.payload?.dataCrc32c)).toBe(String(crc32c(Buffer.from('second'))));

    const [one] = await client.accessSecretVersion({ name: `${secretPath('versions-access')}/versions/1` });
    expect(one.payload?.data?.toString()).toBe('first');
    const [aliased] = await client.accessSecretVersion({
      name: `${secretPath('versions-access')}/versions/stable`,
    });
    expect(aliased.name).toBe(`${numberedPath('versions-access')}/versions/1`);
    expect(aliased.payload?.data?.toString()).toBe('first');

    const [meta] = await client.getSecretVersion({
      name: `${secretPath('versions-access')}/versions/stable`,
    });
    expect(meta.name).toBe(`${numberedPath('versions-access')}/versions/1`);
  });

  it('answers NOT_FOUND for a missing version, an unknown alias and latest of an empty secret', async () => {
    await createSecret('versions-missing');
    const empty = await rpcError(
      client.accessSecretVersion({ name: `${secretPath('versions-missing')}/versions/latest` }),
    );
    expect(empty.code).toBe(grpc.status.NOT_FOUND);
    expect(empty.details).toBe(`Secret [${numberedPath('versions-missing')}] not found or has no versions.`);
    await addVersion('versions-missing', 'x');
    const missing = await rpcError(
      client.accessSecretVersion({ name: `${secretPath('versions-missing')}/versions/7` }),
    );
    expect(missing.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.details).toBe(
      `Secret Version [${numberedPath('versions-missing')}/versions/7] not found.`,
    );
    const alias = await rpcError(
      client.getSecretVersion({ name: `${secretPath('versions-missing')}/versions/nope` }),
    );
    expect(alias.code).toBe(grpc.status.NOT_FOUND);
  });

  it('lists versions newest first and filters them by state', async () => {
    await createSecret('versions-list');
    for (const text of ['a', 'b', 'c']) await addVersion('versions-list', text);
    await client.disableSecretVersion({ name: `${secretPath('versions-list')}/versions/2` });
    const [all] = await client.listSecretVersions({ parent: secretPath('versions-list') });
    expect(all.map((v) => v.name?.split('/').pop())).toEqual(['3', '2', '1']);
    const [enabled] = await client.listSecretVersions({
      parent: secretPath('versions-list'),
      filter: 'state:ENABLED',
    });
    expect(enabled.map((v) => v.name?.split('/').pop())).toEqual(['3', '1']);
    const [page, next] = await client.listSecretVersions(
      { parent: secretPath('versions-list'), pageSize: 2 },
      { autoPaginate: false },
    );
    expect(page.map((v) => v.name?.split('/').pop())).toEqual(['3', '2']);
    const [rest] = await client.listSecretVersions(
      { parent: secretPath('versions-list'), pageSize: 2, pageToken: next!.pageToken },
      { autoPaginate: false },
    );
    expect(rest.map((v) => v.name?.split('/').pop())).toEqual(['1']);
  });

  it('fails access to a disabled version, and to latest when the newest is disabled, with FAILED_PRECONDITION', async () => {
    await createSecret('versions-disabled');
    await addVersion('versions-disabled', 'old');
    await addVersion('versions-disabled', 'new');
    const [disabled] = await client.disableSecretVersion({
      name: `${secretPath('versions-disabled')}/versions/2`,
    });
    expect(disabled.state).toBe('DISABLED');
    const error = await rpcError(
      client.accessSecretVersion({ name: `${secretPath('versions-disabled')}/versions/2` }),
    );
    expect(error.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error.details).toBe(
      `Secret Version [${numberedPath('versions-disabled')}/versions/2] is in DISABLED state.`,
    );
    // `latest` is the most recently created version, whatever its state.
    const latest = await rpcError(
      client.accessSecretVersion({ name: `${secretPath('versions-disabled')}/versions/latest` }),
    );
    expect(latest.code).toBe(grpc.status.FAILED_PRECONDITION);
    const [enabled] = await client.enableSecretVersion({
      name: `${secretPath('versions-disabled')}/versions/2`,
    });
    expect(enabled.state).toBe('ENABLED');
    const [payload] = await client.accessSecretVersion({
      name: `${secretPath('versions-disabled')}/versions/latest`,
    });
    expect(payload.payload?.data?.toString()).toBe('new');
  });

  it('guards enable, disable and destroy with the version etag', async () => {
    await createSecret('versions-etag');
    const v1 = await addVersion('versions-etag', 'x');
    const name = `${secretPath('versions-etag')}/versions/1`;
    const [disabled] = await client.disableSecretVersion({ name, etag: v1.etag });
    expect(disabled.etag).not.toBe(v1.etag);
    const stale = await rpcError(client.enableSecretVersion({ name, etag: v1.etag }));
    expect(stale.code).toBe(grpc.status.FAILED_PRECONDITION);
    const staleDestroy = await rpcError(client.destroySecretVersion({ name, etag: v1.etag }));
    expect(staleDestroy.code).toBe(grpc.status.FAILED_PRECONDITION);
    const [enabled] = await client.enableSecretVersion({ name, etag: disabled.etag });
    expect(enabled.state).toBe('ENABLED');
    // Enabling an enabled version is a no-op that still changes the etag.
    const [again] = await client.enableSecretVersion({ name });
    expect(again.etag).not.toBe(enabled.etag);
  });

  it('destroys a version for good: payload gone, destroy_time set, no way back', async () => {
    await createSecret('versions-destroy');
    await addVersion('versions-destroy', 'doomed');
    const name = `${secretPath('versions-destroy')}/versions/1`;
    const [before] = await client.getSecretVersion({ name });
    const [destroyed] = await client.destroySecretVersion({ name, etag: before.etag });
    expect(destroyed.state).toBe('DESTROYED');
    expect(Number(destroyed.destroyTime?.seconds)).toBeGreaterThan(0);
    const access = await rpcError(client.accessSecretVersion({ name }));
    expect(access.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(access.details).toBe(
      `Secret Version [${numberedPath('versions-destroy')}/versions/1] is in DESTROYED state.`,
    );
    for (const call of [
      client.enableSecretVersion({ name }),
      client.disableSecretVersion({ name }),
      client.destroySecretVersion({ name }),
    ]) {
      expect((await rpcError(call)).code).toBe(grpc.status.FAILED_PRECONDITION);
    }
  });

  it('delays destruction when the secret has a version destroy TTL', async () => {
    await createSecret('versions-delayed', { versionDestroyTtl: { seconds: 86400 } });
    await addVersion('versions-delayed', 'x');
    const name = `${secretPath('versions-delayed')}/versions/1`;
    const [scheduled] = await client.destroySecretVersion({ name });
    expect(scheduled.state).toBe('DISABLED');
    const due = Number(scheduled.scheduledDestroyTime?.seconds) * 1000;
    expect(due).toBeGreaterThan(Date.now() + 86_000_000);
    store.sweep(new Date(due + 1000));
    const [after] = await client.getSecretVersion({ name });
    expect(after.state).toBe('DESTROYED');
  });
});

describe('validation', () => {
  beforeAll(async () => {
    await createSecret('alias-rules');
    await addVersion('alias-rules', 'x');
    await createSecret('mask-rules');
  });

  const tooManyLabels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  const bigAnnotations = { big: 'x'.repeat(16 * 1024) };
  const soon = { seconds: Math.floor(Date.now() / 1000) + 60 };
  it.each([
    ['a secret id with a dot', 'bad.id', {}],
    ['a secret id longer than 255 characters', 'a'.repeat(256), {}],
    ['no replication', 'no-replication', { replication: undefined }],
    [
      'an empty user-managed replica list',
      'empty-replicas',
      { replication: { userManaged: { replicas: [] } } },
    ],
    ['65 labels', 'labels-65', { labels: tooManyLabels }],
    ['an upper-case label key', 'label-upper', { labels: { Env: 'x' } }],
    ['a label value with a dot', 'label-dot', { labels: { env: 'a.b' } }],
    ['16 KiB of annotations', 'annotations-big', { annotations: bigAnnotations }],
    ['a malformed topic', 'topic-bad', { topics: [{ name: 'my-topic' }] }],
    [
      '11 topics',
      'topics-11',
      { topics: Array.from({ length: 11 }, (_, i) => ({ name: `projects/p/topics/t${i}` })) },
    ],
    [
      'rotation without topics',
      'rotation-no-topics',
      { rotation: { nextRotationTime: { seconds: Math.floor(Date.now() / 1000) + 3600 } } },
    ],
    [
      'a rotation under 5 minutes ahead',
      'rotation-soon',
      { topics: [{ name: 'projects/p/topics/t' }], rotation: { nextRotationTime: soon } },
    ],
    [
      'a rotation period under an hour',
      'rotation-short',
      {
        topics: [{ name: 'projects/p/topics/t' }],
        rotation: {
          nextRotationTime: { seconds: Math.floor(Date.now() / 1000) + 3600 },
          rotationPeriod: { seconds: 60 },
        },
      },
    ],
    ['an alias on a new secret', 'alias-new', { versionAliases: { stable: 1 } }],
  ])('refuses to create a secret with %s (INVALID_ARGUMENT)', async (_why, secretId, extra) => {
    const error = await rpcError(
      client.createSecret({ parent: PARENT, secretId, secret: { replication: AUTOMATIC, ...extra } }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it.each([
    ['named latest', { latest: 1 }],
    ['named NEW', { NEW: 1 }],
    ['starting with a digit', { '1st': 1 }],
    ['pointing at a missing version', { stable: 9 }],
    ['51 of them', Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, 1]))],
  ])('refuses version aliases %s (INVALID_ARGUMENT)', async (_why, versionAliases) => {
    const error = await rpcError(
      client.updateSecret({
        secret: { name: secretPath('alias-rules'), versionAliases },
        updateMask: { paths: ['version_aliases'] },
      }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it.each([
    ['replication (immutable)', 'replication'],
    ['an unknown field', 'colour'],
  ])('refuses an update mask naming %s', async (_why, path) => {
    const error = await rpcError(
      client.updateSecret({
        secret: { name: secretPath('mask-rules'), replication: AUTOMATIC },
        updateMask: { paths: [path] },
      }),
    );
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('faults and counters', () => {
  it('surfaces an injected 503 on AccessSecretVersion as UNAVAILABLE and counts every call', async () => {
    await createSecret('faults-503');
    await addVersion('faults-503', 'x');
    const name = `${secretPath('faults-503')}/versions/latest`;
    const before = faults.count('secretmanager.AccessSecretVersion');
    faults.inject({ endpoint: 'secretmanager.AccessSecretVersion', times: 1, status: 503 });
    // The client retries UNAVAILABLE on this method by default; ask for one attempt only.
    const error = await rpcError(client.accessSecretVersion({ name }, { retry: null }));
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    const [ok] = await client.accessSecretVersion({ name }, { retry: null });
    expect(ok.payload?.data?.toString()).toBe('x');
    expect(faults.count('secretmanager.AccessSecretVersion') - before).toBe(2);
  });

  it('answers a reset as UNAVAILABLE and maps other statuses to their gRPC codes', async () => {
    await createSecret('faults-map');
    faults.inject({ endpoint: 'secretmanager.GetSecret', times: 1, reset: true });
    faults.inject({ endpoint: 'secretmanager.GetSecret', times: 1, status: 429 });
    faults.inject({ endpoint: 'secretmanager.GetSecret', times: 1, status: 403 });
    const codes = [];
    for (let i = 0; i < 3; i++)
      codes.push((await rpcError(client.getSecret({ name: secretPath('faults-map') }))).code);
    expect(codes).toEqual([
      grpc.status.UNAVAILABLE,
      grpc.status.RESOURCE_EXHAUSTED,
      grpc.status.PERMISSION_DENIED,
    ]);
  });

  it('delays a call by the injected latency and then answers it normally', async () => {
    await createSecret('faults-retry');
    await addVersion('faults-retry', 'y');
    faults.inject({ endpoint: 'secretmanager.GetSecretVersion', times: 1, latencyMs: 50 });
    const started = Date.now();
    const [version] = await client.getSecretVersion({ name: `${secretPath('faults-retry')}/versions/1` });
    expect(version.state).toBe('ENABLED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('answers UNIMPLEMENTED for the IAM methods, still counting them', async () => {
    const before = faults.count('secretmanager.GetIamPolicy');
    const error = await rpcError(client.getIamPolicy({ resource: secretPath('x') }));
    expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(faults.count('secretmanager.GetIamPolicy') - before).toBe(1);
  });
});

describe('notifications', () => {
  it('emits one notification per change to a secret with topics, and none without', async () => {
    const topics = [{ name: 'projects/p/topics/secrets' }];
    const start = notifications.length;
    await createSecret('notify-quiet');
    await addVersion('notify-quiet', 'x');
    expect(notifications.length).toBe(start);

    await createSecret('notify-loud', { topics });
    await addVersion('notify-loud', 'one');
    const name = `${secretPath('notify-loud')}/versions/1`;
    await client.disableSecretVersion({ name });
    await client.enableSecretVersion({ name });
    await client.destroySecretVersion({ name });
    await client.updateSecret({
      secret: { name: secretPath('notify-loud'), labels: { a: 'b' } },
      updateMask: { paths: ['labels'] },
    });
    await client.deleteSecret({ name: secretPath('notify-loud') });
    const seen = notifications.slice(start);
    expect(seen.map((n) => n.eventType)).toEqual([
      'SECRET_CREATE',
      'SECRET_VERSION_ADD',
      'SECRET_VERSION_DISABLE',
      'SECRET_VERSION_ENABLE',
      'SECRET_VERSION_DESTROY',
      'SECRET_UPDATE',
      'SECRET_DELETE',
    ]);
    for (const n of seen) {
      expect(n.secretId).toBe(`projects/${PROJECT_ID}/secrets/notify-loud`);
      expect(n.topics).toEqual(['projects/p/topics/secrets']);
    }
    expect(seen[0].data).toMatchObject({
      name: numberedPath('notify-loud'),
      replication: { automatic: {} },
      topics,
    });
    expect(seen[1].data).toMatchObject({
      name: `${numberedPath('notify-loud')}/versions/1`,
      state: 'ENABLED',
    });
    expect(seen[4].data).toMatchObject({ state: 'DESTROYED' });
    expect(seen[5].data).toMatchObject({ labels: { a: 'b' } });
  });

  it('announces SECRET_ROTATE once the rotation time has passed and advances it by the period', async () => {
    const next = new Date(Date.now() + 600_000);
    await createSecret('notify-rotate', {
      topics: [{ name: 'projects/p/topics/rotate' }],
      rotation: {
        nextRotationTime: { seconds: Math.floor(next.getTime() / 1000) },
        rotationPeriod: { seconds: 7200 },
      },
    });
    const scheduled = Math.floor(next.getTime() / 1000) * 1000;
    const start = notifications.length;
    expect(store.rotateDue(new Date(scheduled - 1))).toEqual([]);
    expect(store.rotateDue(new Date(scheduled + 1))).toEqual([numberedPath('notify-rotate')]);
    expect(store.rotateDue(new Date(scheduled + 2))).toEqual([]);
    const rotate = notifications.slice(start);
    expect(rotate.map((n) => n.eventType)).toEqual(['SECRET_ROTATE']);
    const advanced = new Date(scheduled + 7_200_000).toISOString();
    expect(rotate[0].data).toMatchObject({
      rotation: { nextRotationTime: advanced, rotationPeriod: '7200s' },
    });
    const [secret] = await client.getSecret({ name: secretPath('notify-rotate') });
    expect(Number(secret.rotation?.nextRotationTime?.seconds) * 1000).toBe(scheduled + 7_200_000);
  });
});
