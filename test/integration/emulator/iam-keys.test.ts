import { createPrivateKey } from 'node:crypto';
import { GoogleAuth, type AuthClient } from 'google-auth-library';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type GoogleKeyFile } from '../../../emulator/index.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const PROJECT = 'tvs-iam-keys';
const NUMBER = '310987654321';
const WORKLOAD = `workload@${PROJECT}.iam.gserviceaccount.com`;
const TARGET = `rotated@${PROJECT}.iam.gserviceaccount.com`;
const CAPPED = `capped@${PROJECT}.iam.gserviceaccount.com`;
const BLOCKED = `blocked@${PROJECT}.iam.gserviceaccount.com`;
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

let emulator: Emulator;
let restoreEnv: () => void;
let client: AuthClient;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: PROJECT,
      projectNumber: NUMBER,
      serviceAccounts: [{ email: WORKLOAD }, { email: TARGET }, { email: CAPPED }, { email: BLOCKED }],
      metadata: { defaultServiceAccount: WORKLOAD },
    },
  });
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  // Stock google-auth-library on the metadata server, as the rotation function runs on Cloud Functions.
  client = await new GoogleAuth({ scopes: [CLOUD_PLATFORM] }).getClient();
});

afterAll(async () => {
  restoreEnv?.();
  await emulator?.stop();
});

interface Answer {
  status: number;
  data: Record<string, any>;
}

/** Calls the emulated IAM API through gaxios with the workload's metadata-server token. */
async function iam(method: 'GET' | 'POST' | 'DELETE', path: string, data?: unknown): Promise<Answer> {
  const response = await client.request<Record<string, any>>({
    url: `${emulator.httpUrl}/v1/${path}`,
    method,
    ...(data === undefined ? {} : { data }),
    validateStatus: () => true,
  });
  return { status: response.status, data: response.data };
}

function keysOf(email: string, project = '-'): string {
  return `projects/${project}/serviceAccounts/${email}/keys`;
}

async function createKey(email: string): Promise<{ answer: Answer; keyFile: GoogleKeyFile; keyId: string }> {
  const answer = await iam('POST', keysOf(email), {
    privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE',
    keyAlgorithm: 'KEY_ALG_RSA_2048',
  });
  expect(answer.status).toBe(200);
  const keyFile = JSON.parse(
    Buffer.from(answer.data.privateKeyData as string, 'base64').toString('utf8'),
  ) as GoogleKeyFile;
  return { answer, keyFile, keyId: keyFile.private_key_id };
}

