import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvokerCheck, type InvokerCheck } from '../../../../functions/rotate/invoker-check.js';
import { TvsError } from '../../../../shared/errors.js';
import { makeKey, signToken, type TestKey } from '../token/auth/support/test-keys.js';
import { rejectionOf, startTestServer, type TestServer } from '../token/auth/support/test-servers.js';

const AUDIENCE = 'https://us-central1-tvs-prod.cloudfunctions.net/tvs-rotate';
const SCHEDULER = 'tvs-rotation-invoker@tvs-prod.iam.gserviceaccount.com';
const GOOGLE = 'https://accounts.google.com';

let jwks: TestServer;
let key: TestKey;
let check: InvokerCheck;

beforeAll(async () => {
  key = await makeKey('google-1');
  jwks = await startTestServer();
  jwks.json('/certs', { keys: [key.jwk] });
  check = createInvokerCheck({
    audiences: [AUDIENCE],
    invokers: [SCHEDULER],
    googleJwksUrl: `${jwks.baseUrl}/certs`,
    clockToleranceSeconds: 60,
  });
});

afterAll(async () => {
  await jwks?.close();
});

const nowSeconds = () => Math.floor(Date.now() / 1000);
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: GOOGLE,
    aud: AUDIENCE,
    sub: '1234567890',
    email: SCHEDULER,
    email_verified: true,
    iat: nowSeconds(),
    exp: nowSeconds() + 3600,
    ...overrides,
  };
}
const bearer = async (c: Record<string, unknown>, signer: TestKey = key) =>
  `Bearer ${await signToken(signer, c)}`;

describe('the rotate invoker check', () => {
  it('accepts a Google ID token of a configured invoker for the rotate audience', async () => {
    await expect(check(await bearer(claims()))).resolves.toEqual({ email: SCHEDULER });
  });

  it('compares invoker emails without regard to case', async () => {
    await expect(check(await bearer(claims({ email: SCHEDULER.toUpperCase() })))).resolves.toEqual({
      email: SCHEDULER,
    });
  });

  it.each([
    ['another service account', { email: 'tvs-token@tvs-prod.iam.gserviceaccount.com' }],
    ['an invoker email Google did not verify', { email_verified: false }],
    [
      'no email at all (an ID token minted without includeEmail)',
      { email: undefined, email_verified: undefined },
    ],
    ['an invoker email with a suffix', { email: `${SCHEDULER}.evil.example` }],
  ])('refuses %s with PERMISSION_DENIED', async (_name, overrides) => {
    const error = await rejectionOf(check(await bearer(claims(overrides))));
    expect(error).toBeInstanceOf(TvsError);
    expect(error).toMatchObject({ code: 'PERMISSION_DENIED', reason: 'ROTATE_INVOKER_NOT_ALLOWED' });
  });

  it.each([
    ['no header', undefined, 'CALLER_CREDENTIAL_MISSING'],
    ['a non-bearer scheme', 'Basic dXNlcjpwYXNz', 'CALLER_CREDENTIAL_SCHEME_UNSUPPORTED'],
    ['an opaque access token', 'Bearer ya29.a0AfH6SMB-not-a-jwt', 'CALLER_CREDENTIAL_NOT_A_JWT'],
  ])('refuses %s with UNAUTHENTICATED', async (_name, header, reason) => {
    await expect(check(header)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', reason });
  });

  it.each([
    [
      "the token service's audience",
      { aud: 'https://tvs-token-abc123-uc.a.run.app' },
      'CALLER_CREDENTIAL_AUDIENCE_MISMATCH',
    ],
    [
      'another issuer',
      { iss: 'https://token.actions.githubusercontent.com' },
      'CALLER_CREDENTIAL_ISSUER_UNKNOWN',
    ],
    ['an expired token', { iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 }, 'CALLER_CREDENTIAL_EXPIRED'],
  ])('refuses a token of the invoker with %s', async (_name, overrides, reason) => {
    await expect(check(await bearer(claims(overrides)))).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      reason,
    });
  });

  it('refuses a token signed by a key that is not Google’s', async () => {
    const forged = await makeKey('google-1');
    await expect(check(await bearer(claims(), forged))).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'CALLER_CREDENTIAL_SIGNATURE_INVALID',
    });
  });

  it('refuses alg none and HS256 tokens of the invoker', async () => {
    const body = Buffer.from(JSON.stringify(claims())).toString('base64url');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${body}.`;
    await expect(check(`Bearer ${none}`)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'CALLER_CREDENTIAL_ALGORITHM_NOT_ALLOWED',
    });
    const hs = `${Buffer.from('{"alg":"HS256","typ":"JWT","kid":"google-1"}').toString('base64url')}.${body}.c2ln`;
    await expect(check(`Bearer ${hs}`)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      reason: 'CALLER_CREDENTIAL_ALGORITHM_NOT_ALLOWED',
    });
  });

  it('never puts the token in the error', async () => {
    const header = await bearer(claims({ email: 'someone@tvs-prod.iam.gserviceaccount.com' }));
    const error = (await rejectionOf(check(header))) as TvsError;
    const token = header.slice('Bearer '.length);
    expect(
      JSON.stringify({ message: error.message, detail: error.detail, metadata: error.metadata }),
    ).not.toContain(token.split('.')[2]);
  });

  it('needs at least one invoker', () => {
    expect(() =>
      createInvokerCheck({
        audiences: [AUDIENCE],
        invokers: [],
        googleJwksUrl: `${jwks.baseUrl}/certs`,
        clockToleranceSeconds: 60,
      }),
    ).toThrow(TypeError);
  });
});
