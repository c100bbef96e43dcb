import { exportSPKI, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnauthenticatedError } from '../../../../../shared/errors.js';
import { createCallerAuthenticator } from '../../../../../functions/token/auth/authenticate-caller.js';
import { CallerAuthReason } from '../../../../../functions/token/auth/reasons.js';
import type { CallerAuthOptions } from '../../../../../functions/token/auth/types.js';
import { makeClock, makeKey, signToken, type TestKey } from './support/test-keys.js';
import { rejectionOf, serializeError, startTestServer, type TestServer } from './support/test-servers.js';

const GOOGLE = 'https://accounts.google.com';
const AUDIENCE = 'https://tvs.example.com';
const EXT_AUDIENCE = 'tvs';

let server: TestServer;
let attacker: TestServer;
let google: TestKey;
let googleSecond: TestKey;
let ext: TestKey;
let extEd: TestKey;
let evil: TestKey;
const clock = makeClock();

beforeAll(async () => {
  [google, googleSecond, ext, extEd, evil] = await Promise.all([
    makeKey('k-google'),
    makeKey('k-google-2'),
    makeKey('k-ext', 'ES256'),
    makeKey('k-ext-ed', 'EdDSA'),
    makeKey('k-evil'),
  ]);
  server = await startTestServer();
  attacker = await startTestServer();
  server.json(
    '/google/certs',
    { keys: [google.jwk, googleSecond.jwk] },
    { 'cache-control': 'public, max-age=3600' },
  );
  server.json('/.well-known/openid-configuration', {
    issuer: server.baseUrl,
    jwks_uri: `${server.baseUrl}/ext/jwks`,
  });
  server.json('/ext/jwks', { keys: [ext.jwk, extEd.jwk] });
  attacker.json('/jwks', { keys: [evil.jwk, { ...evil.jwk, kid: 'k-google' }] });
});

afterAll(async () => {
  await Promise.all([server.close(), attacker.close()]);
});

function authenticator(overrides: Partial<CallerAuthOptions> = {}) {
  return createCallerAuthenticator({
    issuers: [
      { issuer: GOOGLE, jwksUri: `${server.baseUrl}/google/certs`, audiences: [AUDIENCE] },
      { issuer: server.baseUrl, audiences: [EXT_AUDIENCE], algorithms: ['ES256', 'EdDSA'] },
    ],
    clockToleranceSeconds: 30,
    now: clock.now,
    ...overrides,
  });
}

function googleClaims(overrides: JWTPayload = {}): JWTPayload {
  const now = clock.seconds();
  return {
    iss: GOOGLE,
    aud: AUDIENCE,
    sub: '112233445566778899',
    azp: '112233445566778899',
    email: 'ci@proj.iam.gserviceaccount.com',
    email_verified: true,
    iat: now,
    exp: now + 3600,
    ...overrides,
  };
}

function without(claim: string): JWTPayload {
  const claims = googleClaims();
  delete claims[claim];
  return claims;
}

const googleToken = (overrides: JWTPayload = {}, header: Record<string, unknown> = {}) =>
  signToken(google, googleClaims(overrides), header);
const bearer = async (token: Promise<string> | string) => `Bearer ${await token}`;

interface RejectionCase {
  name: string;
  header: () => Promise<string | undefined> | string | undefined;
  reason: CallerAuthReason;
  /** Key-document fetches allowed (to our servers and the attacker's); `0` proves none happened. */
  fetches?: number;
}

