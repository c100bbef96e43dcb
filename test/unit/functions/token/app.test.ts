/**
 * The token handler's routing: 404 and 405 (with `Allow`) in Google's error model, the health
 * check, and each route reaching its handler. Over a loopback socket with fakes of our own interfaces.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../../shared/audit-log.js';
import { UnauthenticatedError } from '../../../../shared/errors.js';
import { createTokenHandler } from '../../../../functions/token/app.js';
import type { FunctionRequest } from '../../../../functions/token/http/request-context.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import type { TokenServices } from '../../../../functions/token/token-services.js';

const SA_PATH = '/v1/projects/-/serviceAccounts/gemini@p.iam.gserviceaccount.com';
const audit: AuditEntry[] = [];
const unused = () => Promise.reject(new Error('not reached by these requests'));
const services: TokenServices = {
  authenticate: () =>
    Promise.reject(
      new UnauthenticatedError('The caller token is missing.', { reason: 'CALLER_TOKEN_MISSING' }),
    ),
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
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      req.rawBody = Buffer.concat(chunks);
      void handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function send(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Record<string, unknown> }> {
  audit.length = 0;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('createTokenHandler routes', () => {
  it('answers an unknown path with 404 PATH_NOT_FOUND and audits nothing', async () => {
    const reply = await send('GET', '/v2/whatever');
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({
      error: { code: 404, status: 'NOT_FOUND', details: [{ reason: 'PATH_NOT_FOUND' }] },
    });
    expect(audit).toEqual([]);
  });

  it.each([
    ['an IAM route', 'GET', `${SA_PATH}:generateAccessToken`, 'POST'],
    ['the OAuth token endpoint', 'GET', '/v1/token', 'POST'],
    ['the policy notification endpoint', 'GET', '/v1/policy:notify', 'POST'],
    ['the health check', 'POST', '/healthz', 'GET, HEAD'],
  ])(
    'answers a wrong method on %s with 405, Allow and METHOD_NOT_ALLOWED',
    async (_n, method, path, allow) => {
      const reply = await send(method, path);
      expect(reply.status).toBe(405);
      expect(reply.headers.allow).toBe(allow);
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(reply.body).toMatchObject({
        error: { code: 405, status: 'INVALID_ARGUMENT', details: [{ reason: 'METHOD_NOT_ALLOWED' }] },
      });
      expect(audit).toEqual([]);
    },
  );

  it('answers the health check with 200 and audits nothing', async () => {
    const reply = await send('GET', '/healthz');
    expect(reply).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(audit).toEqual([]);
  });

  it.each([
    ['generateAccessToken', `${SA_PATH}:generateAccessToken`],
    ['generateIdToken', `${SA_PATH}:generateIdToken`],
  ])('hands %s to its IAM Credentials handler', async (action, path) => {
    const reply = await send('POST', path);
    expect(reply.status).toBe(401);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action, reason: 'CALLER_TOKEN_MISSING', httpStatus: 401 });
  });

  it('hands /v1/token to the OAuth handler', async () => {
    const reply = await send('POST', '/v1/token', { 'content-type': 'application/json' });
    expect(reply.status).toBe(415);
    expect(reply.body).toMatchObject({ error: 'invalid_request' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'oauthToken:unknown', reason: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('hands /v1/policy:notify to the policy notification handler', async () => {
    const reply = await send('POST', '/v1/policy:notify', { 'content-type': 'application/json' });
    expect(reply.status).toBe(401);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'policy.notify', reason: 'CALLER_TOKEN_MISSING' });
  });
});
