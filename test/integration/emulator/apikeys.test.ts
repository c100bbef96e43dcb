import { GoogleAuth, type AuthClient } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const PROJECT = 'tvs-api-keys';
const NUMBER = '410987654321';
const WORKLOAD = `workload@${PROJECT}.iam.gserviceaccount.com`;
const PARENT = `projects/${PROJECT}/locations/global`;
const KEY_TYPE = 'type.googleapis.com/google.api.apikeys.v2.Key';
const GEMINI_ONLY = { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] };

let emulator: Emulator;
let restoreEnv: () => void;
let client: AuthClient;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: PROJECT,
      projectNumber: NUMBER,
      serviceAccounts: [{ email: WORKLOAD }],
      metadata: { defaultServiceAccount: WORKLOAD },
    },
  });
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  client = await new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient();
});

afterAll(async () => {
  restoreEnv?.();
  await emulator?.stop();
});

interface Answer {
  status: number;
  data: Record<string, any>;
}

async function api(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  data?: unknown,
): Promise<Answer> {
  const response = await client.request<Record<string, any>>({
    url: `${emulator.httpUrl}/v2/${path}`,
    method,
    ...(data === undefined ? {} : { data }),
    validateStatus: () => true,
    retry: false,
  });
  return { status: response.status, data: response.data };
}

/** Polls an operation the way a client must: until `done`, with a bound. */
async function waitFor(operation: Record<string, any>): Promise<Record<string, any>> {
  let op = operation;
  for (let polls = 0; op.done !== true; polls++) {
    if (polls > 10) throw new Error(`operation ${String(op.name)} never finished`);
    const answer = await api('GET', op.name as string);
    expect(answer.status).toBe(200);
    op = answer.data;
  }
  if (op.error) throw new Error(JSON.stringify(op.error));
  return op.response as Record<string, any>;
}

async function createKey(keyId: string, key: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const answer = await api('POST', `${PARENT}/keys?keyId=${keyId}`, key);
  expect(answer.status).toBe(200);
  return waitFor(answer.data);
}