const rejections: RejectionCase[] = [
  { name: 'no Authorization header', header: () => undefined, reason: CallerAuthReason.MISSING, fetches: 0 },
  { name: 'an empty header', header: () => '', reason: CallerAuthReason.MISSING, fetches: 0 },
  { name: 'a blank header', header: () => '   ', reason: CallerAuthReason.MISSING, fetches: 0 },
  {
    name: 'the Basic scheme',
    header: () => 'Basic dXNlcjpwYXNzd29yZA==',
    reason: CallerAuthReason.SCHEME_UNSUPPORTED,
    fetches: 0,
  },
  {
    name: 'a scheme that only starts with Bearer',
    header: async () => `Bearerx ${await googleToken()}`,
    reason: CallerAuthReason.SCHEME_UNSUPPORTED,
    fetches: 0,
  },
  { name: 'Bearer without a token', header: () => 'Bearer', reason: CallerAuthReason.MALFORMED, fetches: 0 },
  {
    name: 'Bearer with an empty token',
    header: () => 'Bearer ',
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'two spaces after Bearer',
    header: async () => `Bearer  ${await googleToken()}`,
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'a tab after Bearer',
    header: async () => `Bearer\t${await googleToken()}`,
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'two tokens',
    header: async () => `Bearer ${await googleToken()} ${await googleToken()}`,
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'a token with characters outside b64token',
    header: () => 'Bearer abc,def',
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'a token over 16 KiB',
    header: () => `Bearer ${'a'.repeat(16 * 1024 + 1)}`,
    reason: CallerAuthReason.TOO_LARGE,
    fetches: 0,
  },
  {
    name: 'a JWT over 16 KiB',
    header: () => bearer(googleToken({ pad: 'p'.repeat(17 * 1024) })),
    reason: CallerAuthReason.TOO_LARGE,
    fetches: 0,
  },
  {
    name: 'an opaque token when access tokens are disabled',
    header: () => 'Bearer ya29.a0AfB_opaque-token',
    reason: CallerAuthReason.NOT_A_JWT,
    fetches: 0,
  },
  {
    name: 'a five-segment (JWE) token',
    header: () => 'Bearer aaaa.bbbb.cccc.dddd.eeee',
    reason: CallerAuthReason.NOT_A_JWT,
    fetches: 0,
  },
  {
    name: 'three segments without a JOSE header',
    header: () => 'Bearer aaaa.bbbb.cccc',
    reason: CallerAuthReason.NOT_A_JWT,
    fetches: 0,
  },
  {
    name: 'a JOSE header with a payload that is not JSON',
    header: () => 'Bearer eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2lnbmF0dXJl',
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'a JOSE header with an empty payload',
    header: () => 'Bearer eyJhbGciOiJSUzI1NiJ9..c2lnbmF0dXJl',
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'alg none',
    header: () => bearer(new UnsecuredJWT(googleClaims()).encode()),
    reason: CallerAuthReason.ALGORITHM_NOT_ALLOWED,
    fetches: 0,
  },
  {
    name: 'HS256 signed with the RSA public key bytes (key confusion)',
    header: async () => {
      const secret = new TextEncoder().encode(await exportSPKI(google.publicKey));
      return bearer(
        new SignJWT(googleClaims())
          .setProtectedHeader({ alg: 'HS256', kid: google.kid, typ: 'JWT' })
          .sign(secret),
      );
    },
    reason: CallerAuthReason.ALGORITHM_NOT_ALLOWED,
    fetches: 0,
  },
  {
    name: 'an algorithm the issuer does not allow',
    header: () => bearer(signToken(ext, googleClaims())),
    reason: CallerAuthReason.ALGORITHM_NOT_ALLOWED,
    fetches: 0,
  },
  {
    name: 'a "crit" header',
    header: () => bearer(googleToken({}, { crit: ['exp'], exp: 1 })),
    reason: CallerAuthReason.CRITICAL_HEADER,
    fetches: 0,
  },
  {
    name: 'a nested JWT (cty: JWT)',
    header: () => bearer(googleToken({}, { cty: 'JWT' })),
    reason: CallerAuthReason.NESTED_JWT,
    fetches: 0,
  },
  {
    name: 'another token type (typ: at+jwt)',
    header: () => bearer(googleToken({}, { typ: 'at+jwt' })),
    reason: CallerAuthReason.TYPE_MISMATCH,
    fetches: 0,
  },
  {
    name: 'a non-string kid',
    header: () => bearer(googleToken({}, { kid: 7 })),
    reason: CallerAuthReason.MALFORMED,
    fetches: 0,
  },
  {
    name: 'an unknown issuer',
    header: () => bearer(googleToken({ iss: 'https://issuer.example.com' })),
    reason: CallerAuthReason.ISSUER_UNKNOWN,
    fetches: 0,
  },
  {
    name: 'a look-alike issuer with an extra domain',
    header: () => bearer(googleToken({ iss: 'https://accounts.google.com.evil.com' })),
    reason: CallerAuthReason.ISSUER_UNKNOWN,
    fetches: 0,
  },
  {
    name: 'the issuer with a trailing slash',
    header: () => bearer(googleToken({ iss: 'https://accounts.google.com/' })),
    reason: CallerAuthReason.ISSUER_UNKNOWN,
    fetches: 0,
  },
  {
    name: 'the issuer in different case',
    header: () => bearer(googleToken({ iss: 'https://Accounts.Google.com' })),
    reason: CallerAuthReason.ISSUER_UNKNOWN,
    fetches: 0,
  },
  {
    name: 'the issuer without scheme',
    header: () => bearer(googleToken({ iss: 'accounts.google.com' })),
    reason: CallerAuthReason.ISSUER_UNKNOWN,
    fetches: 0,
  },
  {
    name: 'the issuer over http',
    header: () => bearer(googleToken({ iss: 'http://accounts.google.com' })),
    reason: CallerAuthReason.ISSUER_UNKNOWN,
    fetches: 0,
  },
  {
    name: 'no iss claim',
    header: () => bearer(signToken(google, without('iss'))),
    reason: CallerAuthReason.CLAIM_MISSING,
    fetches: 0,
  },
  {
    name: 'a non-string iss claim',
    header: () => bearer(googleToken({ iss: 42 as unknown as string })),
    reason: CallerAuthReason.CLAIM_INVALID,
    fetches: 0,
  },
  {
    name: 'an unknown kid',
    header: () => bearer(googleToken({}, { kid: 'k-unknown' })),
    reason: CallerAuthReason.KEY_UNKNOWN,
  },
  {
    name: 'no kid when the JWKS has several keys',
    header: () => bearer(googleToken({}, { kid: undefined })),
    reason: CallerAuthReason.KEY_UNKNOWN,
  },
  {
    name: 'a signature by another key under a known kid',
    header: () => bearer(signToken({ ...evil, kid: google.kid }, googleClaims())),
    reason: CallerAuthReason.SIGNATURE_INVALID,
  },
  {
    name: 'an embedded jwk header that would verify',
    header: () => bearer(signToken({ ...evil, kid: google.kid }, googleClaims(), { jwk: evil.jwk })),
    reason: CallerAuthReason.SIGNATURE_INVALID,
  },
  {
    name: 'an embedded jwk with its own kid',
    header: () => bearer(signToken(evil, googleClaims(), { jwk: evil.jwk })),
    reason: CallerAuthReason.KEY_UNKNOWN,
  },
  {
    name: "a jku header pointing at the signer's keys",
    header: () => bearer(signToken(evil, googleClaims(), { jku: `${attacker.baseUrl}/jwks` })),
    reason: CallerAuthReason.KEY_UNKNOWN,
  },
  {
    name: "an x5u header pointing at the signer's keys",
    header: () => bearer(signToken(evil, googleClaims(), { x5u: `${attacker.baseUrl}/cert.pem` })),
    reason: CallerAuthReason.KEY_UNKNOWN,
  },
  {
    name: 'an x5c header with a foreign chain',
    header: () =>
      bearer(signToken({ ...evil, kid: google.kid }, googleClaims(), { x5c: ['MIIBkTCB+wIJAKHHIG'] })),
    reason: CallerAuthReason.SIGNATURE_INVALID,
  },
  {
    name: 'a payload altered after signing',
    header: async () => {
      const [head, , signature] = (await googleToken()).split('.');
      const forged = Buffer.from(JSON.stringify(googleClaims({ sub: 'admin' }))).toString('base64url');
      return `Bearer ${head}.${forged}.${signature}`;
    },
    reason: CallerAuthReason.SIGNATURE_INVALID,
  },
  {
    name: 'an expired token',
    header: () => bearer(googleToken({ iat: clock.seconds() - 3660, exp: clock.seconds() - 60 })),
    reason: CallerAuthReason.EXPIRED,
  },
  {
    name: 'nbf in the future beyond tolerance',
    header: () => bearer(googleToken({ nbf: clock.seconds() + 120 })),
    reason: CallerAuthReason.NOT_YET_VALID,
  },
  {
    name: 'iat in the future beyond tolerance',
    header: () => bearer(googleToken({ iat: clock.seconds() + 120 })),
    reason: CallerAuthReason.ISSUED_IN_FUTURE,
  },
  {
    name: 'iat more than 24 h old',
    header: () => bearer(googleToken({ iat: clock.seconds() - 25 * 3600 })),
    reason: CallerAuthReason.TOO_OLD,
  },
  {
    name: 'a wrong audience',
    header: () => bearer(googleToken({ aud: 'https://other.example.com' })),
    reason: CallerAuthReason.AUDIENCE_MISMATCH,
  },
  {
    name: "another issuer's audience",
    header: () => bearer(googleToken({ aud: EXT_AUDIENCE })),
    reason: CallerAuthReason.AUDIENCE_MISMATCH,
  },
  {
    name: 'no aud claim',
    header: () => bearer(signToken(google, without('aud'))),
    reason: CallerAuthReason.CLAIM_MISSING,
  },
  {
    name: 'no sub claim',
    header: () => bearer(signToken(google, without('sub'))),
    reason: CallerAuthReason.CLAIM_MISSING,
  },
  {
    name: 'no exp claim',
    header: () => bearer(signToken(google, without('exp'))),
    reason: CallerAuthReason.CLAIM_MISSING,
  },
  {
    name: 'no iat claim',
    header: () => bearer(signToken(google, without('iat'))),
    reason: CallerAuthReason.CLAIM_MISSING,
  },
  {
    name: 'an empty sub',
    header: () => bearer(googleToken({ sub: '' })),
    reason: CallerAuthReason.CLAIM_INVALID,
  },
  {
    name: 'a numeric sub',
    header: () => bearer(googleToken({ sub: 42 as unknown as string })),
    reason: CallerAuthReason.CLAIM_INVALID,
  },
  {
    name: 'a string exp',
    header: () => bearer(googleToken({ exp: String(clock.seconds() + 600) as unknown as number })),
    reason: CallerAuthReason.CLAIM_INVALID,
  },
];

