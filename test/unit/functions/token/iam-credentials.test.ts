/**
 * The IAM Credentials-compatible routes decision by decision: status, body, headers, and the
 * request's one audit entry, over a real loopback socket with fakes of our own interfaces (caller
 * authentication, policy, minter, audit log) and an injected clock.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tokenFingerprint, type AuditContext, type AuditEntry } from '../../../../shared/audit-log.js';
import { UnauthenticatedError, UnavailableError } from '../../../../shared/errors.js';
import type { Minter, MintResult, TargetServiceAccount } from '../../../../shared/minting/minter.js';
import type { CallerIdentity } from '../../../../functions/token/auth/types.js';
import type { FunctionRequest, RequestContext } from '../../../../functions/token/http/request-context.js';
import {
  generateAccessToken,
  generateIdToken,
  rfc3339,
} from '../../../../functions/token/iam-credentials.js';
import { dummyClientSecretHash } from '../../../../functions/token/oauth/client-secret-hash.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import { compileDenyList } from '../../../../functions/token/policy/deny-list.js';
import type {
  CompiledPolicy,
  Decision,
  PolicyCaller,
  PolicyRequest,
} from '../../../../functions/token/policy/compile-policy.js';
import type { TokenServices } from '../../../../functions/token/token-services.js';

const NOW = 1_800_000_000_000;
const CTX: RequestContext = { requestId: 'req-1', trace: 'projects/p/traces/0123', startedAtMs: NOW - 7 };
const SA = 'gemini@p.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const BEARER = 'Bearer eyJ.caller-token-never-logged.sig';
const CALLER: CallerIdentity = {
  kind: 'id_token',
  issuer: 'https://accounts.google.com',
  subject: '1234',
  email: 'workload@p.iam.gserviceaccount.com',
  emailVerified: true,
  expiresAtMs: NOW + 600_000,
  claims: { email: 'workload@p.iam.gserviceaccount.com' },
};
const AUDIT_CALLER = {
  kind: 'id_token',
  issuer: CALLER.issuer,
  subject: CALLER.subject,
  email: CALLER.email,
};
const MINTED: MintResult = {
  token: 'ya29.minted-token-never-logged',
  expiresAtMs: NOW + 3_599_500,
  cacheHit: true,
};

interface Fakes {
  authenticate: (authorization: string | undefined) => Promise<CallerIdentity>;
  decide: (caller: PolicyCaller, request: PolicyRequest) => Decision;
  policyCalls: Array<{ caller: PolicyCaller; request: PolicyRequest }>;
  mint: () => Promise<MintResult>;
  mintCalls: unknown[][];
  audit: Array<{ entry: AuditEntry; context: AuditContext | undefined }>;
}

function freshFakes(): Fakes {
  return {
    authenticate: () => Promise.resolve(CALLER),
    decide: (_caller, req) => ({
      allowed: true,
      rule: 'workload',
      serviceAccount: { email: req.serviceAccount, backend: 'keyless' },
    }),
    policyCalls: [],
    mint: () => Promise.resolve(MINTED),
    mintCalls: [],
    audit: [],
  };
}

function servicesOf(f: Fakes): TokenServices {
  const policy: CompiledPolicy = {
    version: 1,
    ruleCount: 1,
    deny: compileDenyList(undefined),
    serviceAccount: () => undefined,
    clientSecretHash: () => undefined,
    dummyClientSecretHash: dummyClientSecretHash([]),
    authorize: (caller, req) => {
      f.policyCalls.push({ caller, request: req });
      return f.decide(caller, req);
    },
  };
  const minter = {
    accessToken: (sa: TargetServiceAccount, scopes: readonly string[], lifetimeSeconds?: number) => {
      f.mintCalls.push(['accessToken', sa, scopes, lifetimeSeconds]);
      return f.mint();
    },
    idToken: (sa: TargetServiceAccount, audience: string, includeEmail: boolean) => {
      f.mintCalls.push(['idToken', sa, audience, includeEmail]);
      return f.mint();
    },
    cachedAccessToken: () => undefined,
    cachedIdToken: () => undefined,
  } as unknown as Minter;
  return {
    authenticate: (authorization) => f.authenticate(authorization),
    verifySubjectToken: () => Promise.reject(new Error('not used by the IAM routes')),
    policy: {
      current: () => policy,
      currentForRequest: () => Promise.resolve(policy),
      currentIfFresh: () => policy,
      reload: () => Promise.resolve(policy),
      refresh: () => Promise.resolve(policy),
    },
    acceptedAudiences: acceptedAudiences(['https://tvs.example.com']),
    clientAuth: { authenticate: () => Promise.reject(new Error('not used by the IAM routes')) },
    minter,
    audit: {
      write: (entry, context) => void f.audit.push({ entry, context }),
      flush: () => Promise.resolve(),
    },
    now: () => NOW,
  };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  text: string;
}

let fakes: Fakes;
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req: FunctionRequest, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      req.rawBody = Buffer.concat(chunks);
      const [action, serviceAccount] = (req.url ?? '').slice(1).split('/');
      const handle = action === 'generateAccessToken' ? generateAccessToken : generateIdToken;
      void handle(servicesOf(fakes), req, res, CTX, decodeURIComponent(serviceAccount));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  fakes = freshFakes();
});

function call(
  action: 'generateAccessToken' | 'generateIdToken',
  body: string | object,
  headers: Record<string, string> = { 'content-type': 'application/json', authorization: BEARER },
  serviceAccount = SA,
): Promise<Reply> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/${action}/${encodeURIComponent(serviceAccount)}`,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(raw) as Record<string, unknown>,
            text: raw,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** The one audit entry the request wrote (fails if there is not exactly one), and no secret anywhere. */