describe('API Keys v2', () => {
  it('creates a key as a long-running operation that finishes on the first poll', async () => {
    const started = await api('POST', `${PARENT}/keys?keyId=lro-key`, {
      displayName: 'LRO key',
      restrictions: GEMINI_ONLY,
      annotations: { owner: 'rotation' },
    });
    expect(started.status).toBe(200);
    expect(started.data).toEqual({
      name: expect.stringMatching(new RegExp(`^operations/akmf\\.p7-${NUMBER}-[0-9a-f-]{36}$`)),
    });

    const polled = await api('GET', started.data.name as string);
    expect(polled.data).toEqual({
      name: started.data.name,
      done: true,
      response: {
        '@type': KEY_TYPE,
        name: `projects/${NUMBER}/locations/global/keys/lro-key`,
        uid: expect.stringMatching(/^[0-9a-f-]{36}$/),
        displayName: 'LRO key',
        keyString: expect.stringMatching(/^AIza[A-Za-z0-9_-]{35}$/),
        createTime: expect.any(String),
        updateTime: expect.any(String),
        annotations: { owner: 'rotation' },
        restrictions: GEMINI_ONLY,
        etag: expect.stringMatching(/^W\/".+"$/),
      },
    });
    expect(emulator.faults.count('apikeys.getOperation')).toBeGreaterThanOrEqual(1);
    expect((await api('GET', 'operations/akmf.p7-0-unknown')).status).toBe(404);
  });

  it('finishes operations in the method’s own answer when told to need no polls', async () => {
    const configured = await fetch(`${emulator.httpUrl}/__admin/apikeys/operations`, {
      method: 'POST',
      body: JSON.stringify({ pollsUntilDone: 0 }),
    });
    expect(configured.status).toBe(204);
    try {
      const answer = await api('POST', `${PARENT}/keys?keyId=instant`, {});
      expect(answer.data).toMatchObject({
        done: true,
        response: { name: `projects/${NUMBER}/locations/global/keys/instant` },
      });
    } finally {
      emulator.state.operations.pollsUntilDone = 1;
    }
  });

  it('reveals the key string only through getKeyString, and looks keys up by it', async () => {
    const created = await createKey('lookup-me');
    const got = await api('GET', `${PARENT}/keys/lookup-me`);
    expect(got.status).toBe(200);
    expect(got.data).not.toHaveProperty('keyString');
    expect(got.data.name).toBe(`projects/${NUMBER}/locations/global/keys/lookup-me`);

    const keyString = await api('GET', `projects/${NUMBER}/locations/global/keys/lookup-me/keyString`);
    expect(keyString).toEqual({ status: 200, data: { keyString: created.keyString } });

    const lookup = await api(
      'GET',
      `keys:lookupKey?keyString=${encodeURIComponent(created.keyString as string)}`,
    );
    expect(lookup).toEqual({
      status: 200,
      data: {
        parent: `projects/${NUMBER}/locations/global`,
        name: `projects/${NUMBER}/locations/global/keys/lookup-me`,
      },
    });
  });

  it.each([
    ['an upper-case id', 'Upper'],
    ['an id starting with a digit', '1key'],
    ['an id with an underscore', 'my_key'],
    ['an id ending with a hyphen', 'key-'],
    ['a 64-character id', `k${'a'.repeat(63)}`],
    ['a UUID', '0e8a3b6e-1d2c-4c5b-9a8f-7e6d5c4b3a21'],
  ])('rejects %s with INVALID_ARGUMENT', async (_name, keyId) => {
    const answer = await api('POST', `${PARENT}/keys?keyId=${keyId}`, {});
    expect(answer.status).toBe(400);
    expect(answer.data.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'two client restriction kinds',
      {
        restrictions: {
          serverKeyRestrictions: { allowedIps: ['10.0.0.1'] },
          browserKeyRestrictions: { allowedReferrers: ['*'] },
        },
      },
      'at most one of',
    ],
    [
      'an unknown field',
      { displayName: 'x', colour: 'red' },
      `Unknown name "colour" at 'key': Cannot find field.`,
    ],
    [
      'an allowed IP that is not an address',
      { restrictions: { serverKeyRestrictions: { allowedIps: ['10.0.0.300/8'] } } },
      'must be an IP address or CIDR block',
    ],
  ])('rejects a key body with %s', async (_name, body, fragment) => {
    const answer = await api('POST', `${PARENT}/keys?keyId=bad-body`, body);
    expect(answer.status).toBe(400);
    expect(answer.data.error.status).toBe('INVALID_ARGUMENT');
    expect(answer.data.error.message).toContain(fragment);
  });

  it('refuses a duplicate id with ALREADY_EXISTS, even while the first key is deleted', async () => {
    await createKey('taken');
    const duplicate = await api('POST', `${PARENT}/keys?keyId=taken`, {});
    expect(duplicate.status).toBe(409);
    expect(duplicate.data.error).toMatchObject({ code: 409, status: 'ALREADY_EXISTS' });
    await waitFor((await api('DELETE', `${PARENT}/keys/taken`)).data);
    expect((await api('POST', `${PARENT}/keys?keyId=taken`, {})).status).toBe(409);
  });

  it('updates only the fields in updateMask, with a new etag, and refuses a stale etag', async () => {
    const created = await createKey('patch-me', { displayName: 'before', annotations: { a: '1' } });
    const patched = await waitFor(
      (
        await api('PATCH', `${PARENT}/keys/patch-me?updateMask=displayName,restrictions`, {
          displayName: 'after',
          restrictions: GEMINI_ONLY,
          annotations: { ignored: 'yes' },
        })
      ).data,
    );
    expect(patched).toMatchObject({
      displayName: 'after',
      restrictions: GEMINI_ONLY,
      annotations: { a: '1' },
    });
    expect(patched).not.toHaveProperty('keyString');
    expect(patched.etag).not.toBe(created.etag);

    const stale = await api('PATCH', `${PARENT}/keys/patch-me?updateMask=displayName`, {
      displayName: 'late',
      etag: created.etag,
    });
    expect(stale.status).toBe(409);
    expect(stale.data.error.status).toBe('ABORTED');
    const badMask = await api('PATCH', `${PARENT}/keys/patch-me?updateMask=keyString`, {
      keyString: 'AIzaX',
    });
    expect(badMask.status).toBe(400);
    expect(badMask.data.error.status).toBe('INVALID_ARGUMENT');
  });

  it('soft-deletes: the key stays readable with deleteTime, leaves the default list, and undeletes', async () => {
    const created = await createKey('soft-delete');
    const deleted = await waitFor((await api('DELETE', `${PARENT}/keys/soft-delete`)).data);
    expect(deleted.deleteTime).toEqual(expect.any(String));

    expect((await api('GET', `${PARENT}/keys/soft-delete`)).data.deleteTime).toBe(deleted.deleteTime);
    expect(
      (await api('GET', `keys:lookupKey?keyString=${encodeURIComponent(created.keyString as string)}`))
        .status,
    ).toBe(404);
    const live = await api('GET', `${PARENT}/keys`);
    expect((live.data.keys as { name: string }[]).map((k) => k.name)).not.toContain(
      `projects/${NUMBER}/locations/global/keys/soft-delete`,
    );
    const all = await api('GET', `${PARENT}/keys?showDeleted=true`);
    expect((all.data.keys as { name: string }[]).map((k) => k.name)).toContain(
      `projects/${NUMBER}/locations/global/keys/soft-delete`,
    );
    expect((await api('PATCH', `${PARENT}/keys/soft-delete`, { displayName: 'x' })).data.error?.status).toBe(
      'FAILED_PRECONDITION',
    );

    const restored = await waitFor((await api('POST', `${PARENT}/keys/soft-delete:undelete`, {})).data);
    expect(restored).not.toHaveProperty('deleteTime');
    expect(
      (await api('GET', `keys:lookupKey?keyString=${encodeURIComponent(created.keyString as string)}`))
        .status,
    ).toBe(200);
    expect((await api('POST', `${PARENT}/keys/soft-delete:undelete`, {})).data.error?.status).toBe(
      'FAILED_PRECONDITION',
    );
  });

  it('pages through the list with pageSize and nextPageToken', async () => {
    await Promise.all(['page-a', 'page-b', 'page-c'].map((id) => createKey(id)));
    const expected = emulator.state.apiKeys
      .list()
      .map((k) => `projects/${NUMBER}/locations/global/keys/${k.keyId}`);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await api('GET', `${PARENT}/keys?pageSize=2${token ? `&pageToken=${token}` : ''}`);
      expect((page.data.keys as unknown[]).length).toBeLessThanOrEqual(2);
      seen.push(...(page.data.keys as { name: string }[]).map((k) => k.name));
      token = page.data.nextPageToken as string | undefined;
    } while (token);
    expect(seen).toEqual(expected);
  });

  it.each<[string, string, number, string]>([
    ['a key of another project', 'projects/someone-else/locations/global/keys/x', 403, 'PERMISSION_DENIED'],
    ['a missing key', `${PARENT}/keys/no-such-key`, 404, 'NOT_FOUND'],
  ])('answers %s in the error model', async (_name, path, status, statusName) => {
    const answer = await api('GET', path);
    expect(answer.status).toBe(status);
    expect(answer.data.error).toMatchObject({ code: status, status: statusName });
  });

  it('requires a bearer token', async () => {
    const response = await fetch(`${emulator.httpUrl}/v2/${PARENT}/keys`);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { status: string } }).error.status).toBe('UNAUTHENTICATED');
  });
});