describe('createCallerAuthenticator().authenticate rejects', () => {
  it.each(rejections)('$name', async ({ header, reason, fetches }) => {
    const before = server.count() + attacker.count();
    const value = await header();
    const error = await rejectionOf(authenticator().authenticate(value));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as UnauthenticatedError).reason).toBe(reason);
    expect((error as UnauthenticatedError).message).toMatch(
      /^The (request has no caller credential|caller's credential is invalid)\.$/,
    );
    expect(attacker.count()).toBe(0);
    if (fetches !== undefined) expect(server.count() + attacker.count() - before).toBe(fetches);
    // No part of the credential may reach a message, detail or cause.
    const token = value?.replace(/^\S+ ?/, '') ?? '';
    const serialized = serializeError(error);
    for (const part of [token, ...token.split('.')].filter((p) => p.length >= 16))
      expect(serialized).not.toContain(part);
  });
});

describe('createCallerAuthenticator().authenticateCached never answers what authenticate refuses', () => {
  it.each(rejections)('$name', async ({ header, reason }) => {
    const auth = authenticator();
    const value = await header();
    await rejectionOf(auth.authenticate(value)); // a failure is never remembered
    let answered: unknown;
    try {
      answered = auth.authenticateCached(value);
    } catch (error) {
      // A header that is not a bearer token at all is refused the same way, synchronously.
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect((error as UnauthenticatedError).reason).toBe(reason);
      return;
    }
    expect(answered).toBeUndefined();
  });
});

