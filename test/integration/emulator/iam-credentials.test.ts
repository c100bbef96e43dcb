/**
 * The emulated IAM Service Account Credentials API, driven by stock google-auth-library
 * (`Impersonated` with `endpoint` = the emulator) as a conformance client, plus raw HTTP for
 * the refusals a library never sends.
 */
import { GoogleAuth, Impersonated, type AuthClient } from 'google-auth-library';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, TOKEN_CREATOR_ROLE, type Emulator, type SeedInput } from '../../../emulator/index.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const CP = 'https://www.googleapis.com/auth/cloud-platform';
const sa = (name: string) => `${name}@tvs-local.iam.gserviceaccount.com`;
const CALLER = sa('caller');
const member = (email: string) => `serviceAccount:${email}`;

const seed: SeedInput = {
  projectId: 'tvs-local',
  projectNumber: '123456789012',
  serviceAccounts: ['caller', 'target', 'delegate', 'chained', 'idonly', 'nogrant', 'extended'].map((n) => ({
    email: sa(n),
  })),
  metadata: { defaultServiceAccount: CALLER },
  iamBindings: [
    { serviceAccount: sa('target'), member: member(CALLER), role: TOKEN_CREATOR_ROLE },
    { serviceAccount: sa('delegate'), member: member(CALLER), role: TOKEN_CREATOR_ROLE },
    { serviceAccount: sa('chained'), member: member(sa('delegate')), role: TOKEN_CREATOR_ROLE },
    { serviceAccount: sa('idonly'), member: member(CALLER), role: ['iam.serviceAccounts.getOpenIdToken'] },
    { serviceAccount: sa('extended'), member: member(CALLER), role: TOKEN_CREATOR_ROLE },
  ],
  lifetimeExtension: [sa('extended')],
};

let emulator: Emulator;
let restoreEnv: () => void;
let source: AuthClient;

beforeAll(async () => {
  emulator = await startEmulator({ seed });
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  source = await new GoogleAuth({ scopes: [CP] }).getClient();
});

afterAll(async () => {
  restoreEnv?.();
  await emulator?.stop();
});

beforeEach(() => emulator.faults.reset());

function impersonate(
  target: string,
  options: { lifetime?: number; delegates?: string[]; scopes?: string[] } = {},
): Impersonated {
  return new Impersonated({
    sourceClient: source,
    targetPrincipal: target,
    targetScopes: options.scopes ?? [CP],
    lifetime: options.lifetime ?? 3600,
    delegates: options.delegates ?? [],
    endpoint: emulator.httpUrl,
  });
}

/** The HTTP status and Google error body a stock-client call failed with. */
async function refusal(call: Promise<unknown>): Promise<{ status: number; error: any }> {
  try {
    await call;
  } catch (err) {
    const response = (err as { response?: { status: number; data: { error: unknown } } }).response;
    if (!response) throw err;
    return { status: response.status, error: response.data.error };
  }
  throw new Error('expected the call to be refused');
}