function onlyAudit(reply: Reply): AuditEntry {
  expect(fakes.audit).toHaveLength(1);
  expect(fakes.audit[0].context).toEqual({ trace: CTX.trace });
  expect(JSON.stringify(fakes.audit)).not.toContain(BEARER.slice(7));
  expect(JSON.stringify(fakes.audit)).not.toContain(MINTED.token);
  expect(reply.text).not.toContain(BEARER.slice(7));
  return fakes.audit[0].entry;
}

/** Google's error model with the given status and reason. */
function expectGoogleError(reply: Reply, status: number, code: string, reason: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers['cache-control']).toBe('no-store');
  expect(reply.body).toMatchObject({
    error: { code: status, status: code, details: [{ reason }] },
  });
}

describe('generateAccessToken', () => {
  it('answers 200 { accessToken, expireTime } and writes one granted audit entry with the target', async () => {
    const reply = await call('generateAccessToken', { scope: [SCOPE] });
    expect(reply.status).toBe(200);
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.body).toEqual({ accessToken: MINTED.token, expireTime: rfc3339(MINTED.expiresAtMs) });
    expect(fakes.policyCalls).toEqual([
      {
        caller: CALLER,
        request: { kind: 'access_token', serviceAccount: SA, scopes: [SCOPE], lifetimeSeconds: 3600 },
      },
    ]);
    expect(fakes.mintCalls).toEqual([['accessToken', { email: SA, backend: 'keyless' }, [SCOPE], 3600]]);
    expect(onlyAudit(reply)).toEqual({
      decision: 'granted',
      reason: 'GRANTED',
      action: 'generateAccessToken',
      httpStatus: 200,
      caller: AUDIT_CALLER,
      target: { serviceAccount: SA, scopes: [SCOPE], lifetimeSeconds: 3600, backend: 'keyless' },
      rule: 'workload',
      cacheHit: true,
      tokenFingerprint: tokenFingerprint(MINTED.token),
      requestId: CTX.requestId,
      latencyMs: 7,
    });
  });

  it('asks for the requested lifetime, and the service account named in any case', async () => {
    const reply = await call(
      'generateAccessToken',
      { scope: [SCOPE], lifetime: '600s' },
      undefined,
      SA.toUpperCase(),
    );
    expect(reply.status).toBe(200);
    expect(fakes.policyCalls[0].request).toEqual({
      kind: 'access_token',
      serviceAccount: SA,
      scopes: [SCOPE],
      lifetimeSeconds: 600,
    });
    expect(onlyAudit(reply).target).toEqual({
      serviceAccount: SA,
      scopes: [SCOPE],
      lifetimeSeconds: 600,
      backend: 'keyless',
    });
  });
});

describe('generateIdToken', () => {
  it('answers 200 { token } and writes one granted audit entry with the audience', async () => {
    const audience = 'https://api.example.com';
    const reply = await call('generateIdToken', { audience, includeEmail: true });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ token: MINTED.token });
    expect(fakes.policyCalls[0].request).toEqual({
      kind: 'id_token',
      serviceAccount: SA,
      audience,
      includeEmail: true,
    });
    expect(fakes.mintCalls).toEqual([['idToken', { email: SA, backend: 'keyless' }, audience, true]]);
    expect(onlyAudit(reply)).toMatchObject({
      decision: 'granted',
      action: 'generateIdToken',
      httpStatus: 200,
      caller: AUDIT_CALLER,
      target: { serviceAccount: SA, audience, backend: 'keyless' },
      tokenFingerprint: tokenFingerprint(MINTED.token),
    });
  });
});