describe('createCallerAuthenticator().authenticate accepts', () => {
  it('a Google ID token, returning the verified identity', async () => {
    const token = await googleToken({ aud: [AUDIENCE, 'https://other.example.com'] });
    const identity = await authenticator().authenticate(`Bearer ${token}`);
    expect(identity).toEqual({
      kind: 'id_token',
      issuer: GOOGLE,
      subject: '112233445566778899',
      email: 'ci@proj.iam.gserviceaccount.com',
      emailVerified: true,
      audience: AUDIENCE,
      expiresAtMs: (clock.seconds() + 3600) * 1000,
      claims: expect.objectContaining({ sub: '112233445566778899', azp: '112233445566778899' }),
    });
    expect(Object.isFrozen(identity.claims)).toBe(true);
    expect(Object.isFrozen(identity.claims.aud)).toBe(true);
  });

  it.each([
    ['email_verified is false', { email_verified: false }, false],
    ['email_verified is the string "true"', { email_verified: 'true' }, undefined],
    ['email_verified is absent', { email_verified: undefined }, undefined],
  ])('a Google ID token without trusting its email when %s', async (_name, overrides, emailVerified) => {
    const identity = await authenticator().authenticate(await bearer(googleToken(overrides)));
    expect(identity.subject).toBe('112233445566778899');
    expect(identity.email).toBeUndefined();
    expect(identity.emailVerified).toBe(emailVerified);
  });

  it.each(['bearer', 'BEARER', 'BeArEr'])('the scheme spelled %s', async (scheme) => {
    const identity = await authenticator().authenticate(`${scheme} ${await googleToken()}`);
    expect(identity.issuer).toBe(GOOGLE);
  });

  it.each([
    ['exp passed within the clock tolerance', { iat: clock.seconds() - 3600, exp: clock.seconds() - 20 }],
    ['nbf ahead within the clock tolerance', { nbf: clock.seconds() + 20 }],
    ['iat ahead within the clock tolerance', { iat: clock.seconds() + 20 }],
    ['iat just under 24 h old', { iat: clock.seconds() - 24 * 3600 + 60 }],
  ])('a token with %s', async (_name, overrides) => {
    await expect(authenticator().authenticate(await bearer(googleToken(overrides)))).resolves.toMatchObject({
      subject: '112233445566778899',
    });
  });

  it('a token signed by the second key of the JWKS', async () => {
    const identity = await authenticator().authenticate(
      await bearer(signToken(googleSecond, googleClaims())),
    );
    expect(identity.subject).toBe('112233445566778899');
  });

  it.each(['jku', 'x5u'])('a genuine token carrying a %s header, without fetching from it', async (name) => {
    const identity = await authenticator().authenticate(
      await bearer(googleToken({}, { [name]: `${attacker.baseUrl}/jwks` })),
    );
    expect(identity.issuer).toBe(GOOGLE);
    expect(attacker.count()).toBe(0);
  });

  it.each([
    ['ES256', () => ext],
    ['EdDSA', () => extEd],
  ])('an %s token of an issuer found by OIDC discovery', async (_alg, key) => {
    const now = clock.seconds();
    const token = await signToken(key(), {
      iss: server.baseUrl,
      aud: EXT_AUDIENCE,
      sub: 'repo:org/app:ref:refs/heads/main',
      email: 'dev@example.com',
      repository: 'org/app',
      iat: now,
      exp: now + 300,
    });
    const identity = await authenticator().authenticate(`Bearer ${token}`);
    expect(identity).toMatchObject({
      kind: 'id_token',
      issuer: server.baseUrl,
      subject: 'repo:org/app:ref:refs/heads/main',
      email: 'dev@example.com',
      audience: EXT_AUDIENCE,
      expiresAtMs: (now + 300) * 1000,
    });
    expect(identity.emailVerified).toBeUndefined();
    expect(identity.claims.repository).toBe('org/app');
  });
});