/** Exchanges a jwt-bearer assertion signed with the key file at the key file's token_uri. */
async function mint(keyFile: GoogleKeyFile): Promise<number> {
  const iat = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({
    iss: keyFile.client_email,
    scope: CLOUD_PLATFORM,
    aud: 'https://oauth2.googleapis.com/token',
    iat,
    exp: iat + 3600,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: keyFile.private_key_id })
    .sign(createPrivateKey(keyFile.private_key));
  const response = await fetch(keyFile.token_uri, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('IAM service-account keys', () => {
  it('creates a key whose key file, returned once, mints tokens at the emulator', async () => {
    const { answer, keyFile, keyId } = await createKey(TARGET);

    expect(answer.data).toEqual({
      name: `projects/${PROJECT}/serviceAccounts/${TARGET}/keys/${keyId}`,
      privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE',
      privateKeyData: expect.any(String),
      validAfterTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      validBeforeTime: '9999-12-31T23:59:59Z',
      keyAlgorithm: 'KEY_ALG_RSA_2048',
      keyOrigin: 'GOOGLE_PROVIDED',
      keyType: 'USER_MANAGED',
    });
    expect(keyFile).toMatchObject({
      type: 'service_account',
      project_id: PROJECT,
      client_email: TARGET,
      token_uri: emulator.tokenUrl,
    });
    expect(keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(await mint(keyFile)).toBe(200);
  });

  it('lists keys without private key data, and gets one by any accepted path form', async () => {
    const { keyId } = await createKey(TARGET);
    const account = emulator.state.serviceAccounts.get(TARGET)!;

    const listed = await iam('GET', `${keysOf(TARGET, PROJECT)}?keyTypes=USER_MANAGED`);
    expect(listed.status).toBe(200);
    const names = (listed.data.keys as Record<string, unknown>[]).map((k) => k.name);
    expect(names).toContain(`projects/${PROJECT}/serviceAccounts/${TARGET}/keys/${keyId}`);
    for (const key of listed.data.keys as Record<string, unknown>[])
      expect(key).not.toHaveProperty('privateKeyData');

    for (const path of [
      keysOf(TARGET),
      keysOf(TARGET, PROJECT),
      keysOf(TARGET, NUMBER),
      keysOf(account.uniqueId),
      keysOf(encodeURIComponent(TARGET)),
    ]) {
      const got = await iam('GET', `${path}/${keyId}`);
      expect(got.status, path).toBe(200);
      expect(got.data.name).toBe(`projects/${PROJECT}/serviceAccounts/${TARGET}/keys/${keyId}`);
      expect(got.data).not.toHaveProperty('privateKeyData');
    }
  });

  it('stops minting at once when a key is disabled, resumes on enable, and stops for good on delete', async () => {
    const { keyFile, keyId } = await createKey(TARGET);
    const path = `${keysOf(TARGET)}/${keyId}`;

    expect(await iam('POST', `${path}:disable`, {})).toEqual({ status: 200, data: {} });
    expect((await iam('GET', path)).data.disabled).toBe(true);
    expect(await mint(keyFile)).toBe(400);

    expect(await iam('POST', `${path}:enable`, {})).toEqual({ status: 200, data: {} });
    expect((await iam('GET', path)).data).not.toHaveProperty('disabled');
    expect(await mint(keyFile)).toBe(200);

    expect(await iam('DELETE', path)).toEqual({ status: 200, data: {} });
    expect(await mint(keyFile)).toBe(400);
    const listed = await iam('GET', keysOf(TARGET));
    expect((listed.data.keys as Record<string, unknown>[]).map((k) => k.name)).not.toContain(
      `projects/${PROJECT}/serviceAccounts/${TARGET}/keys/${keyId}`,
    );
    expect((await iam('GET', path)).status).toBe(404);
  });

  it.each<[string, 'GET' | 'POST' | 'DELETE', string, string]>([
    [
      'an unknown service account',
      'GET',
      keysOf(`nobody@${PROJECT}.iam.gserviceaccount.com`),
      'Unknown service account',
    ],
    ['an unknown project', 'GET', keysOf(TARGET, 'other-project'), 'Unknown service account'],
    [
      'an unknown key',
      'GET',
      `${keysOf(TARGET)}/${'0'.repeat(40)}`,
      `Service account key ${'0'.repeat(40)} does not exist.`,
    ],
    [
      'deleting an unknown key',
      'DELETE',
      `${keysOf(TARGET)}/${'1'.repeat(40)}`,
      `Service account key ${'1'.repeat(40)} does not exist.`,
    ],
    [
      'disabling an unknown key',
      'POST',
      `${keysOf(TARGET)}/${'2'.repeat(40)}:disable`,
      `Service account key ${'2'.repeat(40)} does not exist.`,
    ],
  ])('answers 404 NOT_FOUND for %s', async (_name, method, path, message) => {
    expect(await iam(method, path, method === 'POST' ? {} : undefined)).toEqual({
      status: 404,
      data: { error: { code: 404, message, status: 'NOT_FOUND' } },
    });
  });

  it('refuses the eleventh user-managed key with FAILED_PRECONDITION until one is deleted', async () => {
    const keys = await Promise.all(Array.from({ length: 10 }, () => createKey(CAPPED)));

    const eleventh = await iam('POST', keysOf(CAPPED), {});
    expect(eleventh).toEqual({
      status: 400,
      data: { error: { code: 400, message: 'Precondition check failed.', status: 'FAILED_PRECONDITION' } },
    });

    await iam('DELETE', `${keysOf(CAPPED)}/${keys[0].keyId}`);
    expect((await iam('POST', keysOf(CAPPED), {})).status).toBe(200);
  });

  it('blocks creation under constraints/iam.disableServiceAccountKeyCreation, per account or for all', async () => {
    emulator.state.orgPolicy.keyCreationDisabledFor.add(BLOCKED);
    const refused = await iam('POST', keysOf(BLOCKED), {});
    expect(refused.status).toBe(400);
    expect(refused.data.error).toEqual({
      code: 400,
      message: 'Key creation is not allowed on this service account.',
      status: 'FAILED_PRECONDITION',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.PreconditionFailure',
          violations: [
            {
              type: 'constraints/iam.disableServiceAccountKeyCreation',
              subject: `projects/${PROJECT}/serviceAccounts/${BLOCKED}?configvalue=${encodeURIComponent(BLOCKED)}`,
              description: 'Key creation is not allowed on this service account.',
            },
          ],
        },
      ],
    });
    expect(emulator.state.serviceAccounts.listKeys(BLOCKED)).toHaveLength(0);

    const admin = await fetch(`${emulator.httpUrl}/__admin/org-policy`, {
      method: 'POST',
      body: JSON.stringify({ keyCreationDisabled: true, keyCreationDisabledFor: [] }),
    });
    expect(admin.status).toBe(204);
    expect((await iam('POST', keysOf(TARGET), {})).data.error?.status).toBe('FAILED_PRECONDITION');
    emulator.state.orgPolicy.keyCreationDisabled = false;
    expect((await iam('POST', keysOf(BLOCKED), {})).status).toBe(200);
  });

  it.each<[string, () => Record<string, string>, number, string, string]>([
    ['no Authorization header', () => ({}), 401, 'UNAUTHENTICATED', 'CREDENTIALS_MISSING'],
    [
      'a token the emulator never issued',
      () => ({ Authorization: 'Bearer ya29.not-a-real-token' }),
      401,
      'UNAUTHENTICATED',
      'ACCESS_TOKEN_TYPE_UNSUPPORTED',
    ],
    [
      'an expired token',
      () => ({
        Authorization: `Bearer ${emulator.state.tokens.issue({ email: WORKLOAD, scopes: [CLOUD_PLATFORM], issuedBy: 'test', nowMs: Date.now() - 7_200_000 }).value}`,
      }),
      401,
      'UNAUTHENTICATED',
      'ACCESS_TOKEN_EXPIRED',
    ],
    [
      'a token without cloud-platform scope',
      () => ({
        Authorization: `Bearer ${emulator.state.tokens.issue({ email: WORKLOAD, scopes: ['https://www.googleapis.com/auth/userinfo.email'], issuedBy: 'test' }).value}`,
      }),
      403,
      'PERMISSION_DENIED',
      'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
    ],
  ])('refuses a call with %s', async (_name, headers, status, statusName, reason) => {
    const response = await fetch(`${emulator.httpUrl}/v1/${keysOf(TARGET)}`, { headers: headers() });
    const body = (await response.json()) as {
      error: {
        code: number;
        status: string;
        details: { reason: string; metadata: Record<string, string> }[];
      };
    };
    expect(response.status).toBe(status);
    expect(body.error.status).toBe(statusName);
    expect(body.error.details[0]).toMatchObject({
      reason,
      metadata: { service: 'iam.googleapis.com', method: 'google.iam.admin.v1.IAM.ListServiceAccountKeys' },
    });
    expect(response.headers.get('www-authenticate')).toMatch(
      /^Bearer realm="https:\/\/accounts.google.com\/"/,
    );
  });

  it('counts calls per endpoint and answers injected faults in the error model', async () => {
    const before = emulator.faults.count('iam.keys.create');
    emulator.faults.inject({ endpoint: 'iam.keys.create', times: 1, status: 503, retryAfterSeconds: 2 });
    const keysBefore = emulator.state.serviceAccounts.listKeys(TARGET).length;

    const faulted = await client.request({
      url: `${emulator.httpUrl}/v1/${keysOf(TARGET)}`,
      method: 'POST',
      data: {},
      validateStatus: () => true,
      retry: false,
    });
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get('retry-after')).toBe('2');
    expect(faulted.data).toEqual({
      error: { code: 503, message: 'The service is currently unavailable.', status: 'UNAVAILABLE' },
    });
    expect(emulator.state.serviceAccounts.listKeys(TARGET)).toHaveLength(keysBefore);
    expect(emulator.faults.count('iam.keys.create')).toBe(before + 1);
  });
});
