import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnauthenticatedError, UnavailableError } from '../../../../../shared/errors.js';
import { createCallerAuthenticator } from '../../../../../functions/token/auth/authenticate-caller.js';
import { CallerAuthReason } from '../../../../../functions/token/auth/reasons.js';
import type { CallerAuthOptions } from '../../../../../functions/token/auth/types.js';
import { makeClock, makeKey, signToken } from './support/test-keys.js';
import { rejectionOf, serializeError, startTestServer, type TestServer } from './support/test-servers.js';

const GOOGLE = 'https://accounts.google.com';
const SA_EMAIL = 'batch@proj.iam.gserviceaccount.com';
const CLIENT_ID = '109876543210987654321';

let server: TestServer;
let clock: ReturnType<typeof makeClock>;
/** token → tokeninfo fields, as Google's tokeninfo answers them (every value a string). */
let valid: Map<string, Record<string, string>>;

beforeEach(async () => {
  clock = makeClock();
  valid = new Map();
  server = await startTestServer();
  server.route('/tokeninfo', (_req, res, url) => {
    const info = valid.get(url.searchParams.get('access_token') ?? '');
    res.writeHead(info ? 200 : 400, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(info ?? { error: 'invalid_token', error_description: 'Invalid Value' }));
  });
});

afterEach(async () => {
  await server.close();
});

function authenticator(overrides: Partial<CallerAuthOptions> = {}) {
  return createCallerAuthenticator({
    issuers: [{ issuer: GOOGLE, jwksUri: `${server.baseUrl}/certs`, audiences: ['https://tvs.example.com'] }],
    clockToleranceSeconds: 30,
    googleAccessTokens: { tokeninfoUrl: `${server.baseUrl}/tokeninfo` },
    fetchTimeoutMs: 1000,
    now: clock.now,
    ...overrides,
  });
}

let serial = 0;
/** Registers a fresh access token with tokeninfo fields like Google's for an SA token. */
function issue(fields: Record<string, string | undefined> = {}): string {
  const token = `ya29.c.b0Aaek${++serial}Xy_secretpart${serial}`;
  const base: Record<string, string | undefined> = {
    azp: CLIENT_ID,
    aud: CLIENT_ID,
    scope: 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email',
    exp: String(clock.seconds() + 3599),
    expires_in: '3599',
    email: SA_EMAIL,
    email_verified: 'true',
    access_type: 'online',
    ...fields,
  };
  valid.set(
    token,
    Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<string, string>,
  );
  return token;
}

