import { UnsecuredJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { UnauthenticatedError } from '../../../../../shared/errors.js';
import type { KeySelector } from '../../../../../functions/token/auth/issuer-keys.js';
import type { ResolvedIssuer } from '../../../../../functions/token/auth/options.js';
import {
  CallerAuthReason,
  CallerAuthUnavailableReason,
  rejectCaller,
  verificationUnavailable,
} from '../../../../../functions/token/auth/reasons.js';
import {
  looksLikeJwt,
  MAX_TOKEN_AGE_SECONDS,
  verifyIdToken,
  type IdTokenVerifierDeps,
} from '../../../../../functions/token/auth/verify-id-token.js';
import { makeClock, makeKey, signToken, type TestKey } from './support/test-keys.js';
import { rejectionOf } from './support/test-servers.js';

const ISSUER = 'https://issuer.example.com';
const GOOGLE = 'https://accounts.google.com';
const AUDIENCE = 'https://tvs.example.com';
const OTHER_AUDIENCE = 'https://tvs.example.com/prod';
const TOLERANCE = 30;

let key: TestKey;
let otherKey: TestKey;
// Fixed in January 2026: a verifier reading the real clock instead of `now` fails these tests.
const clock = makeClock();

beforeAll(async () => {
  [key, otherKey] = await Promise.all([makeKey('k1'), makeKey('k-other')]);
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A compact token from raw parts, for headers and payloads jose's builder refuses to produce. */
const raw = (header: unknown, payload: unknown, signature = 'c2ln') =>
  `${b64(header)}.${b64(payload)}.${signature}`;

function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = clock.seconds();
  return { iss: ISSUER, aud: AUDIENCE, sub: 'caller', iat: now, exp: now + 600, ...overrides };
}

/** Issuers `ISSUER` (audiences AUDIENCE, OTHER_AUDIENCE) and Google, each with a recording key source. */
function setUp(getKey: (selector: KeySelector) => Promise<unknown> = () => Promise.resolve(key.publicKey)) {
  const keys = { getKey: vi.fn(getKey) };
  const issuer = (config: ResolvedIssuer) => [config.issuer, { config, keys }] as const;
  const deps = {
    issuers: new Map([
      issuer({
        issuer: ISSUER,
        jwksUri: undefined,
        audiences: [AUDIENCE, OTHER_AUDIENCE],
        algorithms: ['RS256'],
      }),
      issuer({ issuer: GOOGLE, jwksUri: undefined, audiences: [AUDIENCE], algorithms: ['RS256'] }),
    ]),
    clockToleranceSeconds: TOLERANCE,
    now: clock.now,
  } as IdTokenVerifierDeps;
  return { deps, keys };
}

async function refusal(token: string, deps = setUp().deps): Promise<UnauthenticatedError> {
  const error = await rejectionOf(verifyIdToken(token, deps));
  expect(error).toBeInstanceOf(UnauthenticatedError);
  return error as UnauthenticatedError;
}

describe('looksLikeJwt', () => {
  it('recognises three segments led by a JOSE header', async () => {
    expect(looksLikeJwt(await signToken(key, claims()))).toBe(true);
  });

  it.each([
    ['an opaque access token with three dotted parts', () => 'ya29.c.opaque-part'],
    [
      'five segments led by a JOSE header (a JWE)',
      () => `${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`,
    ],
    ['two segments led by a JOSE header', () => `${b64({ alg: 'RS256' })}.${b64(claims())}`],
  ])('refuses %s', (_name, token) => {
    expect(looksLikeJwt(token())).toBe(false);
  });
});

describe('verifyIdToken refuses without asking for a key', () => {
  it.each<[string, () => string | Promise<string>, CallerAuthReason, string]>([
    [
      'a token that is not three base64url segments',
      () => 'ya29.opaque',
      CallerAuthReason.MALFORMED,
      'token is not a JWS compact serialization',
    ],
    [
      'a signature with base64 padding',
      async () => `${await signToken(key, claims())}=`,
      CallerAuthReason.MALFORMED,
      'token is not a JWS compact serialization',
    ],
    [
      'a token with leading whitespace',
      async () => ` ${await signToken(key, claims())}`,
      CallerAuthReason.MALFORMED,
      'token is not a JWS compact serialization',
    ],
    [
      'a header that is not JSON',
      () => 'aaaa.bbbb.cccc',
      CallerAuthReason.MALFORMED,
      'token does not decode as a JWT: Invalid Token or Protected Header formatting',
    ],
    [
      'a payload that is not JSON',
      () => `${b64({ alg: 'RS256' })}.bm90IGpzb24.c2ln`,
      CallerAuthReason.MALFORMED,
      'token does not decode as a JWT: ERR_JWT_INVALID: Failed to parse the decoded payload as JSON',
    ],
    [
      'no iss claim',
      () => raw({ alg: 'RS256' }, { ...claims(), iss: undefined }),
      CallerAuthReason.CLAIM_MISSING,
      'token has no "iss" claim',
    ],
    [
      'a numeric iss claim',
      () => raw({ alg: 'RS256' }, claims({ iss: 42 as unknown as string })),
      CallerAuthReason.CLAIM_INVALID,
      '"iss" claim is not a string',
    ],
    [
      'an issuer that is not configured',
      () => raw({ alg: 'RS256' }, claims({ iss: `${ISSUER}.evil.example` })),
      CallerAuthReason.ISSUER_UNKNOWN,
      `issuer "${ISSUER}.evil.example" is not configured`,
    ],
    [
      'alg none (with its empty signature)',
      () => new UnsecuredJWT(claims()).encode(),
      CallerAuthReason.ALGORITHM_NOT_ALLOWED,
      `alg "none" is not allowed for issuer ${ISSUER}`,
    ],
    [
      'no alg',
      () => raw({ typ: 'JWT' }, claims()),
      CallerAuthReason.ALGORITHM_NOT_ALLOWED,
      `alg undefined is not allowed for issuer ${ISSUER}`,
    ],
    [
      'an alg the issuer does not allow',
      () => raw({ alg: 'ES256' }, claims()),
      CallerAuthReason.ALGORITHM_NOT_ALLOWED,
      `alg "ES256" is not allowed for issuer ${ISSUER}`,
    ],
    [
      'a crit header',
      () => signToken(key, claims(), { crit: ['exp'], exp: 1 }),
      CallerAuthReason.CRITICAL_HEADER,
      'token has a "crit" header; no extension is supported',
    ],
    [
      'cty JWT (a nested token)',
      () => signToken(key, claims(), { cty: 'JWT' }),
      CallerAuthReason.NESTED_JWT,
      'token has content type "JWT"',
    ],
    [
      'cty application/jwt in any case',
      () => signToken(key, claims(), { cty: 'Application/JWT' }),
      CallerAuthReason.NESTED_JWT,
      'token has content type "Application/JWT"',
    ],
    [
      'any other cty',
      () => signToken(key, claims(), { cty: 'text/plain' }),
      CallerAuthReason.TYPE_MISMATCH,
      'token has content type "text/plain"',
    ],
    [
      'a non-string cty that reads as JWT',
      () => signToken(key, claims(), { cty: ['JWT'] as unknown as string }),
      CallerAuthReason.TYPE_MISMATCH,
      'token has content type ["JWT"]',
    ],
    [
      'typ at+jwt (an access token)',
      () => signToken(key, claims(), { typ: 'at+jwt' }),
      CallerAuthReason.TYPE_MISMATCH,
      'token type "at+jwt" is not JWT',
    ],
    [
      'a typ that only starts with JWT',
      () => signToken(key, claims(), { typ: 'JWT2' }),
      CallerAuthReason.TYPE_MISMATCH,
      'token type "JWT2" is not JWT',
    ],
    [
      'a non-string typ that reads as JWT',
      () => signToken(key, claims(), { typ: ['JWT'] as unknown as string }),
      CallerAuthReason.TYPE_MISMATCH,
      'token type ["JWT"] is not JWT',
    ],
    [
      'a numeric kid',
      () => signToken(key, claims(), { kid: 7 as unknown as string }),
      CallerAuthReason.MALFORMED,
      '"kid" header is not a string',
    ],
  ])('%s', async (_name, token, reason, detail) => {
    const { deps, keys } = setUp();
    const error = await refusal(await token(), deps);
    expect({ reason: error.reason, detail: error.detail }).toEqual({ reason, detail });
    expect(keys.getKey).not.toHaveBeenCalled();
  });
});

describe('verifyIdToken accepts', () => {
  it.each<[string, Record<string, unknown>]>([
    ['no typ', { typ: undefined }],
    ['typ jwt in lower case', { typ: 'jwt' }],
    ['typ application/jwt', { typ: 'application/jwt' }],
  ])('a token with %s', async (_name, header) => {
    const identity = await verifyIdToken(await signToken(key, claims(), header), setUp().deps);
    expect(identity.subject).toBe('caller');
  });

  it("asks the issuer's key source for the header's alg and kid only", async () => {
    const { deps, keys } = setUp();
    await verifyIdToken(await signToken(key, claims(), { jku: 'https://evil.example/jwks' }), deps);
    await verifyIdToken(await signToken(key, claims(), { kid: undefined }), deps);
    expect(keys.getKey.mock.calls.map(([selector]) => selector)).toEqual([
      { alg: 'RS256', kid: 'k1' },
      { alg: 'RS256', kid: undefined },
    ]);
  });
});

describe('verifyIdToken maps what jose refuses', () => {
  const detail = (what: string) => `issuer ${ISSUER}: ${what}`;

  it('a signature by another key', async () => {
    const error = await refusal(await signToken({ ...otherKey, kid: 'k1' }, claims()));
    expect(error.reason).toBe(CallerAuthReason.SIGNATURE_INVALID);
    expect(error.detail).toBe(detail('ERR_JWS_SIGNATURE_VERIFICATION_FAILED: signature verification failed'));
  });

  it('a signature segment that is not base64url, as malformed', async () => {
    const [head, payload] = (await signToken(key, claims())).split('.');
    const error = await refusal(`${head}.${payload}.A`);
    expect(error.reason).toBe(CallerAuthReason.MALFORMED);
    expect(error.detail).toBe(detail('ERR_JWS_INVALID: Failed to base64url decode the signature'));
  });

  it.each<[string, JWTPayload, CallerAuthReason, string]>([
    [
      'a missing sub',
      { sub: undefined },
      CallerAuthReason.CLAIM_MISSING,
      'ERR_JWT_CLAIM_VALIDATION_FAILED: missing required "sub" claim',
    ],
    [
      'a string exp',
      { exp: 'later' as unknown as number },
      CallerAuthReason.CLAIM_INVALID,
      'ERR_JWT_CLAIM_VALIDATION_FAILED: "exp" claim must be a number',
    ],
    [
      'a string nbf',
      { nbf: 'soon' as unknown as number },
      CallerAuthReason.CLAIM_INVALID,
      'ERR_JWT_CLAIM_VALIDATION_FAILED: "nbf" claim must be a number',
    ],
    [
      'a string iat',
      { iat: 'now' as unknown as number },
      CallerAuthReason.CLAIM_INVALID,
      'ERR_JWT_CLAIM_VALIDATION_FAILED: "iat" claim must be a number',
    ],
    [
      'an audience that is not configured',
      { aud: 'https://other.example' },
      CallerAuthReason.AUDIENCE_MISMATCH,
      'ERR_JWT_CLAIM_VALIDATION_FAILED: unexpected "aud" claim value',
    ],
    ['an empty sub', { sub: '' }, CallerAuthReason.CLAIM_INVALID, '"sub" claim is not a non-empty string'],
    [
      'a numeric sub',
      { sub: 42 as unknown as string },
      CallerAuthReason.CLAIM_INVALID,
      '"sub" claim is not a non-empty string',
    ],
  ])('%s', async (_name, overrides, reason, what) => {
    const error = await refusal(await signToken(key, claims(overrides)));
    expect(error.reason).toBe(reason);
    expect(error.detail).toBe(what.startsWith('ERR_') ? detail(what) : what);
  });

  it.each([
    ['Unauthenticated', () => rejectCaller(CallerAuthReason.KEY_UNKNOWN, 'no key')],
    [
      'Unavailable',
      () => verificationUnavailable(CallerAuthUnavailableReason.ISSUER_KEYS_UNAVAILABLE, 'down', undefined),
    ],
    ['a programming error', () => new TypeError('bug')],
  ])('not at all when the key source fails: its %s error passes as it is', async (_name, make) => {
    const failure = make();
    const { deps } = setUp(() => Promise.reject(failure));
    await expect(verifyIdToken(await signToken(key, claims()), deps)).rejects.toBe(failure);
  });
});

describe('verifyIdToken time checks, each boundary to the second', () => {
  const now = () => clock.seconds();
  const accepted = async (overrides: JWTPayload, tolerance = TOLERANCE) => {
    const { deps } = setUp();
    const identity = await verifyIdToken(await signToken(key, claims(overrides)), {
      ...deps,
      clockToleranceSeconds: tolerance,
    });
    expect(identity.subject).toBe('caller');
  };
  const refused = async (
    overrides: JWTPayload,
    reason: CallerAuthReason,
    what: string,
    tolerance = TOLERANCE,
  ) => {
    const { deps } = setUp();
    const error = await refusal(await signToken(key, claims(overrides)), {
      ...deps,
      clockToleranceSeconds: tolerance,
    });
    expect({ reason: error.reason, detail: error.detail }).toEqual({
      reason,
      detail: `issuer ${ISSUER}: ${what}`,
    });
  };

  it('exp: accepted until it is the tolerance in the past', async () => {
    await accepted({ iat: now() - 600, exp: now() - TOLERANCE + 1 });
    await refused(
      { iat: now() - 600, exp: now() - TOLERANCE },
      CallerAuthReason.EXPIRED,
      'ERR_JWT_EXPIRED: "exp" claim timestamp check failed',
    );
  });

  it('exp with no tolerance: accepted one second before, refused at now', async () => {
    await accepted({ iat: now() - 600, exp: now() + 1 }, 0);
    await refused(
      { iat: now() - 600, exp: now() },
      CallerAuthReason.EXPIRED,
      'ERR_JWT_EXPIRED: "exp" claim timestamp check failed',
      0,
    );
  });

  it('nbf: accepted up to the tolerance ahead', async () => {
    await accepted({ nbf: now() + TOLERANCE });
    await refused(
      { nbf: now() + TOLERANCE + 1 },
      CallerAuthReason.NOT_YET_VALID,
      'ERR_JWT_CLAIM_VALIDATION_FAILED: "nbf" claim timestamp check failed',
    );
  });

  it('iat: accepted up to the tolerance ahead', async () => {
    await accepted({ iat: now() + TOLERANCE });
    await refused(
      { iat: now() + TOLERANCE + 1 },
      CallerAuthReason.ISSUED_IN_FUTURE,
      'ERR_JWT_CLAIM_VALIDATION_FAILED: "iat" claim timestamp check failed (it should be in the past)',
    );
  });

  it('iat: accepted up to 24 h (plus the tolerance) old, whatever exp says', async () => {
    expect(MAX_TOKEN_AGE_SECONDS).toBe(86_400);
    await accepted({ iat: now() - 86_400 - TOLERANCE });
    await refused(
      { iat: now() - 86_400 - TOLERANCE - 1 },
      CallerAuthReason.TOO_OLD,
      'ERR_JWT_EXPIRED: "iat" claim timestamp check failed (too far in the past)',
    );
  });

  it('reads the time from deps.now, to the millisecond', async () => {
    const { deps } = setUp();
    const token = await signToken(key, claims({ exp: now() + 1 }));
    await expect(verifyIdToken(token, { ...deps, clockToleranceSeconds: 0 })).resolves.toBeDefined();
    const atExp = { ...deps, clockToleranceSeconds: 0, now: () => (now() + 1) * 1000 };
    expect((await refusal(token, atExp)).reason).toBe(CallerAuthReason.EXPIRED);
  });
});

describe('verifyIdToken returns the verified identity', () => {
  it('with exactly the members the token supports', async () => {
    const exp = clock.seconds() + 600;
    const identity = await verifyIdToken(
      await signToken(key, claims({ exp, email: 'dev@example.com', email_verified: true, team: 'a' })),
      setUp().deps,
    );
    expect(identity).toEqual({
      kind: 'id_token',
      issuer: ISSUER,
      subject: 'caller',
      email: 'dev@example.com',
      emailVerified: true,
      audience: AUDIENCE,
      expiresAtMs: exp * 1000,
      claims: expect.objectContaining({ team: 'a', email: 'dev@example.com' }),
    });
    expect(Object.isFrozen(identity.claims)).toBe(true);
  });

  it('without email or emailVerified members when the token has none', async () => {
    const identity = await verifyIdToken(await signToken(key, claims()), setUp().deps);
    expect(Object.keys(identity).sort()).toEqual([
      'audience',
      'claims',
      'expiresAtMs',
      'issuer',
      'kind',
      'subject',
    ]);
  });

  it.each<[string, unknown, string]>([
    ['a string aud naming the second audience', OTHER_AUDIENCE, OTHER_AUDIENCE],
    ['an array aud naming the second audience', ['https://else.example', OTHER_AUDIENCE], OTHER_AUDIENCE],
    ['an array aud naming both, in reverse order', [OTHER_AUDIENCE, AUDIENCE], AUDIENCE],
  ])('naming the configured audience matched: %s', async (_name, aud, audience) => {
    const identity = await verifyIdToken(await signToken(key, claims({ aud: aud as string })), setUp().deps);
    expect(identity.audience).toBe(audience);
  });

  it.each<[string, string, JWTPayload, string | undefined, boolean | undefined]>([
    ['another issuer: its email as is', ISSUER, { email: 'dev@example.com' }, 'dev@example.com', undefined],
    ['another issuer: not an empty email', ISSUER, { email: '' }, undefined, undefined],
    ['another issuer: not a non-string email', ISSUER, { email: 7 }, undefined, undefined],
    [
      'another issuer: its email even when it says unverified',
      ISSUER,
      { email: 'dev@example.com', email_verified: false },
      'dev@example.com',
      false,
    ],
    [
      'Google: a verified email',
      GOOGLE,
      { email: 'ci@p.iam.gserviceaccount.com', email_verified: true },
      'ci@p.iam.gserviceaccount.com',
      true,
    ],
    [
      'Google: not an unverified email',
      GOOGLE,
      { email: 'x@gmail.com', email_verified: false },
      undefined,
      false,
    ],
    ['Google: not an email without email_verified', GOOGLE, { email: 'x@gmail.com' }, undefined, undefined],
    [
      'Google: not an email whose email_verified is the string "true"',
      GOOGLE,
      { email: 'x@gmail.com', email_verified: 'true' },
      undefined,
      undefined,
    ],
  ])('with the email %s', async (_name, iss, overrides, email, emailVerified) => {
    const identity = await verifyIdToken(await signToken(key, claims({ iss, ...overrides })), setUp().deps);
    expect(identity.email).toBe(email);
    expect('email' in identity).toBe(email !== undefined);
    expect(identity.emailVerified).toBe(emailVerified);
    expect('emailVerified' in identity).toBe(emailVerified !== undefined);
  });
});
