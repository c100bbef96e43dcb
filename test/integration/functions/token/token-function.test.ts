/**
 * The token function end to end: functions-framework's own server, the real google-auth-library
 * clients, the emulator as Google, over real sockets.
 */
import { GoogleAuth, Impersonated } from 'google-auth-library';
import { createRemoteJWKSet, jwtVerify, SignJWT, generateKeyPair, exportJWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';

let stack: LocalStack;
let restoreEnv: () => void;
let audit: Capture;
let ops: Capture;

beforeAll(async () => {
  audit = createCapture();
  ops = createCapture();
  stack = await startLocalStack({
    auditTransport: audit.stream,
    opsLogWrite: ops.write,
    env: { TVS_UPSTREAM_DEADLINE_MS: '3000' },
  });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
  // Warm the lazily loaded Secret Manager client so the short deadline measures upstream faults only.
  await stack.token.keys.get('projects/tvs-local/secrets/gemini-caller-key/versions/current', GEMINI);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
});

beforeEach(() => {
  stack.emulator.faults.reset();
  stack.token.minter.cache.clear();
});

/** An ID token for the metadata identity, with this service as audience (what a Cloud Run workload sends). */
async function workloadIdToken(audience = stack.tokenUrl): Promise<string> {
  const client = await new GoogleAuth().getIdTokenClient(audience);
  const headers = await client.getRequestHeaders();
  return (headers.get('authorization') ?? '').replace(/^Bearer /, '');
}

async function post(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${stack.tokenUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json().catch(() => undefined), headers: res.headers };
}

const accessPath = (sa: string) => `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`;
const idPath = (sa: string) => `/v1/projects/-/serviceAccounts/${sa}:generateIdToken`;

async function auditEntriesFlushed(): Promise<any[]> {
  await stack.token.flushAudit();
  return audit.entries();
}

describe('token function with stock google-auth-library', () => {
  it('mints an access token for an ID-token caller, and tokeninfo confirms SA and scopes', async () => {
    const client = await new GoogleAuth().getIdTokenClient(stack.tokenUrl);
    const res = await client.request<{ accessToken: string; expireTime: string }>({
      url: `${stack.tokenUrl}${accessPath(GEMINI)}`,
      method: 'POST',
      data: { scope: [CP], lifetime: '3600s' },
    });
    expect(res.status).toBe(200);
    expect(res.data.expireTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(res.data.expireTime)).toBeGreaterThan(Date.now() + 3500_000);
    const info = await (
      await fetch(`${stack.emulator.tokeninfoUrl}?access_token=${res.data.accessToken}`)
    ).json();
    expect(info.scope).toBe(CP);
    expect(info.azp).toBe(stack.emulator.state.serviceAccounts.get(GEMINI)!.uniqueId);
    expect(stack.emulator.state.tokens.lookup(res.data.accessToken)).toMatchObject({
      email: GEMINI,
      scopes: [CP],
    });
  });

  it('works as the endpoint of the stock Impersonated client (caller sends a Google access token)', async () => {
    const sourceClient = await new GoogleAuth().getClient();
    const impersonated = new Impersonated({
      sourceClient: sourceClient,
      targetPrincipal: GEMINI,
      targetScopes: [CP],
      lifetime: 3600,
      delegates: [],
      endpoint: stack.tokenUrl,
    });
    const { token } = await impersonated.getAccessToken();
    expect(stack.emulator.state.tokens.lookup(token!)).toMatchObject({ email: GEMINI, scopes: [CP] });

    const idToken = await impersonated.fetchIdToken('https://example.com');
    const { payload } = await jwtVerify(idToken, createRemoteJWKSet(new URL(stack.emulator.jwksUrl)), {
      issuer: 'https://accounts.google.com',
      audience: 'https://example.com',
    });
    expect(payload.email).toBe(GEMINI);
  });

  it('serves a cached token without calling the token endpoint or Secret Manager again', async () => {
    const auth = `Bearer ${await workloadIdToken()}`;
    const first = await post(accessPath(GEMINI), { scope: [CP] }, { authorization: auth });
    const second = await post(accessPath(GEMINI), { scope: [CP, CP] }, { authorization: auth });
    expect(second.json.accessToken).toBe(first.json.accessToken);
    expect(stack.emulator.faults.count('oauth.token')).toBe(1);
    const entries = (await auditEntriesFlushed()).filter((e) => e.tokenFingerprint && e.requestId);
    expect(entries.at(-1)).toMatchObject({ decision: 'granted', cacheHit: true });
  });
});

describe('coalescing', () => {
  it('turns 1,000 concurrent requests for one cold (SA, scopes) into one exchange and one Secret Manager read', async () => {
    const fresh = await startLocalStack({
      emulator: stack.emulator,
      auditTransport: createCapture().stream,
      opsLogWrite: () => {},
    });
    try {
      const auth = `Bearer ${await workloadIdToken(fresh.tokenUrl)}`;
      stack.emulator.faults.reset();
      const results = await Promise.all(
        Array.from({ length: 1000 }, () =>
          fetch(`${fresh.tokenUrl}${accessPath(GEMINI)}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: auth },
            body: JSON.stringify({ scope: [CP] }),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { accessToken: string } })),
        ),
      );
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(new Set(results.map((r) => r.body.accessToken)).size).toBe(1);
      expect(stack.emulator.faults.count('oauth.token')).toBe(1);
      expect(stack.emulator.faults.count('secretmanager.AccessSecretVersion')).toBe(1);
    } finally {
      await fresh.stop();
    }
  });
});

describe('caller authentication failures are 401 with one audit entry each', () => {
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  beforeAll(async () => {
    rsa = await generateKeyPair('RS256', { extractable: true });
  });

  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

  it.each<[string, () => Promise<string | undefined>]>([
    ['no credential', () => Promise.resolve(undefined)],
    ['a garbage bearer', () => Promise.resolve('Bearer not-a-token')],
    [
      'a token from an unknown signer',
      async () =>
        `Bearer ${await new SignJWT({ email: WORKLOAD, email_verified: true }).setProtectedHeader({ alg: 'RS256', kid: 'x' }).setIssuer('https://accounts.google.com').setAudience(stack.tokenUrl).setSubject('1').setIssuedAt().setExpirationTime('1h').sign(rsa.privateKey)}`,
    ],
    [
      'an alg:none token',
      () =>
        Promise.resolve(
          `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: 'https://accounts.google.com', aud: stack.tokenUrl, sub: '1', email: WORKLOAD, email_verified: true, iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 })}.`,
        ),
    ],
    [
      'an HS256 token keyed with the issuer public key',
      async () => {
        const jwks = await (await fetch(stack.emulator.jwksUrl)).json();
        const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
        return `Bearer ${await new SignJWT({ email: WORKLOAD, email_verified: true }).setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0].kid }).setIssuer('https://accounts.google.com').setAudience(stack.tokenUrl).setSubject('1').setIssuedAt().setExpirationTime('1h').sign(secret)}`;
      },
    ],
    [
      'a token for another audience',
      async () => `Bearer ${await workloadIdToken('https://other-service.example.com')}`,
    ],
    [
      'a token with an embedded jwk header',
      async () => {
        const jwk = await exportJWK(rsa.publicKey);
        return `Bearer ${await new SignJWT({ email: WORKLOAD, email_verified: true }).setProtectedHeader({ alg: 'RS256', jwk }).setIssuer('https://accounts.google.com').setAudience(stack.tokenUrl).setSubject('1').setIssuedAt().setExpirationTime('1h').sign(rsa.privateKey)}`;
      },
    ],
  ])('%s', async (_name, makeAuth) => {
    const authorization = await makeAuth();
    const before = (await auditEntriesFlushed()).length;
    const res = await post(accessPath(GEMINI), { scope: [CP] }, authorization ? { authorization } : {});
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
    expect(res.json.error.details[0]['@type']).toBe('type.googleapis.com/google.rpc.ErrorInfo');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    const after = await auditEntriesFlushed();
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)).toMatchObject({
      decision: 'denied',
      httpStatus: 401,
      action: 'generateAccessToken',
    });
    expect(stack.emulator.faults.count('oauth.token')).toBe(0);
  });

  it.each([
    ['expired beyond the 60 s skew', -3600_000 - 61_000],
    ['issued in the future beyond the skew', 120_000],
  ])('refuses a Google-signed caller token %s', async (_name, offsetMs) => {
    const subject = stack.emulator.state.serviceAccounts.get(WORKLOAD)!;
    const token = await stack.emulator.state.signingKeys.signIdToken({
      audience: stack.tokenUrl,
      subject,
      nowMs: Date.now() + offsetMs,
    });
    const res = await post(accessPath(GEMINI), { scope: [CP] }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(401);
    expect(res.json.error.status).toBe('UNAUTHENTICATED');
  });

  it('accepts the same Google-signed token when it is fresh (the refusals above are about time)', async () => {
    const subject = stack.emulator.state.serviceAccounts.get(WORKLOAD)!;
    const token = await stack.emulator.state.signingKeys.signIdToken({ audience: stack.tokenUrl, subject });
    const res = await post(accessPath(GEMINI), { scope: [CP] }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
  });
});

describe('policy denials are 403 with one audit entry each', () => {
  it.each<[string, string, unknown, string]>([
    [
      'a service account outside the policy',
      'other@tvs-local.iam.gserviceaccount.com',
      { scope: [CP] },
      'SERVICE_ACCOUNT_NOT_ALLOWED',
    ],
    [
      'a scope outside the policy',
      GEMINI,
      { scope: [CP, 'https://www.googleapis.com/auth/gmail.send'] },
      'SCOPE_NOT_ALLOWED',
    ],
  ])('%s', async (_name, sa, body, reason) => {
    const auth = `Bearer ${await workloadIdToken()}`;
    const before = (await auditEntriesFlushed()).length;
    const res = await post(accessPath(sa), body, { authorization: auth });
    expect(res.status).toBe(403);
    expect(res.json.error).toMatchObject({ code: 403, status: 'PERMISSION_DENIED', details: [{ reason }] });
    const after = await auditEntriesFlushed();
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)).toMatchObject({ decision: 'denied', reason, httpStatus: 403 });
  });

  it('denies an ID-token audience outside the policy', async () => {
    const res = await post(
      idPath(GEMINI),
      { audience: 'https://evil.example.com' },
      { authorization: `Bearer ${await workloadIdToken()}` },
    );
    expect(res.status).toBe(403);
    expect(res.json.error.details[0].reason).toBe('AUDIENCE_NOT_ALLOWED');
  });
});

describe('bad requests', () => {
  it.each<[string, string, string | object, Record<string, string>, number, string]>([
    ['malformed JSON', accessPath(GEMINI), '{"scope": [', {}, 400, 'INVALID_ARGUMENT'],
    ['an unknown field', accessPath(GEMINI), { scope: [CP], extra: 1 }, {}, 400, 'INVALID_ARGUMENT'],
    ['a lifetime of 0s', accessPath(GEMINI), { scope: [CP], lifetime: '0s' }, {}, 400, 'INVALID_ARGUMENT'],
    [
      'a negative lifetime',
      accessPath(GEMINI),
      { scope: [CP], lifetime: '-5s' },
      {},
      400,
      'INVALID_ARGUMENT',
    ],
    ['a huge lifetime', accessPath(GEMINI), { scope: [CP], lifetime: '99999s' }, {}, 400, 'INVALID_ARGUMENT'],
    ['a scope with a space', accessPath(GEMINI), { scope: [`${CP} x`] }, {}, 400, 'INVALID_ARGUMENT'],
    [
      'delegates',
      accessPath(GEMINI),
      { scope: [CP], delegates: ['projects/-/serviceAccounts/x@y.com'] },
      {},
      400,
      'INVALID_ARGUMENT',
    ],
    [
      'a text/plain body',
      accessPath(GEMINI),
      'scope=x',
      { 'content-type': 'text/plain' },
      415,
      'INVALID_ARGUMENT',
    ],
    [
      'a body over 64 KiB',
      accessPath(GEMINI),
      { scope: [CP], pad: 'x'.repeat(70_000) },
      {},
      413,
      'INVALID_ARGUMENT',
    ],
  ])('rejects %s in Google’s error model', async (_name, path, body, headers, status, grpcStatus) => {
    const auth = `Bearer ${await workloadIdToken()}`;
    const res = await post(path, body, { authorization: auth, ...headers });
    expect(res.status).toBe(status);
    expect(res.json.error).toMatchObject({ code: status, status: grpcStatus });
    expect(stack.emulator.faults.count('oauth.token')).toBe(0);
  });

  it('answers unknown paths with 404 and wrong methods with 405', async () => {
    const notFound = await fetch(`${stack.tokenUrl}/v2/whatever`);
    expect(notFound.status).toBe(404);
    expect((await notFound.json()).error.status).toBe('NOT_FOUND');
    const wrongMethod = await fetch(`${stack.tokenUrl}${accessPath(GEMINI)}`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });
});

describe('upstream faults', () => {
  it('retries two 503s from the token endpoint and then serves the token', async () => {
    const auth = `Bearer ${await workloadIdToken()}`;
    stack.emulator.faults.inject({ endpoint: 'oauth.token', times: 2, status: 503, retryAfterSeconds: 0 });
    const res = await post(accessPath(GEMINI), { scope: [CP] }, { authorization: auth });
    expect(res.status).toBe(200);
    expect(stack.emulator.faults.count('oauth.token')).toBe(3);
  });

  it('answers 503 UNAVAILABLE within the deadline when the token endpoint stays down', async () => {
    const auth = `Bearer ${await workloadIdToken()}`;
    stack.emulator.faults.inject({ endpoint: 'oauth.token', times: Infinity, status: 503 });
    const started = Date.now();
    const res = await post(accessPath(GEMINI), { scope: [CP] }, { authorization: auth });
    const elapsed = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.json.error.status).toBe('UNAVAILABLE');
    expect(elapsed).toBeLessThan(3000 + 1500); // the configured 3 s deadline plus scheduling slack
    expect(stack.emulator.faults.count('oauth.token')).toBeGreaterThanOrEqual(2);
    expect(stack.emulator.faults.count('oauth.token')).toBeLessThanOrEqual(4);
  });

  it('does not retry a 400 from the token endpoint', async () => {
    const auth = `Bearer ${await workloadIdToken()}`;
    stack.emulator.faults.inject({ endpoint: 'oauth.token', times: 1, status: 400 });
    const res = await post(accessPath(GEMINI), { scope: [CP] }, { authorization: auth });
    expect(res.status).toBe(500);
    expect(stack.emulator.faults.count('oauth.token')).toBe(1);
  });
});

describe('secrets stay out of logs', () => {
  it('never writes a token, private key or client secret to the audit or operational log', async () => {
    const auth = await workloadIdToken();
    const res = await post(accessPath(GEMINI), { scope: [CP] }, { authorization: `Bearer ${auth}` });
    const idRes = await post(
      idPath(GEMINI),
      { audience: 'https://example.com' },
      { authorization: `Bearer ${auth}` },
    );
    await stack.token.flushAudit();
    const logs = audit.text() + ops.text();
    const keyFile = JSON.parse(
      stack.emulator.state.secrets
        .accessVersion('projects/tvs-local/secrets/gemini-caller-key/versions/latest')
        .data.toString('utf8'),
    );
    const privateKeyBody = keyFile.private_key.split('\n')[1];
    for (const secret of [res.json.accessToken, idRes.json.token, auth, privateKeyBody]) {
      expect(secret.length).toBeGreaterThan(20);
      expect(logs).not.toContain(secret);
    }
    expect(logs).toContain('sha256:');
  });
});
