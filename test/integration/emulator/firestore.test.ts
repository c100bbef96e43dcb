/**
 * The emulated Firestore REST document methods over real HTTP, as Google answers them: bearer
 * auth and scopes, get / patch (update mask, preconditions) / delete, document names, `Value`
 * validation, error bodies, endpoint names for faults and counters.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';

const SA = 'workload@tvs-local.iam.gserviceaccount.com';
let emulator: Emulator;
let token: string;
let root: string;

async function call(method: string, path: string, query = '', body?: unknown, bearer = token) {
  const res = await fetch(`${emulator.httpUrl}/v1/${root}/${path}${query}`, {
    method,
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  emulator = await startEmulator();
  root = `projects/${emulator.projectId}/databases/(default)/documents`;
  token = emulator.state.tokens.issue({
    email: SA,
    scopes: ['https://www.googleapis.com/auth/datastore'],
    issuedBy: 'test',
  }).value;
});
afterAll(() => emulator?.stop());
beforeEach(() => emulator.faults.reset());

describe('Firestore REST documents (emulated)', () => {
  it('requires an access token with the datastore or cloud-platform scope', async () => {
    expect((await call('GET', 'c/d', '', undefined, '')).status).toBe(401);
    const emailOnly = emulator.state.tokens.issue({
      email: SA,
      scopes: ['https://www.googleapis.com/auth/userinfo.email'],
      issuedBy: 'test',
    }).value;
    const denied = await call('GET', 'c/d', '', undefined, emailOnly);
    expect(denied.status).toBe(403);
    expect(denied.json.error.details[0].reason).toBe('ACCESS_TOKEN_SCOPE_INSUFFICIENT');
  });

  it('creates with exists=false, refuses a second create, and answers the Document with microsecond times', async () => {
    const fields = { a: { stringValue: 'x' }, n: { arrayValue: {} } };
    const created = await call('PATCH', 'c/one', '?currentDocument.exists=false', { fields });
    expect(created).toEqual({
      status: 200,
      json: {
        name: `${root}/c/one`,
        fields,
        createTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
        updateTime: created.json.createTime,
      },
    });
    expect(await call('PATCH', 'c/one', '?currentDocument.exists=false', { fields })).toEqual({
      status: 409,
      json: {
        error: { code: 409, message: `Document already exists: ${root}/c/one`, status: 'ALREADY_EXISTS' },
      },
    });
    expect(await call('GET', 'c/one')).toEqual({ status: 200, json: created.json });
  });

  it('applies the update mask: masked fields absent from the body are deleted, others kept', async () => {
    await call('PATCH', 'c/mask', '', { fields: { keep: { stringValue: 'k' }, drop: { stringValue: 'd' } } });
    const patched = await call('PATCH', 'c/mask', '?updateMask.fieldPaths=drop&updateMask.fieldPaths=add', {
      fields: { add: { bytesValue: 'AAE=' } },
    });
    expect(patched.json.fields).toEqual({ keep: { stringValue: 'k' }, add: { bytesValue: 'AAE=' } });
    expect(emulator.state.firestore.raw('c/mask')?.fields).toEqual(patched.json.fields);
  });

  it('checks the updateTime precondition with Google’s codes and wording', async () => {
    const first = await call('PATCH', 'c/cas', '', { fields: { v: { stringValue: '1' } } });
    const t1 = first.json.updateTime as string;
    const second = await call('PATCH', 'c/cas', `?currentDocument.updateTime=${t1}`, {
      fields: { v: { stringValue: '2' } },
    });
    expect(second.status).toBe(200);
    const stale = await call('PATCH', 'c/cas', `?currentDocument.updateTime=${t1}`, {
      fields: { v: { stringValue: '3' } },
    });
    expect(stale.status).toBe(400);
    expect(stale.json.error).toMatchObject({
      status: 'FAILED_PRECONDITION',
      message: expect.stringMatching(
        /^the stored version \(\d+\) does not match the required base version \(\d+\)$/,
      ),
    });
    expect(await call('PATCH', 'c/absent', '?currentDocument.exists=true', { fields: {} })).toEqual({
      status: 404,
      json: { error: { code: 404, message: `No document to update: ${root}/c/absent`, status: 'NOT_FOUND' } },
    });
  });

  it('gets NOT_FOUND for a missing document and deletes with {}', async () => {
    expect(await call('GET', 'c/none')).toEqual({
      status: 404,
      json: { error: { code: 404, message: `Document "${root}/c/none" not found.`, status: 'NOT_FOUND' } },
    });
    await call('PATCH', 'c/del', '', { fields: {} });
    expect(await call('DELETE', 'c/del')).toEqual({ status: 200, json: {} });
    expect(emulator.state.firestore.raw('c/del')).toBeUndefined();
    expect(emulator.faults.count('firestore.delete')).toBe(1);
  });

  it.each([
    ['two value types', { f: { stringValue: 'a', integerValue: '1' } }],
    ['an unknown value type', { f: { textValue: 'a' } }],
    ['bytes that are not base64', { f: { bytesValue: '!!' } }],
    ['a malformed timestamp', { f: { timestampValue: 'tomorrow' } }],
    ['nested arrays', { f: { arrayValue: { values: [{ arrayValue: {} }] } } }],
  ])('refuses %s with INVALID_ARGUMENT and stores nothing', async (_what, fields) => {
    const res = await call('PATCH', 'c/bad', '', { fields });
    expect(res.status).toBe(400);
    expect(res.json.error.status).toBe('INVALID_ARGUMENT');
    expect(emulator.state.firestore.raw('c/bad')).toBeUndefined();
  });

  it('refuses a name that is not collection/document pairs, and another database', async () => {
    expect((await call('GET', 'c')).status).toBe(400);
    expect((await call('GET', 'c/__reserved__')).status).toBe(400);
    const other = await fetch(
      `${emulator.httpUrl}/v1/projects/${emulator.projectId}/databases/other/documents/c/d`,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    expect(other.status).toBe(404);
  });

  it('answers injected faults on the named endpoint', async () => {
    emulator.faults.inject({ endpoint: 'firestore.patch', status: 503, times: 1 });
    expect((await call('PATCH', 'c/f', '', { fields: {} })).status).toBe(503);
    expect((await call('PATCH', 'c/f', '', { fields: {} })).status).toBe(200);
    expect(emulator.faults.count('firestore.patch')).toBe(2);
  });
});
