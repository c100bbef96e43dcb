/**
 * Drives `handleOAuthToken` over a real loopback socket with fakes of our own interfaces only
 * (client authenticator, subject-token verifier, policy, minter, audit log) and an injected clock.
 * The server reads the body into `req.rawBody` as functions-framework does; `bodyError` stands in
 * for what the body-parser guard sets when it refuses a body.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditContext, AuditEntry, AuditLog } from '../../../../../shared/audit-log.js';
import type { Minter, MintResult, TargetServiceAccount } from '../../../../../shared/minting/minter.js';
import type { CallerIdentity } from '../../../../../functions/token/auth/types.js';
import type { FunctionRequest, RequestContext } from '../../../../../functions/token/http/request-context.js';
import { handleOAuthToken } from '../../../../../functions/token/oauth-token.js';
import type { TokenServices } from '../../../../../functions/token/token-services.js';
import type {
  ClientAuthResult,
  ClientSecretStore,
} from '../../../../../functions/token/oauth/client-authenticator.js';
import { dummyClientSecretHash } from '../../../../../functions/token/oauth/client-secret-hash.js';
import { acceptedAudiences } from '../../../../../functions/token/policy/accepted-audiences.js';
import { compileDenyList, type DenyList } from '../../../../../functions/token/policy/deny-list.js';
import type {
  CompiledPolicy,
  Decision,
  PolicyCaller,
  PolicyRequest,
} from '../../../../../functions/token/policy/compile-policy.js';

export const NOW = 1_800_000_000_000;
export const STARTED_AT = NOW - 7;
export const CTX: RequestContext = {
  requestId: 'req-1',
  trace: 'projects/p/traces/0123',
  startedAtMs: STARTED_AT,
};

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  text: string;
}

/** The fakes of one test, reset by `reset()`; tests change their behaviour by assignment. */
export interface Fakes {
  clientAuthResult: ClientAuthResult;
  clientAuthCalls: Array<{ store: ClientSecretStore; clientId: string; secret: string }>;
  verifySubject: (token: string) => Promise<CallerIdentity>;
  subjectTokens: string[];
  decide: (caller: PolicyCaller, request: PolicyRequest) => Decision;
  policyCalls: Array<{ caller: PolicyCaller; request: PolicyRequest }>;
  mint: () => Promise<MintResult>;
  mintCalls: Array<{
    sa: TargetServiceAccount;
    scopes: readonly string[];
    lifetimeSeconds: number | undefined;
  }>;
  audit: Array<{ entry: AuditEntry; context: AuditContext | undefined }>;
  bodyError: string | undefined;
  /** Whether `deps.now` is set (false: the handler must fall back to Date.now). */
  injectClock: boolean;
  /** The policy's break-glass deny list (default: empty). */
  deny?: DenyList;
}

export const MINTED: MintResult = {
  token: 'ya29.minted-access-token',
  expiresAtMs: NOW + 3_599_500,
  cacheHit: true,
};

export function freshFakes(): Fakes {
  return {
    clientAuthResult: { ok: true, clientId: 'ci-runner' },
    clientAuthCalls: [],
    verifySubject: () =>
      Promise.resolve({
        kind: 'id_token',
        issuer: 'https://token.actions.example',
        subject: 'repo:o/r',
        email: 'ci@example.org',
        expiresAtMs: NOW + 600_000,
        claims: { repository: 'o/r' },
      }),
    subjectTokens: [],
    decide: (_caller, req) => ({
      allowed: true,
      rule: 'ci-rule',
      serviceAccount: { email: req.serviceAccount, backend: 'keyless' },
    }),
    policyCalls: [],
    mint: () => Promise.resolve(MINTED),
    mintCalls: [],
    audit: [],
    bodyError: undefined,
    injectClock: true,
  };
}

export function depsOf(f: Fakes): TokenServices {
  const policy: CompiledPolicy = {
    version: 1,
    ruleCount: 1,
    deny: f.deny ?? compileDenyList(undefined),
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
      f.mintCalls.push({ sa, scopes, lifetimeSeconds });
      return f.mint();
    },
    idToken: () => Promise.reject(new Error('not used by /v1/token')),
    cachedAccessToken: () => undefined,
    cachedIdToken: () => undefined,
  } as unknown as Minter;
  const audit: AuditLog = {
    write: (entry, context) => void f.audit.push({ entry, context }),
    flush: () => Promise.resolve(),
  };
  return {
    authenticate: () => Promise.reject(new Error('not used by /v1/token')),
    verifySubjectToken: (token) => {
      f.subjectTokens.push(token);
      return f.verifySubject(token);
    },
    policy: {
      current: () => policy,
      currentForRequest: () => Promise.resolve(policy),
      currentIfFresh: () => policy,
      reload: () => Promise.resolve(policy),
      refresh: () => Promise.resolve(policy),
    },
    acceptedAudiences: acceptedAudiences([]),
    clientAuth: {
      authenticate: (store, clientId, secret) => {
        f.clientAuthCalls.push({ store, clientId, secret });
        return Promise.resolve(f.clientAuthResult);
      },
    },
    minter,
    audit,
    ...(f.injectClock ? { now: () => NOW } : {}),
  };
}

/** A loopback server that hands each request to `handleOAuthToken` with the current fakes. */
export async function startServer(fakes: () => Fakes): Promise<{ server: Server; port: number }> {
  const server = createServer((req: FunctionRequest, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const f = fakes();
      req.rawBody = Buffer.concat(chunks);
      if (f.bodyError !== undefined) req.bodyError = f.bodyError;
      void handleOAuthToken(depsOf(f), req, res, CTX);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** POSTs `body` (a form string or pairs) to the server; form content type unless overridden. */
export function post(
  port: number,
  body: string | Array<[string, string]>,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const text = typeof body === 'string' ? body : new URLSearchParams(body).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
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

export const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