describe('generateAccessToken', () => {
  it('mints an access token for a granted target, and tokeninfo describes it', async () => {
    const { token } = await impersonate(sa('target')).getAccessToken();
    const record = emulator.state.tokens.lookup(token!);
    expect(record).toMatchObject({
      email: sa('target'),
      scopes: [CP],
      issuedBy: 'iamcredentials.generateAccessToken',
    });
    expect(record!.expiresAtMs - record!.issuedAtMs).toBe(3600_000);
    const info = await (await fetch(`${emulator.tokeninfoUrl}?access_token=${token}`)).json();
    expect(info).toMatchObject({
      azp: emulator.state.serviceAccounts.get(sa('target'))!.uniqueId,
      scope: CP,
    });
    expect(emulator.faults.count('iamcredentials.generateAccessToken')).toBe(1);
  });

  it('follows a delegation chain in which every hop holds the permission on the next', async () => {
    const { token } = await impersonate(sa('chained'), {
      delegates: [`projects/-/serviceAccounts/${sa('delegate')}`],
    }).getAccessToken();
    expect(emulator.state.tokens.lookup(token!)?.email).toBe(sa('chained'));
  });

  it('allows up to 12 h for a service account listed in the lifetime-extension org policy', async () => {
    const { token } = await impersonate(sa('extended'), { lifetime: 43_200 }).getAccessToken();
    const record = emulator.state.tokens.lookup(token!)!;
    expect(record.expiresAtMs - record.issuedAtMs).toBe(43_200_000);
  });

  it('refuses once the binding is revoked', async () => {
    emulator.state.iam.grant({
      serviceAccount: sa('nogrant'),
      member: member(CALLER),
      role: TOKEN_CREATOR_ROLE,
    });
    await impersonate(sa('nogrant')).getAccessToken();
    emulator.state.iam.revoke(sa('nogrant'), member(CALLER));
    const { status } = await refusal(impersonate(sa('nogrant')).getAccessToken());
    expect(status).toBe(403);
  });

  const DENIED = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).";
  it.each<[string, () => Impersonated, number, string, string | undefined]>([
    [
      'a target the caller holds no role on',
      () => impersonate(sa('nogrant')),
      403,
      'PERMISSION_DENIED',
      DENIED,
    ],
    [
      'a target that does not exist (projects/- hides existence)',
      () => impersonate(sa('missing')),
      403,
      'PERMISSION_DENIED',
      DENIED,
    ],
    [
      'a target the caller may only get ID tokens for',
      () => impersonate(sa('idonly')),
      403,
      'PERMISSION_DENIED',
      DENIED,
    ],
    [
      'a chained target without the delegate',
      () => impersonate(sa('chained')),
      403,
      'PERMISSION_DENIED',
      DENIED,
    ],
    [
      'a delegate the caller holds no role on',
      () => impersonate(sa('target'), { delegates: [`projects/-/serviceAccounts/${sa('nogrant')}`] }),
      403,
      'PERMISSION_DENIED',
      DENIED,
    ],
    [
      'a delegate named with a project id instead of -',
      () =>
        impersonate(sa('chained'), { delegates: [`projects/tvs-local/serviceAccounts/${sa('delegate')}`] }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'a lifetime above 1 h without the org policy',
      () => impersonate(sa('target'), { lifetime: 3601 }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'a lifetime above 12 h even with the org policy',
      () => impersonate(sa('extended'), { lifetime: 43_201 }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'an empty scope list',
      () => impersonate(sa('target'), { scopes: [] }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
  ])('refuses %s', async (_name, client, status, grpcStatus, message) => {
    const refused = await refusal(client().getAccessToken());
    expect(refused.status).toBe(status);
    expect(refused.error).toMatchObject({ code: status, status: grpcStatus });
    if (message) {
      expect(refused.error.message).toBe(message);
      expect(refused.error.details).toEqual([
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'IAM_PERMISSION_DENIED',
          domain: 'iam.googleapis.com',
          metadata: { permission: 'iam.serviceAccounts.getAccessToken' },
        },
      ]);
    }
  });
});

describe('generateIdToken', () => {
  it.each([true, false])(
    'signs a Google ID token for the target (includeEmail: %s)',
    async (includeEmail) => {
      const idToken = await impersonate(sa('target')).fetchIdToken('https://example.com', { includeEmail });
      const { payload, protectedHeader } = await jwtVerify(
        idToken,
        createRemoteJWKSet(new URL(emulator.jwksUrl)),
        { issuer: 'https://accounts.google.com', audience: 'https://example.com' },
      );
      expect(protectedHeader.alg).toBe('RS256');
      expect(payload.sub).toBe(emulator.state.serviceAccounts.get(sa('target'))!.uniqueId);
      expect(payload.email).toBe(includeEmail ? sa('target') : undefined);
      expect(emulator.faults.count('iamcredentials.generateIdToken')).toBe(1);
    },
  );

  it('needs only iam.serviceAccounts.getOpenIdToken', async () => {
    const idToken = await impersonate(sa('idonly')).fetchIdToken('https://example.com');
    expect(decodeJwt(idToken).email).toBe(sa('idonly'));
  });

  it('refuses without the permission, naming getOpenIdToken', async () => {
    const refused = await refusal(impersonate(sa('nogrant')).fetchIdToken('https://example.com'));
    expect(refused.status).toBe(403);
    expect(refused.error.message).toBe(
      "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource (or it may not exist).",
    );
  });
});

describe('requests a client library never sends', () => {
  const url = (target: string, method = 'generateAccessToken', project = '-') =>
    `${emulator.httpUrl}/v1/projects/${project}/serviceAccounts/${target}:${method}`;
  const callerToken = (scopes: string[] = [CP], nowMs?: number) =>
    emulator.state.tokens.issue({ email: CALLER, scopes, issuedBy: 'test', nowMs }).value;

  it.each<
    [
      string,
      () => { url: string; auth?: string; body?: string; method?: string },
      number,
      string,
      string | undefined,
    ]
  >([
    [
      'no Authorization header',
      () => ({ url: url(sa('target')) }),
      401,
      'UNAUTHENTICATED',
      'CREDENTIALS_MISSING',
    ],
    [
      'a bearer the emulator never issued',
      () => ({ url: url(sa('target')), auth: 'ya29.forged' }),
      401,
      'UNAUTHENTICATED',
      'ACCESS_TOKEN_TYPE_UNSUPPORTED',
    ],
    [
      'an expired access token',
      () => ({ url: url(sa('target')), auth: callerToken([CP], Date.now() - 7200_000) }),
      401,
      'UNAUTHENTICATED',
      'ACCESS_TOKEN_EXPIRED',
    ],
    [
      'a token without the cloud-platform scope',
      () => ({
        url: url(sa('target')),
        auth: callerToken(['https://www.googleapis.com/auth/userinfo.email']),
      }),
      403,
      'PERMISSION_DENIED',
      'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
    ],
    [
      'a project id instead of -',
      () => ({ url: url(sa('target'), 'generateAccessToken', 'tvs-local') }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'an unknown field',
      () => ({ url: url(sa('target')), body: JSON.stringify({ scope: [CP], extra: 1 }) }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'a lifetime that is not a Duration',
      () => ({ url: url(sa('target')), body: JSON.stringify({ scope: [CP], lifetime: '1h' }) }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'a negative lifetime',
      () => ({ url: url(sa('target')), body: JSON.stringify({ scope: [CP], lifetime: '-5s' }) }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'malformed JSON',
      () => ({ url: url(sa('target')), body: '{"scope": [' }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    [
      'an ID token without an audience',
      () => ({ url: url(sa('target'), 'generateIdToken'), body: JSON.stringify({ includeEmail: true }) }),
      400,
      'INVALID_ARGUMENT',
      undefined,
    ],
    ['a GET', () => ({ url: url(sa('target')), method: 'GET' }), 404, 'NOT_FOUND', undefined],
  ])('answers %s in Google’s error model', async (_name, make, status, grpcStatus, reason) => {
    const {
      url: target,
      auth = callerToken(),
      body = JSON.stringify({ scope: [CP] }),
      method = 'POST',
    } = make();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (_name !== 'no Authorization header') headers.authorization = `Bearer ${auth}`;
    const res = await fetch(target, { method, headers, ...(method === 'GET' ? {} : { body }) });
    const json = await res.json();
    expect(res.status).toBe(status);
    expect(json.error).toMatchObject({ code: status, status: grpcStatus });
    if (reason)
      expect(json.error.details[0]).toMatchObject({
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason,
      });
    if (status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('treats lifetime "0s" as unset (one hour), as proto3 does', async () => {
    const res = await fetch(url(sa('target')), {
      method: 'POST',
      headers: { authorization: `Bearer ${callerToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: [CP], lifetime: '0s' }),
    });
    const json = await res.json();
    expect(res.status).toBe(200);
    expect(json.expireTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const record = emulator.state.tokens.lookup(json.accessToken)!;
    expect(record.expiresAtMs - record.issuedAtMs).toBe(3600_000);
  });

  it('accepts the target by its numeric unique id, and answers injected faults', async () => {
    const uniqueId = emulator.state.serviceAccounts.get(sa('target'))!.uniqueId;
    emulator.faults.inject({ endpoint: 'iamcredentials.generateAccessToken', times: 1, status: 503 });
    const init = {
      method: 'POST',
      headers: { authorization: `Bearer ${callerToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: [CP] }),
    };
    const faulted = await fetch(url(uniqueId), init);
    expect(faulted.status).toBe(503);
    expect((await faulted.json()).error.status).toBe('UNAVAILABLE');
    const ok = await fetch(url(uniqueId), init);
    expect(ok.status).toBe(200);
    expect(emulator.state.tokens.lookup((await ok.json()).accessToken)?.email).toBe(sa('target'));
    expect(emulator.faults.count('iamcredentials.generateAccessToken')).toBe(2);
  });
});