describe('createCallerAuthenticator().authenticate details', () => {
  it('names why an opaque token is refused when access tokens are not enabled', async () => {
    const error = await rejectionOf(authenticator().authenticate('Bearer ya29.a0AfB_opaque-token'));
    expect(error).toMatchObject({
      reason: CallerAuthReason.NOT_A_JWT,
      detail: 'bearer token is not a JWT and access tokens are not accepted',
    });
  });

  it('serves a repeated token from the verified-token cache without verifying it again', async () => {
    const auth = authenticator();
    const header = await bearer(googleToken());
    const first = await auth.authenticate(header);
    expect(await auth.authenticate(header)).toBe(first);
    // A fresh verification builds a new identity: the cache is per token, not per caller.
    expect(await auth.authenticate(await bearer(googleToken({ jti: 'other' })))).not.toBe(first);
  });
});

describe('createCallerAuthenticator().authenticateCached', () => {
  it('answers only a token verified before, with the identity authenticate gave, until the token expires', async () => {
    const auth = authenticator();
    const header = await bearer(googleToken({ jti: 'cached', exp: clock.seconds() + 120 }));
    expect(auth.authenticateCached(header)).toBeUndefined(); // never verified: must go through authenticate
    const identity = await auth.authenticate(header);
    expect(auth.authenticateCached(header)).toBe(identity);
    // Another token of the same caller is another token.
    expect(auth.authenticateCached(await bearer(googleToken({ jti: 'other' })))).toBeUndefined();
    clock.advance(119_999);
    expect(auth.authenticateCached(header)).toBe(identity);
    clock.advance(1); // at exp, without skew: no longer served from the cache
    expect(auth.authenticateCached(header)).toBeUndefined();
    clock.advance(-120_000);
  });
});

