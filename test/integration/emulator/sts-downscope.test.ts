import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';

const PROJECT = 'tvs-sts-test';
const SA = `ci-runner@${PROJECT}.iam.gserviceaccount.com`;
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const VIEWER = 'inRole:roles/storage.objectViewer';
const BUCKET = '//storage.googleapis.com/projects/_/buckets/ci-acme';

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: { projectId: PROJECT, projectNumber: '555000111333', serviceAccounts: [{ email: SA }] },
  });
});

afterAll(async () => {
  await emulator?.stop();
});

const source = (scopes = [CP]) => emulator.state.tokens.issue({ email: SA, scopes, issuedBy: 'test' });

async function exchange(
  params: Record<string, string | undefined>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) form.set(k, v);
  const res = await fetch(`${emulator.httpUrl}/v1/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const request = (subject: string, boundary: unknown) => ({
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
  subject_token_type: AT,
  requested_token_type: AT,
  subject_token: subject,
  options: JSON.stringify({ accessBoundary: boundary }),
});

const rule = (extra: Record<string, unknown> = {}) => ({
  availableResource: BUCKET,
  availablePermissions: [VIEWER],
  ...extra,
});

async function read(token: string | undefined, bucket: string, object: string) {
  const res = await fetch(
    `${emulator.httpUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(object)}`,
    { headers: token ? { authorization: `Bearer ${token}` } : {} },
  );
  return { status: res.status, body: await res.json() };
}

describe('STS downscoping (POST /v1/token)', () => {
  it('downscopes a live access token: same expiry, the boundary recorded and shown by tokeninfo', async () => {
    const src = source();
    const boundary = {
      accessBoundaryRules: [
        rule({
          availabilityCondition: {
            expression: "resource.name.startsWith('projects/_/buckets/ci-acme/objects/app/')",
            title: 't',
          },
        }),
      ],
    };
    const sent = await exchange(request(src.value, boundary));
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({
      access_token: expect.stringMatching(/^ya29\./),
      issued_token_type: AT,
      token_type: 'Bearer',
      expires_in: expect.any(Number),
    });
    const issued = emulator.state.tokens.lookup(sent.body.access_token as string)!;
    expect(issued.expiresAtMs).toBeCloseTo(src.expiresAtMs, -3);
    expect(issued.accessBoundaries).toEqual([boundary]);
    const info = await (
      await fetch(`${emulator.tokeninfoUrl}?access_token=${sent.body.access_token as string}`)
    ).json();
    expect(JSON.parse(info.x_emulator_access_boundaries)).toEqual([boundary]);
    expect(info.scope).toBe(CP);
    expect(emulator.faults.count('sts.token')).toBeGreaterThanOrEqual(1);
  });

  it.each<[string, (subject: string) => Record<string, string | undefined>, number, string]>([
    [
      'an unknown subject token',
      () => request('ya29.not-issued', { accessBoundaryRules: [rule()] }),
      400,
      'invalid_grant',
    ],
    [
      'eleven rules',
      (s) => request(s, { accessBoundaryRules: Array.from({ length: 11 }, () => rule()) }),
      400,
      'invalid_request',
    ],
    ['no rules', (s) => request(s, { accessBoundaryRules: [] }), 400, 'invalid_request'],
    [
      'a permission not in inRole: form',
      (s) => request(s, { accessBoundaryRules: [rule({ availablePermissions: ['storage.objects.get'] })] }),
      400,
      'invalid_request',
    ],
    [
      'no availableResource',
      (s) => request(s, { accessBoundaryRules: [{ availablePermissions: [VIEWER] }] }),
      400,
      'invalid_request',
    ],
    [
      'a condition over 2048 characters',
      (s) =>
        request(s, {
          accessBoundaryRules: [
            rule({ availabilityCondition: { expression: `'${'a'.repeat(2050)}' == 'a'` } }),
          ],
        }),
      400,
      'invalid_request',
    ],
    [
      'a condition outside the emulator’s CEL subset',
      (s) =>
        request(s, {
          accessBoundaryRules: [
            rule({ availabilityCondition: { expression: "resource.name.matches('x')" } }),
          ],
        }),
      400,
      'invalid_request',
    ],
    ['no options', (s) => ({ ...request(s, {}), options: undefined }), 400, 'invalid_request'],
    [
      'another grant type',
      (s) => ({ ...request(s, { accessBoundaryRules: [rule()] }), grant_type: 'client_credentials' }),
      400,
      'unsupported_grant_type',
    ],
    [
      'a JWT subject token type',
      (s) => ({
        ...request(s, { accessBoundaryRules: [rule()] }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      }),
      400,
      'invalid_request',
    ],
  ])('refuses %s with STS’s error body', async (_name, build, status, error) => {
    const sent = await exchange(build(source().value));
    expect(sent.status).toBe(status);
    expect(sent.body).toEqual({ error, error_description: expect.any(String) });
  });

  it('refuses an expired subject token', async () => {
    const expired = emulator.state.tokens.issue({
      email: SA,
      scopes: [CP],
      issuedBy: 'test',
      nowMs: Date.now() - 7200_000,
    });
    expect((await exchange(request(expired.value, { accessBoundaryRules: [rule()] }))).body).toMatchObject({
      error: 'invalid_grant',
    });
  });
});

describe('Storage objects.get under a boundary', () => {
  it('lets an unbounded token read anything and a bounded one only inside its boundary', async () => {
    const src = source();
    const boundary = {
      accessBoundaryRules: [
        rule({
          availabilityCondition: {
            expression: "resource.name.startsWith('projects/_/buckets/ci-acme/objects/app/')",
          },
        }),
      ],
    };
    const down = (await exchange(request(src.value, boundary))).body.access_token as string;
    expect((await read(src.value, 'other', 'x')).status).toBe(200);
    const inside = await read(down, 'ci-acme', 'app/build.log');
    expect(inside).toMatchObject({
      status: 200,
      body: { kind: 'storage#object', bucket: 'ci-acme', name: 'app/build.log' },
    });
    for (const [bucket, object] of [
      ['ci-acme', 'other/build.log'],
      ['ci-other', 'app/build.log'],
      ['ci-acme', 'app'],
    ]) {
      const outside = await read(down, bucket, object);
      expect(outside.status).toBe(403);
      expect(outside.body).toEqual({
        error: {
          code: 403,
          message: `${SA} does not have storage.objects.get access to the Google Cloud Storage object. Permission 'storage.objects.get' denied on resource (or it may not exist).`,
          errors: [{ message: outside.body.error.message, domain: 'global', reason: 'forbidden' }],
        },
      });
    }
  });

  it('refuses a boundary whose role does not hold storage.objects.get', async () => {
    const down = (
      await exchange(
        request(source().value, {
          accessBoundaryRules: [rule({ availablePermissions: ['inRole:roles/storage.objectCreator'] })],
        }),
      )
    ).body.access_token as string;
    expect((await read(down, 'ci-acme', 'a')).status).toBe(403);
  });

  it('needs every boundary of a token downscoped twice', async () => {
    const once = (await exchange(request(source().value, { accessBoundaryRules: [rule()] }))).body
      .access_token as string;
    const twice = (
      await exchange(
        request(once, {
          accessBoundaryRules: [
            rule({ availabilityCondition: { expression: "resource.name.endsWith('.log')" } }),
          ],
        }),
      )
    ).body.access_token as string;
    expect((await read(twice, 'ci-acme', 'a.log')).status).toBe(200);
    expect((await read(twice, 'ci-acme', 'a.txt')).status).toBe(403);
  });

  it('answers 401 without a live token and 403 without a storage scope', async () => {
    expect(await read(undefined, 'b', 'o')).toMatchObject({
      status: 401,
      body: { error: { code: 401, message: 'Invalid Credentials', errors: [{ reason: 'authError' }] } },
    });
    expect(
      (await read(source(['https://www.googleapis.com/auth/userinfo.email']).value, 'b', 'o')).body.error
        .errors[0].reason,
    ).toBe('insufficientPermissions');
  });
});
