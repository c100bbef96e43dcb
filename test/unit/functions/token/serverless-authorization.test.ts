/**
 * How each route uses the one credential-header reader when Cloud Run's X-Serverless-Authorization
 * comes: `POST /v1/token` over its harness (fakes of our own interfaces), and the routing handler
 * (the IAM-compatible routes) with a recording authenticator — which must only ever see
 * `Authorization` — and the audit boolean.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../../shared/audit-log.js';
import { createTokenHandler } from '../../../../functions/token/app.js';
import type { CallerIdentity } from '../../../../functions/token/auth/types.js';
import type { FunctionRequest } from '../../../../functions/token/http/request-context.js';
import { TOKEN_EXCHANGE_GRANT } from '../../../../functions/token/oauth-token.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import type { TokenServices } from '../../../../functions/token/token-services.js';
import { basic, freshFakes, post, startServer, type Fakes } from './support/oauth-harness.js';

const SA = 'builder@p.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const SECRET = 'S3cret-value-never-logged-0123456789';
const PLATFORM = 'eyJhbGciOiJSUzI1NiJ9.cGxhdGZvcm0.c2ln';
const CALLER_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.Y2FsbGVy.c2ln';

describe('POST /v1/token with X-Serverless-Authorization', () => {
  let fakes: Fakes;
  let server: Server;
  let port: number;
  beforeAll(async () => ({ server, port } = await startServer(() => fakes)));
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    fakes = freshFakes();
  });

  const clientForm = (extra: Array<[string, string]> = []): Array<[string, string]> => [
    ['grant_type', 'client_credentials'],
    ['service_account', SA],
    ['scope', SCOPE],
    ...extra,
  ];
  const exchangeForm = (subject: string): Array<[string, string]> => [
    ['grant_type', TOKEN_EXCHANGE_GRANT],
    ['subject_token_type', 'urn:ietf:params:oauth:token-type:jwt'],
    ['subject_token', subject],
    ['service_account', SA],
    ['scope', SCOPE],
  ];
  const noSecretAnywhere = (text: string) => {
    for (const s of [SECRET, PLATFORM, CALLER_TOKEN]) {
      expect(text).not.toContain(s);
      expect(JSON.stringify(fakes.audit)).not.toContain(s);
    }
  };

  it('authenticates the client from Authorization (Basic) beside the platform header', async () => {
    const reply = await post(port, clientForm(), {
      authorization: basic('ci-runner', SECRET),
      'x-serverless-authorization': `Bearer ${PLATFORM}`,
    });
    expect(reply.status, reply.text).toBe(200);
    expect(fakes.clientAuthCalls.map((c) => [c.clientId, c.secret])).toEqual([['ci-runner', SECRET]]);
    noSecretAnywhere(reply.text);
  });

  it.each([
    [
      'client_secret_basic',
      (): Record<string, string> => ({ authorization: basic('ci-runner', PLATFORM) }),
      [],
    ],
    [
      'client_secret_post',
      (): Record<string, string> => ({}),
      [
        ['client_id', 'ci-runner'],
        ['client_secret', PLATFORM],
      ],
    ],
  ] as Array<[string, () => Record<string, string>, Array<[string, string]>]>)(
    'refuses a %s secret that is the platform token with 401 invalid_client, checking no secret',
    async (_name, headers, extra) => {
      const reply = await post(port, clientForm(extra), {
        ...headers(),
        'x-serverless-authorization': `Bearer ${PLATFORM}`,
      });
      expect(reply.status).toBe(401);
      expect(reply.body.error).toBe('invalid_client');
      expect(reply.headers['www-authenticate']).toBe('Basic realm="token-vending", charset="UTF-8"');
      expect(fakes.clientAuthCalls).toEqual([]);
      expect(fakes.audit.map((a) => a.entry.reason)).toEqual([
        'SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL',
      ]);
      noSecretAnywhere(reply.text);
    },
  );

  it('exchanges the subject token beside a different platform token; refuses the same one, unverified', async () => {
    const ok = await post(port, exchangeForm(CALLER_TOKEN), {
      'x-serverless-authorization': `Bearer ${PLATFORM}`,
    });
    expect(ok.status, ok.text).toBe(200);
    expect(fakes.subjectTokens).toEqual([CALLER_TOKEN]);
    fakes = freshFakes();
    const same = await post(port, exchangeForm(PLATFORM), {
      'x-serverless-authorization': `Bearer ${PLATFORM}`,
    });
    expect(same.status).toBe(400);
    expect(same.body.error).toBe('invalid_grant');
    expect(fakes.subjectTokens).toEqual([]);
    expect(fakes.audit[0].entry.reason).toBe('SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL');
    noSecretAnywhere(same.text);
  });

  it('still refuses Authorization with token exchange, platform header or not', async () => {
    const reply = await post(port, exchangeForm(CALLER_TOKEN), {
      authorization: `Bearer ${CALLER_TOKEN}`,
      'x-serverless-authorization': `Bearer ${PLATFORM}`,
    });
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      error: 'invalid_request',
      error_description: 'client authentication is not used with token exchange',
    });
  });

  it.each([
    ['empty', ''],
    ['of another scheme', `Basic ${PLATFORM}`],
  ])(
    'answers a platform header that is %s with 400 invalid_request, before reading the body',
    async (_n, value) => {
      const reply = await post(port, clientForm(), {
        authorization: basic('ci-runner', SECRET),
        'x-serverless-authorization': value,
      });
      expect(reply.status).toBe(400);
      expect(reply.body.error).toBe('invalid_request');
      expect(reply.body.error_description).toBe(
        'X-Serverless-Authorization must be sent once, as "Bearer <token>".',
      );
      expect(fakes.clientAuthCalls).toEqual([]);
      expect(fakes.audit.map((a) => [a.entry.reason, a.entry.action])).toEqual([
        ['SERVERLESS_AUTHORIZATION_MALFORMED', 'oauthToken:unknown'],
      ]);
    },
  );
});

describe('the IAM-compatible routes through the handler', () => {
  const audit: AuditEntry[] = [];
  const seen: Array<string | undefined> = [];
  const caller: CallerIdentity = {
    kind: 'id_token',
    issuer: 'https://accounts.google.com',
    subject: '1',
    email: 'w@p.iam.gserviceaccount.com',
    expiresAtMs: 1_800_000_600_000,
    claims: {},
  };
  const unused = () => Promise.reject(new Error('not reached'));
  const services: TokenServices = {
    authenticate: (authorization) => {
      seen.push(authorization);
      return Promise.resolve(caller);
    },
    verifySubjectToken: unused,
    policy: {
      current: () => undefined as never,
      currentIfFresh: () => undefined,
      currentForRequest: unused,
      reload: unused,
      refresh: unused,
    },
    acceptedAudiences: acceptedAudiences([]),
    clientAuth: { authenticate: unused },
    minter: { accessToken: unused, idToken: unused } as unknown as TokenServices['minter'],
    audit: { write: (entry) => void audit.push(entry), flush: () => Promise.resolve() },
    now: () => 1_800_000_000_000,
  };
  let server: Server;
  let port: number;
  beforeAll(async () => {
    const handler = createTokenHandler(services);
    server = createServer((req: FunctionRequest, res) => {
      req.rawBody = Buffer.alloc(0);
      req.resume();
      req.on('end', () => void handler(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    audit.length = 0;
    seen.length = 0;
  });

  function send(headers: Record<string, string>): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          // A malformed email: refused with 400 after authentication, so nothing is minted.
          path: '/v1/projects/-/serviceAccounts/not-an-email:generateAccessToken',
          headers: { 'content-type': 'application/json', ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
  }

  it('hands the authenticator Authorization, never the platform header, and audits that it came', async () => {
    const reply = await send({
      authorization: `Bearer ${CALLER_TOKEN}`,
      'x-serverless-authorization': `Bearer ${PLATFORM}`,
    });
    expect(reply.status).toBe(400);
    expect(seen).toEqual([`Bearer ${CALLER_TOKEN}`]);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ caller: { email: caller.email }, serverlessAuthorizationHeader: true });
    expect(JSON.stringify(audit)).not.toContain(PLATFORM);
  });

  it('refuses the platform header alone with 401 before calling the authenticator', async () => {
    const reply = await send({ 'x-serverless-authorization': `Bearer ${PLATFORM}` });
    expect(reply.status).toBe(401);
    expect(reply.body.error.details[0].reason).toBe('SERVERLESS_AUTHORIZATION_WITHOUT_CALLER_CREDENTIAL');
    expect(reply.body.error.message).toContain('send your own credential in the Authorization header');
    expect(seen).toEqual([]);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ httpStatus: 401, serverlessAuthorizationHeader: true });
  });

  it('without the platform header, audits no such field', async () => {
    await send({ authorization: `Bearer ${CALLER_TOKEN}` });
    expect(seen).toEqual([`Bearer ${CALLER_TOKEN}`]);
    expect(audit).toHaveLength(1);
    expect(audit[0]).not.toHaveProperty('serverlessAuthorizationHeader');
  });
});
