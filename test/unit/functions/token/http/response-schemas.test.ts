/**
 * The response schemas (what docs/openapi.yaml documents) against what the code sends: every
 * canonical error rendered in Google's error model, and the answers of `POST /v1/token` over a
 * loopback socket with fakes (support/oauth-harness.ts). The IAM methods' success bodies are
 * checked end to end in test/integration/functions/token/response-schemas.test.ts.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { HTTP_STATUS, UnavailableError, type ErrorCode } from '../../../../../shared/errors.js';
import { toHttpError } from '../../../../../shared/google-error.js';
import type { OAuthErrorCode } from '../../../../../functions/token/http/respond.js';
import { TOKEN_EXCHANGE_GRANT } from '../../../../../functions/token/oauth-token.js';
import {
  googleErrorBody,
  oauthErrorBody,
  oauthTokenResponse,
} from '../../../../../functions/token/http/response-schemas.js';
import { freshFakes, post, startServer, type Fakes } from '../support/oauth-harness.js';

const SA = 'builder@p.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const SECRET = 'S3cret-value-never-logged';

let fakes: Fakes;
let server: Server;
let port: number;
beforeAll(async () => ({ server, port } = await startServer(() => fakes)));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  fakes = freshFakes();
});

const clientCredentials: Array<[string, string]> = [
  ['grant_type', 'client_credentials'],
  ['service_account', SA],
  ['scope', SCOPE],
  ['client_id', 'ci-runner'],
  ['client_secret', SECRET],
];
const tokenExchange: Array<[string, string]> = [
  ['grant_type', TOKEN_EXCHANGE_GRANT],
  ['service_account', SA],
  ['scope', SCOPE],
  ['subject_token_type', 'urn:ietf:params:oauth:token-type:jwt'],
  ['subject_token', 'eyJhbGciOiJSUzI1NiJ9.e30.sig'],
];

describe('the error enums', () => {
  it('document exactly the codes of the code', () => {
    expectTypeOf<z.infer<typeof oauthErrorBody>['error']>().toEqualTypeOf<OAuthErrorCode>();
    expectTypeOf<z.infer<typeof googleErrorBody>['error']['status']>().toEqualTypeOf<ErrorCode>();
    expect(googleErrorBody.shape.error.shape.status.options).toEqual(Object.keys(HTTP_STATUS));
  });
});

describe('googleErrorBody', () => {
  it.each(Object.keys(HTTP_STATUS) as ErrorCode[])('matches what toHttpError renders for %s', (code) => {
    const err = Object.assign(new UnavailableError('Generic message.', { reason: 'SOME_REASON' }), { code });
    const { body } = toHttpError(err);
    expect(body.error.status).toBe(code);
    expect(googleErrorBody.parse(body)).toEqual(body);
  });

  it('matches an error with metadata and an HTTP status override', () => {
    const err = new UnavailableError('Generic message.', {
      reason: 'X',
      metadata: { field: 'scope' },
      httpStatus: 429,
    });
    const { body } = toHttpError(err);
    expect(body.error.code).toBe(429);
    expect(googleErrorBody.parse(body)).toEqual(body);
  });
});

describe('POST /v1/token answers match the documented schemas', () => {
  it.each([
    ['client_credentials', clientCredentials, undefined],
    ['token exchange', tokenExchange, TOKEN_EXCHANGE_GRANT],
  ])('200 for %s', async (_name, form, grant) => {
    const reply = await post(port, form);
    expect(reply.status).toBe(200);
    expect(oauthTokenResponse.parse(reply.body)).toEqual(reply.body);
    expect('issued_token_type' in reply.body).toBe(grant !== undefined);
  });

  it.each([
    ['unsupported grant (400)', () => post(port, [['grant_type', 'password']]), 400],
    [
      'missing scope (400)',
      () =>
        post(
          port,
          clientCredentials.filter(([k]) => k !== 'scope'),
        ),
      400,
    ],
    [
      'a refused client (401)',
      () => {
        fakes.clientAuthResult = { ok: false, reason: 'INVALID_CLIENT' };
        return post(port, clientCredentials);
      },
      401,
    ],
    [
      'a throttled client (429)',
      () => {
        fakes.clientAuthResult = { ok: false, reason: 'CLIENT_AUTH_THROTTLED', retryAfterSeconds: 9 };
        return post(port, clientCredentials);
      },
      429,
    ],
    [
      'Google unavailable (503)',
      () => {
        fakes.mint = () =>
          Promise.reject(new UnavailableError('Upstream unavailable.', { reason: 'UPSTREAM' }));
        return post(port, clientCredentials);
      },
      503,
    ],
  ])('error body for %s', async (_name, send, status) => {
    const reply = await send();
    expect(reply.status).toBe(status);
    expect(oauthErrorBody.parse(reply.body)).toEqual(reply.body);
  });
});