describe('Google access tokens at tokeninfo', () => {
  it('returns the identity tokeninfo describes, sending the token only as access_token', async () => {
    const token = issue();
    const identity = await authenticator().authenticate(`Bearer ${token}`);
    expect(identity).toEqual({
      kind: 'google_access_token',
      issuer: GOOGLE,
      subject: CLIENT_ID,
      email: SA_EMAIL,
      emailVerified: true,
      audience: CLIENT_ID,
      expiresAtMs: (clock.seconds() + 3599) * 1000,
      claims: expect.objectContaining({ azp: CLIENT_ID, scope: expect.stringContaining('cloud-platform') }),
    });
    expect(Object.isFrozen(identity.claims)).toBe(true);
    expect(server.urls).toHaveLength(1);
    expect(server.urls[0].pathname).toBe('/tokeninfo');
    expect([...server.urls[0].searchParams.keys()]).toEqual(['access_token']);
    expect(server.urls[0].searchParams.get('access_token')).toBe(token);
  });

  it('refuses an opaque bearer that is not a Google access token without calling tokeninfo', async () => {
    const error = await rejectionOf(authenticator().authenticate('Bearer not-a-google-token-0123456789'));
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.ACCESS_TOKEN_INVALID);
    expect(server.count('/tokeninfo')).toBe(0);
  });

  it('accepts a service account token whose sub is its own client (azp)', async () => {
    const identity = await authenticator().authenticate(`Bearer ${issue({ sub: CLIENT_ID })}`);
    expect(identity.subject).toBe(CLIENT_ID);
  });

  // Access tokens carry no audience for this service: only a service account's own token counts.
  it.each([
    ['its sub differs from azp (a user token held by some OAuth app)', { sub: '1122334455' }],
    ['email_verified is "false"', { email_verified: 'false' }],
    ['email_verified is absent', { email_verified: undefined }],
    ['the token lacks the email scope', { email: undefined, email_verified: undefined }],
    ['the email is not a service account', { email: 'alice@example.com' }],
    [
      'the email only starts like a service account (suffix not anchored at the end)',
      { email: 'x@p.iam.gserviceaccount.com.evil.example' },
    ],
  ])('refuses an access token when %s', async (_name, fields) => {
    const error = await rejectionOf(authenticator().authenticate(`Bearer ${issue(fields)}`));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.ACCESS_TOKEN_NOT_SERVICE_ACCOUNT);
  });

  it('counts expires_in from when the request was sent when exp is absent', async () => {
    const sentAt = clock.ms;
    const identity = await authenticator().authenticate(
      `Bearer ${issue({ exp: undefined, expires_in: '1200' })}`,
    );
    expect(identity.expiresAtMs).toBe(sentAt + 1_200_000);
  });

  it('counts expires_in from the request, not from when a slow tokeninfo answered', async () => {
    const sentAt = clock.ms;
    const token = issue({ exp: undefined, expires_in: '1200' });
    const auth = authenticator();
    server.route('/tokeninfo', (_req, res, url) => {
      clock.advance(7_000); // tokeninfo takes 7 s to answer
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(valid.get(url.searchParams.get('access_token') ?? '')));
    });
    const identity = await auth.authenticate(`Bearer ${token}`);
    expect(server.count('/tokeninfo')).toBe(1);
    expect(clock.ms).toBe(sentAt + 7_000);
    expect(identity.expiresAtMs).toBe(sentAt + 1_200_000);
  });

  it('builds the identity only from fields tokeninfo sent: no audience key without aud, no email unless verified', async () => {
    const identity = await authenticator().authenticate(`Bearer ${issue({ aud: undefined })}`);
    expect(identity).toStrictEqual({
      kind: 'google_access_token',
      issuer: GOOGLE,
      subject: CLIENT_ID,
      email: SA_EMAIL,
      emailVerified: true,
      expiresAtMs: (clock.seconds() + 3599) * 1000,
      claims: expect.any(Object),
    });
    expect(identity.claims).not.toHaveProperty('access_token');
  });

  it('accepts email_verified sent as a JSON boolean true, and refuses boolean false', async () => {
    const boolTrue = issue();
    (valid.get(boolTrue) as Record<string, unknown>).email_verified = true;
    await expect(authenticator().authenticate(`Bearer ${boolTrue}`)).resolves.toMatchObject({
      email: SA_EMAIL,
      emailVerified: true,
    });
    const boolFalse = issue();
    (valid.get(boolFalse) as Record<string, unknown>).email_verified = false;
    const error = await rejectionOf(authenticator().authenticate(`Bearer ${boolFalse}`));
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.ACCESS_TOKEN_NOT_SERVICE_ACCOUNT);
  });

  it('takes the subject from sub when tokeninfo sends no azp', async () => {
    const identity = await authenticator().authenticate(
      `Bearer ${issue({ azp: undefined, sub: CLIENT_ID })}`,
    );
    expect(identity.subject).toBe(CLIENT_ID);
  });

  it('falls back to azp when sub is empty', async () => {
    const identity = await authenticator().authenticate(`Bearer ${issue({ sub: '' })}`);
    expect(identity.subject).toBe(CLIENT_ID);
  });

  it.each([
    ['digits followed by junk', `${makeClock().seconds() + 3599}x`],
    ['junk followed by digits', `x${makeClock().seconds() + 3599}`],
  ])('ignores an exp of %s and counts expires_in instead', async (_name, exp) => {
    const identity = await authenticator().authenticate(`Bearer ${issue({ exp, expires_in: '600' })}`);
    expect(identity.expiresAtMs).toBe(clock.ms + 600_000);
  });

  it('treats a token whose exp is exactly now as expired', async () => {
    expect(clock.ms % 1000).toBe(0);
    const error = await rejectionOf(
      authenticator().authenticate(`Bearer ${issue({ exp: String(clock.seconds()) })}`),
    );
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.EXPIRED);
  });

  it('sends the tokeninfo request through the configured fetch', async () => {
    let calls = 0;
    const fetchImpl: typeof fetch = (input, init) => {
      calls++;
      return fetch(input, init);
    };
    await authenticator({ fetchImpl }).authenticate(`Bearer ${issue()}`);
    expect(calls).toBe(1);
  });

  it.each<[string, () => string, CallerAuthReason, RegExp]>([
    [
      'no ya29. prefix',
      () => 'not-a-google-token-0123456789',
      CallerAuthReason.ACCESS_TOKEN_INVALID,
      /no ya29\. prefix/,
    ],
    [
      'invalid at tokeninfo',
      () => 'ya29.unknown-token-value',
      CallerAuthReason.ACCESS_TOKEN_INVALID,
      /tokeninfo: invalid_token/,
    ],
    [
      'neither sub nor azp',
      () => issue({ azp: undefined }),
      CallerAuthReason.CLAIM_MISSING,
      /neither "sub" nor "azp"/,
    ],
    [
      'neither exp nor expires_in',
      () => issue({ exp: undefined, expires_in: undefined }),
      CallerAuthReason.CLAIM_MISSING,
      /neither "exp" nor "expires_in"/,
    ],
    [
      'expired',
      () => issue({ exp: String(makeClock().seconds() - 1) }),
      CallerAuthReason.EXPIRED,
      /expired access token/,
    ],
    [
      'azp differs from sub',
      () => issue({ sub: '1122334455' }),
      CallerAuthReason.ACCESS_TOKEN_NOT_SERVICE_ACCOUNT,
      /azp differs from sub/,
    ],
    [
      'not a service account',
      () => issue({ email: 'alice@example.com' }),
      CallerAuthReason.ACCESS_TOKEN_NOT_SERVICE_ACCOUNT,
      /only from service accounts/,
    ],
  ])('says in the error detail why a token was refused: %s', async (_name, token, reason, detail) => {
    const error = await rejectionOf(authenticator().authenticate(`Bearer ${token()}`));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as UnauthenticatedError).reason).toBe(reason);
    expect((error as UnauthenticatedError).detail).toMatch(detail);
  });

  it.each<[string, (s: TestServer) => void, RegExp]>([
    [
      'a 500 that says invalid_token',
      (s) => s.route('/tokeninfo', (_req, res) => res.writeHead(500).end('{"error":"invalid_token"}')),
      /^tokeninfo answered HTTP 500$/,
    ],
    [
      'a 200 with a JSON array',
      (s) => s.route('/tokeninfo', (_req, res) => res.end('[]')),
      /^tokeninfo answered HTTP 200 without a JSON object$/,
    ],
    [
      'a 200 with JSON null',
      (s) => s.route('/tokeninfo', (_req, res) => res.end('null')),
      /^tokeninfo answered HTTP 200 without a JSON object$/,
    ],
    [
      'a 200 with a JSON string',
      (s) => s.route('/tokeninfo', (_req, res) => res.end('"ok"')),
      /^tokeninfo answered HTTP 200 without a JSON object$/,
    ],
    ['no answer within the timeout', (s) => s.hang('/tokeninfo'), /^tokeninfo request failed: timeout$/],
  ])('is unavailable, not a refusal, when tokeninfo gives %s', async (_name, setUp, detail) => {
    setUp(server);
    const error = await rejectionOf(authenticator({ fetchTimeoutMs: 200 }).authenticate(`Bearer ${issue()}`));
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).detail).toMatch(detail);
  });

  it('serves a verified token from the cache without asking tokeninfo again', async () => {
    const auth = authenticator();
    const token = issue();
    const first = await auth.authenticate(`Bearer ${token}`);
    valid.delete(token); // tokeninfo would now say invalid: a request would show
    clock.advance(3000_000);
    await expect(auth.authenticate(`Bearer ${token}`)).resolves.toEqual(first);
    expect(server.count('/tokeninfo')).toBe(1);
  });

  it('shares one tokeninfo request among concurrent checks of one token', async () => {
    const auth = authenticator();
    const token = issue();
    await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(`Bearer ${token}`)));
    expect(server.count('/tokeninfo')).toBe(1);
  });

  it('checks an expired cache entry again at tokeninfo', async () => {
    const auth = authenticator();
    const token = issue({ exp: String(clock.seconds() + 600) });
    await auth.authenticate(`Bearer ${token}`);
    clock.advance(600_000);
    valid.delete(token);
    const error = await rejectionOf(auth.authenticate(`Bearer ${token}`));
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.ACCESS_TOKEN_INVALID);
    expect(server.count('/tokeninfo')).toBe(2);
  });

  it('bounds the cache, evicting the least recently used token', async () => {
    const auth = authenticator({
      googleAccessTokens: { tokeninfoUrl: `${server.baseUrl}/tokeninfo`, cacheMaxEntries: 2 },
    });
    const [a, b, c] = [issue(), issue(), issue()];
    await auth.authenticate(`Bearer ${a}`);
    await auth.authenticate(`Bearer ${b}`);
    await auth.authenticate(`Bearer ${a}`); // a is now the most recently used
    await auth.authenticate(`Bearer ${c}`); // evicts b
    expect(server.count('/tokeninfo')).toBe(3);
    await auth.authenticate(`Bearer ${a}`);
    await auth.authenticate(`Bearer ${c}`);
    expect(server.count('/tokeninfo')).toBe(3);
    await auth.authenticate(`Bearer ${b}`);
    expect(server.count('/tokeninfo')).toBe(4);
  });

  it('rejects a token tokeninfo calls invalid and does not cache the failure', async () => {
    const auth = authenticator();
    const token = 'ya29.not-a-real-token-value';
    for (let i = 0; i < 2; i++) {
      const error = await rejectionOf(auth.authenticate(`Bearer ${token}`));
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.ACCESS_TOKEN_INVALID);
      expect(serializeError(error)).not.toContain(token);
    }
    expect(server.count('/tokeninfo')).toBe(2);
  });

  it.each<[string, Record<string, string | undefined>, CallerAuthReason]>([
    ['an exp in the past', { exp: String(makeClock().seconds() - 10) }, CallerAuthReason.EXPIRED],
    ['neither sub nor azp', { azp: undefined }, CallerAuthReason.CLAIM_MISSING],
    ['neither exp nor expires_in', { exp: undefined, expires_in: undefined }, CallerAuthReason.CLAIM_MISSING],
  ])('rejects a tokeninfo answer with %s', async (_name, fields, reason) => {
    const token = issue(fields);
    const error = await rejectionOf(authenticator().authenticate(`Bearer ${token}`));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as UnauthenticatedError).reason).toBe(reason);
    expect(serializeError(error)).not.toContain(token);
  });

  it.each<[string, (s: TestServer) => void]>([
    [
      'a 500',
      (s) => s.route('/tokeninfo', (_req, res) => res.writeHead(500).end('{"error":"internal_failure"}')),
    ],
    [
      'a 400 that is not invalid_token',
      (s) => s.route('/tokeninfo', (_req, res) => res.writeHead(400).end('{"error":"invalid_request"}')),
    ],
    ['a 200 that is not JSON', (s) => s.route('/tokeninfo', (_req, res) => res.end('<html>'))],
    [
      'an answer larger than maxDocumentBytes',
      (s) =>
        s.route('/tokeninfo', (_req, res) =>
          res.end(JSON.stringify({ azp: 'x', exp: '9999999999', pad: 'p'.repeat(4096) })),
        ),
    ],
    ['no answer at all', (s) => s.hang('/tokeninfo')],
    [
      'a redirect',
      (s) =>
        s.route('/tokeninfo', (req, res) =>
          res.writeHead(302, { location: `/elsewhere${req.url!.slice('/tokeninfo'.length)}` }).end(),
        ),
    ],
  ])('is unavailable when tokeninfo gives %s, without leaking the token', async (_name, setUp) => {
    setUp(server);
    const token = issue();
    const error = await rejectionOf(
      authenticator({ fetchTimeoutMs: 200, maxDocumentBytes: 2048 }).authenticate(`Bearer ${token}`),
    );
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).reason).toBe('TOKENINFO_UNAVAILABLE');
    expect(serializeError(error)).not.toContain(token);
    expect(server.count('/elsewhere')).toBe(0);
  });

  it('is unavailable when tokeninfo cannot be reached, without leaking the token', async () => {
    const auth = authenticator();
    await server.close();
    const token = issue();
    const error = await rejectionOf(auth.authenticate(`Bearer ${token}`));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(serializeError(error)).not.toContain(token);
    server = await startTestServer(); // for afterEach
  });

  it('still sends JWT bearers down the JWT path, never to tokeninfo', async () => {
    const key = await makeKey('k1');
    const now = clock.seconds();
    const jwt = await signToken(key, {
      iss: 'https://evil.example.com',
      aud: 'x',
      sub: 's',
      iat: now,
      exp: now + 60,
    });
    const error = await rejectionOf(authenticator().authenticate(`Bearer ${jwt}`));
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.ISSUER_UNKNOWN);
    expect(server.count()).toBe(0);
  });
});