describe('createCallerAuthenticator().verifyJwt', () => {
  it('verifies a bare JWT by the same rules', async () => {
    const identity = await authenticator().verifyJwt(await googleToken());
    expect(identity).toMatchObject({ kind: 'id_token', issuer: GOOGLE, subject: '112233445566778899' });
  });

  it.each<[string, () => string | Promise<string>, CallerAuthReason]>([
    ['an empty token', () => '', CallerAuthReason.MISSING],
    ['an oversized token', () => 'a'.repeat(16 * 1024 + 1), CallerAuthReason.TOO_LARGE],
    ['a non-JWT', () => 'ya29.opaque', CallerAuthReason.MALFORMED],
    [
      'an expired JWT',
      () => googleToken({ iat: clock.seconds() - 7200, exp: clock.seconds() - 3600 }),
      CallerAuthReason.EXPIRED,
    ],
    [
      'a JWT of an unknown issuer',
      () => googleToken({ iss: 'https://evil.example.com' }),
      CallerAuthReason.ISSUER_UNKNOWN,
    ],
  ])('rejects %s', async (_name, token, reason) => {
    const error = await rejectionOf(authenticator().verifyJwt(await token()));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as UnauthenticatedError).reason).toBe(reason);
  });

  it.each<[string, unknown]>([
    ['an empty string', ''],
    ['undefined', undefined],
    ['a number', 42],
  ])('rejects %s as no token, without looking further', async (_name, token) => {
    const before = server.count();
    const error = await rejectionOf(authenticator().verifyJwt(token as string));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toMatchObject({
      reason: CallerAuthReason.MISSING,
      message: 'The request has no caller credential.',
      detail: 'no token given',
    });
    expect(server.count()).toBe(before);
  });
});