describe('refusals: one audit entry each, with the status and reason sent', () => {
  it('refuses an unauthenticated caller before reading the body (401, no caller, no target)', async () => {
    fakes.authenticate = () =>
      Promise.reject(
        new UnauthenticatedError('The caller token is invalid.', { reason: 'CALLER_TOKEN_INVALID' }),
      );
    const reply = await call('generateAccessToken', 'not json', { 'content-type': 'text/plain' });
    expectGoogleError(reply, 401, 'UNAUTHENTICATED', 'CALLER_TOKEN_INVALID');
    expect(reply.headers['www-authenticate']).toBe('Bearer');
    const entry = onlyAudit(reply);
    expect(entry).toMatchObject({
      decision: 'denied',
      reason: 'CALLER_TOKEN_INVALID',
      action: 'generateAccessToken',
      httpStatus: 401,
    });
    expect(entry.caller).toBeUndefined();
    expect(entry.target).toBeUndefined();
    expect(fakes.policyCalls).toEqual([]);
  });

  it.each([
    ['a body of another media type', 'text/plain', '{"scope":[]}', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['an unknown field', 'application/json', '{"scope":["x"],"extra":1}', 400, 'INVALID_REQUEST_FIELD'],
  ])(
    'refuses %s with its own status, auditing the caller but no target',
    async (_n, type, body, status, reason) => {
      const reply = await call('generateAccessToken', body, { 'content-type': type, authorization: BEARER });
      expectGoogleError(reply, status, 'INVALID_ARGUMENT', reason);
      const entry = onlyAudit(reply);
      expect(entry).toMatchObject({ decision: 'denied', reason, httpStatus: status, caller: AUDIT_CALLER });
      expect(entry.target).toBeUndefined();
      expect(fakes.policyCalls).toEqual([]);
    },
  );

  it('refuses a malformed service account email with 400 before reading the body', async () => {
    const reply = await call('generateIdToken', 'not json', undefined, 'not-an-email');
    expectGoogleError(reply, 400, 'INVALID_ARGUMENT', 'INVALID_SERVICE_ACCOUNT');
    expect(onlyAudit(reply)).toMatchObject({
      decision: 'denied',
      action: 'generateIdToken',
      httpStatus: 400,
    });
  });

  it('answers a policy denial with 403, auditing the target and the closest rule as detail', async () => {
    fakes.decide = () => ({ allowed: false, reason: 'SCOPE_NOT_ALLOWED', rule: 'workload' });
    const reply = await call('generateAccessToken', { scope: [SCOPE] });
    expectGoogleError(reply, 403, 'PERMISSION_DENIED', 'SCOPE_NOT_ALLOWED');
    expect(onlyAudit(reply)).toEqual({
      decision: 'denied',
      reason: 'SCOPE_NOT_ALLOWED',
      action: 'generateAccessToken',
      httpStatus: 403,
      caller: AUDIT_CALLER,
      target: { serviceAccount: SA, scopes: [SCOPE], lifetimeSeconds: 3600 },
      detail: 'closest rule: workload',
      requestId: CTX.requestId,
      latencyMs: 7,
    });
    expect(fakes.mintCalls).toEqual([]);
  });

  it('answers an upstream outage with 503 and Retry-After, audited as an error', async () => {
    fakes.mint = () =>
      Promise.reject(
        new UnavailableError('Google is unavailable.', {
          reason: 'UPSTREAM_UNAVAILABLE',
          retryAfterSeconds: 1.2,
          detail: 'token endpoint 503',
        }),
      );
    const reply = await call('generateIdToken', { audience: 'https://api.example.com' });
    expectGoogleError(reply, 503, 'UNAVAILABLE', 'UPSTREAM_UNAVAILABLE');
    expect(reply.headers['retry-after']).toBe('2');
    expect(onlyAudit(reply)).toMatchObject({
      decision: 'error',
      reason: 'UPSTREAM_UNAVAILABLE',
      httpStatus: 503,
      detail: 'token endpoint 503',
    });
  });

  it('answers an unexpected failure with a generic 500, the cause only in the audit detail', async () => {
    fakes.mint = () => Promise.reject(new TypeError('boom'));
    const reply = await call('generateAccessToken', { scope: [SCOPE] });
    expectGoogleError(reply, 500, 'INTERNAL', 'INTERNAL');
    expect(reply.text).not.toContain('boom');
    expect(onlyAudit(reply)).toMatchObject({ decision: 'error', httpStatus: 500, detail: 'TypeError: boom' });
  });
});

describe('rfc3339', () => {
  it('renders UTC without fractional seconds, rounding down', () => {
    expect(rfc3339(NOW + 999)).toBe('2027-01-15T08:00:00Z');
  });

  it('answers each instant correctly when they alternate (the remembered second never leaks)', () => {
    for (const ms of [NOW, NOW + 1_000, NOW + 500, NOW + 3_600_000, NOW, NOW - 1, NOW + 999])
      expect(rfc3339(ms)).toBe(new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z'));
  });
});
