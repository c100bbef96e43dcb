import type { JWK } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnauthenticatedError, UnavailableError } from '../../../../../shared/errors.js';
import { createCallerAuthenticator } from '../../../../../functions/token/auth/authenticate-caller.js';
import { CallerAuthReason } from '../../../../../functions/token/auth/reasons.js';
import { JWKS_STALE_MAX_MS } from '../../../../../functions/token/auth/issuer-keys.js';
import type { CallerAuthOptions } from '../../../../../functions/token/auth/types.js';
import { makeClock, makeKey, signToken, type TestKey } from './support/test-keys.js';
import { rejectionOf, serializeError, startTestServer, type TestServer } from './support/test-servers.js';

const ISSUER = 'https://issuer.example.com';
const AUDIENCE = 'https://tvs.example.com';
const HOUR_MS = 3600_000;

let k1: TestKey;
let k2: TestKey;
let server: TestServer;
let clock: ReturnType<typeof makeClock>;

beforeAll(async () => {
  [k1, k2] = await Promise.all([makeKey('k1'), makeKey('k2')]);
});

beforeEach(async () => {
  server = await startTestServer();
  clock = makeClock();
});

afterEach(async () => {
  await server.close();
});

function jwks(keys: JWK[], cacheControl = 'public, max-age=3600'): void {
  server.json('/jwks', { keys }, { 'cache-control': cacheControl });
}

function authenticator(overrides: Partial<CallerAuthOptions> = {}) {
  return createCallerAuthenticator({
    issuers: [{ issuer: ISSUER, jwksUri: `${server.baseUrl}/jwks`, audiences: [AUDIENCE] }],
    clockToleranceSeconds: 30,
    now: clock.now,
    ...overrides,
  });
}

function discoveringAuthenticator(overrides: Partial<CallerAuthOptions> = {}) {
  return authenticator({ issuers: [{ issuer: server.baseUrl, audiences: [AUDIENCE] }], ...overrides });
}

async function bearer(key: TestKey, iss = ISSUER): Promise<string> {
  const now = clock.seconds();
  return `Bearer ${await signToken(key, { iss, aud: AUDIENCE, sub: 'caller', iat: now, exp: now + 3600 })}`;
}

async function expectUnavailable(promise: Promise<unknown>): Promise<string> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(UnavailableError);
  expect((error as UnavailableError).reason).toBe('ISSUER_KEYS_UNAVAILABLE');
  return serializeError(error);
}

async function expectReason(promise: Promise<unknown>, reason: CallerAuthReason): Promise<void> {
  const error = await rejectionOf(promise);
  expect(error).toBeInstanceOf(UnauthenticatedError);
  expect((error as UnauthenticatedError).reason).toBe(reason);
}

describe('issuer key cache', () => {
  it('fetches the JWKS once for many verifications', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    // A new token each time (1 s apart), so that the verified-token cache cannot answer for the keys.
    for (let i = 0; i < 20; i++) {
      await auth.authenticate(await bearer(k1));
      clock.advance(1000);
    }
    expect(server.count('/jwks')).toBe(1);
  });

  it('coalesces 100 parallel verifications on a cold cache into one fetch', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    const header = await bearer(k1);
    const identities = await Promise.all(Array.from({ length: 100 }, () => auth.authenticate(header)));
    expect(identities.every((identity) => identity.subject === 'caller')).toBe(true);
    expect(server.count('/jwks')).toBe(1);
  });

  it.each([
    ['Cache-Control max-age when it is shorter than the bound', 'max-age=120', {}, 120_000],
    ['max-age minus Age', 'max-age=200', { age: '100' }, 100_000],
    ['jwksCacheMaxAgeMs when max-age is longer', 'max-age=86400', {}, HOUR_MS],
    ['jwksCacheMaxAgeMs when there is no max-age', 'public', {}, HOUR_MS],
    ['the cooldown when max-age is 0', 'max-age=0', {}, 30_000],
    ['the cooldown when the response says no-store', 'no-store', {}, 30_000],
  ])('keeps the JWKS fresh for %s', async (_name, cacheControl, extraHeaders, freshMs) => {
    server.json('/jwks', { keys: [k1.jwk] }, { 'cache-control': cacheControl, ...extraHeaders });
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    clock.advance(freshMs - 1000);
    await auth.authenticate(await bearer(k1));
    expect(server.count('/jwks')).toBe(1);
    clock.advance(2000);
    await auth.authenticate(await bearer(k1));
    expect(server.count('/jwks')).toBe(2);
  });

  it('refetches at most once per cooldown for unknown kids, then rejects them without fetching', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    clock.advance(30_000);
    await expectReason(auth.authenticate(await bearer(k2)), CallerAuthReason.KEY_UNKNOWN);
    expect(server.count('/jwks')).toBe(2);
    for (let i = 0; i < 10; i++)
      await expectReason(auth.authenticate(await bearer(k2)), CallerAuthReason.KEY_UNKNOWN);
    clock.advance(29_000);
    await expectReason(auth.authenticate(await bearer(k2)), CallerAuthReason.KEY_UNKNOWN);
    expect(server.count('/jwks')).toBe(2);
    clock.advance(1000);
    await expectReason(auth.authenticate(await bearer(k2)), CallerAuthReason.KEY_UNKNOWN);
    expect(server.count('/jwks')).toBe(3);
  });

  it('makes one refetch for a burst of tokens with unknown kids', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    clock.advance(30_000);
    const header = await bearer(k2);
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => auth.authenticate(header)));
    expect(
      results.every(
        (r) =>
          r.status === 'rejected' &&
          (r.reason as UnauthenticatedError).reason === CallerAuthReason.KEY_UNKNOWN,
      ),
    ).toBe(true);
    expect(server.count('/jwks')).toBe(2);
  });

  it('finds a key rotated in after the last fetch once the cooldown has passed', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    jwks([k1.jwk, k2.jwk]);
    clock.advance(30_000);
    await expect(auth.authenticate(await bearer(k2))).resolves.toMatchObject({ subject: 'caller' });
    expect(server.count('/jwks')).toBe(2);
  });

  it('ignores keys for encryption and symmetric keys in the JWKS', async () => {
    jwks([
      { ...k1.jwk, use: 'enc' },
      { kty: 'oct', kid: 'k-oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0' },
      k2.jwk,
    ]);
    const auth = authenticator();
    await expect(auth.authenticate(await bearer(k2))).resolves.toMatchObject({ subject: 'caller' });
    await expectReason(auth.authenticate(await bearer(k1)), CallerAuthReason.KEY_UNKNOWN);
  });

  it('keeps verifying with cached keys while the JWKS endpoint fails, for a bounded stale period', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    server.route('/jwks', (_req, res) => res.writeHead(503).end());
    clock.advance(2 * HOUR_MS);
    await expect(auth.authenticate(await bearer(k1))).resolves.toMatchObject({ subject: 'caller' });
    expect(server.count('/jwks')).toBe(2);
    clock.advance(1000); // a new token, so that the verified-token cache cannot answer for the keys
    await auth.authenticate(await bearer(k1)); // inside the cooldown: no new attempt
    expect(server.count('/jwks')).toBe(2);
    clock.advance(29_000);
    await auth.authenticate(await bearer(k1));
    expect(server.count('/jwks')).toBe(3);
    clock.advance(24 * HOUR_MS); // now past max-age (1 h) + 24 h since the last good fetch
    await expectUnavailable(auth.authenticate(await bearer(k1)));
  });

  it('keeps verifying with cached keys when the JWKS server is gone', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    await server.close();
    clock.advance(2 * HOUR_MS);
    await expect(auth.authenticate(await bearer(k1))).resolves.toMatchObject({ subject: 'caller' });
  });

  it('after a failed cold fetch, answers unavailable without refetching for a short backoff, then recovers', async () => {
    server.route('/jwks', (_req, res) => res.writeHead(500).end());
    const auth = authenticator();
    await expectUnavailable(auth.authenticate(await bearer(k1)));
    jwks([k1.jwk]);
    // Requests during the backoff do not drive fetches at their own rate.
    await expectUnavailable(auth.authenticate(await bearer(k1)));
    await expectUnavailable(auth.authenticate(await bearer(k1)));
    expect(server.count('/jwks')).toBe(1);
    clock.advance(5_000);
    await expect(auth.authenticate(await bearer(k1))).resolves.toMatchObject({ subject: 'caller' });
    expect(server.count('/jwks')).toBe(2);
  });

  it('reports an unknown-kid refetch that fails as unavailable', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    server.route('/jwks', (_req, res) => res.writeHead(502).end());
    clock.advance(30_000);
    await expectUnavailable(auth.authenticate(await bearer(k2)));
  });

  it('times out a JWKS server that never answers', async () => {
    server.hang('/jwks');
    const serialized = await expectUnavailable(
      authenticator({ fetchTimeoutMs: 200 }).authenticate(await bearer(k1)),
    );
    expect(serialized).toContain('timed out after 200 ms');
  });

  it('times out a discovery endpoint that never answers', async () => {
    server.hang('/.well-known/openid-configuration');
    const serialized = await expectUnavailable(
      discoveringAuthenticator({ fetchTimeoutMs: 200 }).authenticate(await bearer(k1, server.baseUrl)),
    );
    expect(serialized).toContain('timed out after 200 ms');
  });
});

describe('issuer key cache boundaries, to the millisecond', () => {
  it('uses the JWKS until the millisecond before max-age ends, and refetches at its end', async () => {
    jwks([k1.jwk], 'max-age=120');
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    clock.advance(120_000 - 1);
    await auth.authenticate(await bearer(k1));
    expect(server.count('/jwks')).toBe(1);
    clock.advance(1);
    await auth.authenticate(await bearer(k1));
    expect(server.count('/jwks')).toBe(2);
  });

  it('uses stale keys of a failing endpoint until max-age + 24 h after the last good fetch, not at its end', async () => {
    jwks([k1.jwk], 'max-age=3600');
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    server.route('/jwks', (_req, res) => res.writeHead(503).end());
    clock.advance(HOUR_MS + JWKS_STALE_MAX_MS - 1);
    await expect(auth.authenticate(await bearer(k1))).resolves.toMatchObject({ subject: 'caller' });
    expect(server.count('/jwks')).toBe(2);
    clock.advance(1);
    await expectUnavailable(auth.authenticate(await bearer(k1)));
    expect(server.count('/jwks')).toBe(3);
  });

  it.each([
    ['reuses the discovered jwks_uri just before', 60_000 - 1, 1],
    ['rediscovers jwks_uri once', 60_000, 2],
  ])('%s jwksCacheMaxAgeMs has passed since discovery', async (_name, elapsedMs, discoveries) => {
    server.json('/.well-known/openid-configuration', {
      issuer: server.baseUrl,
      jwks_uri: `${server.baseUrl}/jwks`,
    });
    jwks([k1.jwk], 'max-age=30');
    const auth = discoveringAuthenticator({ jwksCacheMaxAgeMs: 60_000 });
    await auth.authenticate(await bearer(k1, server.baseUrl));
    clock.advance(elapsedMs);
    await auth.authenticate(await bearer(k1, server.baseUrl));
    expect(server.count('/jwks')).toBe(2);
    expect(server.count('/.well-known/openid-configuration')).toBe(discoveries);
  });
});

describe('issuer key cache while a refetch is in flight', () => {
  it('stops using a key dropped from the JWKS for every request that arrives during the refetch', async () => {
    jwks([k1.jwk], 'max-age=0'); // fresh for the 30 s cooldown only
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    jwks([k2.jwk]);
    clock.advance(30_000);
    const header = await bearer(k1);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => auth.authenticate(header)));
    expect(results.map((r) => r.status === 'rejected' && (r.reason as UnauthenticatedError).reason)).toEqual(
      Array.from({ length: 5 }, () => CallerAuthReason.KEY_UNKNOWN),
    );
    expect(server.count('/jwks')).toBe(2);
  });

  it('lets a burst of tokens with a newly rotated-in kid wait for the one refetch and verify', async () => {
    jwks([k1.jwk]);
    const auth = authenticator();
    await auth.authenticate(await bearer(k1));
    jwks([k1.jwk, k2.jwk]);
    clock.advance(30_000);
    const header = await bearer(k2);
    const identities = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(header)));
    expect(identities.every((identity) => identity.subject === 'caller')).toBe(true);
    expect(server.count('/jwks')).toBe(2);
  });
});

describe('with nothing cached, an issuer whose keys cannot be fetched is unavailable', () => {
  const big = { keys: [k1Placeholder()], padding: 'x'.repeat(4096) };
  function k1Placeholder(): JWK {
    return { kty: 'RSA', kid: 'pad', n: 'AQAB', e: 'AQAB' };
  }

  it.each<[string, (s: TestServer) => void]>([
    ['a 503 from the JWKS', (s) => s.route('/jwks', (_req, res) => res.writeHead(503).end())],
    ['a JWKS that is not JSON', (s) => s.route('/jwks', (_req, res) => res.end('<html>'))],
    ['a JWKS without a keys array', (s) => s.json('/jwks', { keys: 'none' })],
    [
      'a JWKS with only encryption and symmetric keys',
      (s) =>
        s.json('/jwks', {
          keys: [
            { ...k1.jwk, use: 'enc' },
            { kty: 'oct', k: 'c2VjcmV0' },
          ],
        }),
    ],
    ['a JWKS larger than maxDocumentBytes', (s) => s.json('/jwks', big)],
    [
      'a JWKS that redirects elsewhere',
      (s) => {
        s.route('/jwks', (_req, res) => res.writeHead(302, { location: '/elsewhere' }).end());
        s.json('/elsewhere', { keys: [k1.jwk] });
      },
    ],
  ])('%s', async (_name, setUp) => {
    setUp(server);
    const header = await bearer(k1);
    const serialized = await expectUnavailable(
      authenticator({ maxDocumentBytes: 2048 }).authenticate(header),
    );
    expect(serialized).not.toContain(header.slice('Bearer '.length).split('.')[2]);
    expect(server.count('/elsewhere')).toBe(0);
  });

  it.each<[string, (s: TestServer) => void]>([
    [
      'discovery naming another issuer',
      (s) =>
        s.json('/.well-known/openid-configuration', {
          issuer: 'https://evil.example.com',
          jwks_uri: `${s.baseUrl}/jwks`,
        }),
    ],
    ['discovery without jwks_uri', (s) => s.json('/.well-known/openid-configuration', { issuer: s.baseUrl })],
    [
      'discovery with a plain-http non-loopback jwks_uri',
      (s) =>
        s.json('/.well-known/openid-configuration', {
          issuer: s.baseUrl,
          jwks_uri: 'http://keys.example.com/jwks',
        }),
    ],
    [
      'discovery larger than maxDocumentBytes',
      (s) =>
        s.json('/.well-known/openid-configuration', {
          issuer: s.baseUrl,
          jwks_uri: `${s.baseUrl}/jwks`,
          padding: 'x'.repeat(4096),
        }),
    ],
    ['a missing discovery document', () => undefined],
  ])('%s', async (_name, setUp) => {
    jwks([k1.jwk]);
    setUp(server);
    await expectUnavailable(
      discoveringAuthenticator({ maxDocumentBytes: 2048 }).authenticate(await bearer(k1, server.baseUrl)),
    );
    expect(server.count('/jwks')).toBe(0);
  });
});

describe('OIDC discovery', () => {
  it("reads jwks_uri from the issuer's own document and caches it", async () => {
    server.json('/.well-known/openid-configuration', {
      issuer: server.baseUrl,
      jwks_uri: `${server.baseUrl}/jwks`,
    });
    jwks([k1.jwk], 'max-age=60');
    const auth = discoveringAuthenticator();
    await auth.authenticate(await bearer(k1, server.baseUrl));
    clock.advance(61_000);
    await auth.authenticate(await bearer(k1, server.baseUrl));
    expect(server.count('/jwks')).toBe(2);
    expect(server.count('/.well-known/openid-configuration')).toBe(1);
  });

  it('keeps the last jwks_uri when rediscovery fails', async () => {
    server.json('/.well-known/openid-configuration', {
      issuer: server.baseUrl,
      jwks_uri: `${server.baseUrl}/jwks`,
    });
    jwks([k1.jwk], 'max-age=3600');
    const auth = discoveringAuthenticator();
    await auth.authenticate(await bearer(k1, server.baseUrl));
    server.route('/.well-known/openid-configuration', (_req, res) => res.writeHead(500).end());
    jwks([k2.jwk]);
    clock.advance(HOUR_MS + 1000);
    await expect(auth.authenticate(await bearer(k2, server.baseUrl))).resolves.toMatchObject({
      subject: 'caller',
    });
    expect(server.count('/.well-known/openid-configuration')).toBe(2);
  });
});

describe('issuer key selection details', () => {
  async function detailOf(promise: Promise<unknown>): Promise<string | undefined> {
    return ((await rejectionOf(promise)) as UnauthenticatedError | UnavailableError).detail;
  }

  function noKid(jwk: JWK): JWK {
    const { kid: _kid, ...rest } = jwk;
    return rest;
  }

  it.each<[string, () => unknown]>([
    ['null', () => null],
    ['a string', () => 'key'],
    ['an array holding a key', () => [k1.jwk]],
    ['a key without kty', () => ({ ...k1.jwk, kty: undefined })],
    ['a key with a non-string kty', () => ({ ...k1.jwk, kty: 3 })],
    ['an oct key', () => ({ kty: 'oct', kid: 'k1', alg: 'RS256' })],
    ['an encryption key', () => ({ ...k1.jwk, use: 'enc' })],
    ...['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].map((member): [string, () => unknown] => [
      `a key with private member ${member}`,
      () => ({ ...k1.jwk, [member]: 'AQAB' }),
    ]),
  ])('ignores %s, so a JWKS holding only it has no signing keys', async (_name, entry) => {
    server.json('/jwks', { keys: [entry()] }, { 'cache-control': 'max-age=3600' });
    const auth = authenticator();
    const detail = await detailOf(auth.authenticate(await bearer(k1)));
    expect(detail).toBe(`issuer ${ISSUER}: JWKS at ${server.baseUrl}/jwks has no public signing keys`);
  });

  it('accepts a public key without a use member', async () => {
    const { use: _use, ...jwk } = k1.jwk;
    jwks([jwk]);
    await expect(authenticator().authenticate(await bearer(k1))).resolves.toMatchObject({
      subject: 'caller',
    });
  });

  it('names a JWKS without a keys array', async () => {
    server.json('/jwks', { notKeys: [] }, { 'cache-control': 'max-age=3600' });
    const detail = await detailOf(authenticator().authenticate(await bearer(k1)));
    expect(detail).toBe(`issuer ${ISSUER}: JWKS at ${server.baseUrl}/jwks has no "keys" array`);
  });

  it('names the kid and alg that no key matches', async () => {
    jwks([k1.jwk]);
    const detail = await detailOf(authenticator().authenticate(await bearer(k2)));
    expect(detail).toBe(`issuer ${ISSUER}: no key matches kid "k2" and alg "RS256"`);
  });

  it('rejects a token without kid when several keys match its alg', async () => {
    jwks([noKid(k1.jwk), noKid(k2.jwk)]);
    const now = clock.seconds();
    const token = await signToken(
      k1,
      { iss: ISSUER, aud: AUDIENCE, sub: 'caller', iat: now, exp: now + 3600 },
      { kid: undefined },
    );
    const error = await rejectionOf(authenticator().authenticate(`Bearer ${token}`));
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.KEY_UNKNOWN);
    expect((error as UnauthenticatedError).detail).toBe(
      `issuer ${ISSUER}: the token has no kid and several keys match`,
    );
  });

  it('rejects a token whose matching key cannot be imported, naming why', async () => {
    jwks([{ kty: 'RSA', kid: 'k1', alg: 'RS256', use: 'sig', e: 'AQAB' }]);
    const error = await rejectionOf(authenticator().authenticate(await bearer(k1)));
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.KEY_UNKNOWN);
    // The cause is WebCrypto's, e.g. "DataError: Invalid keyData" (its wording is Node's).
    expect((error as UnauthenticatedError).detail).toMatch(
      /^issuer https:\/\/issuer\.example\.com: the matching key is unusable \(\w*Error: .+\)$/,
    );
  });

  it('selects the only key for a token without kid', async () => {
    jwks([noKid(k1.jwk)]);
    const now = clock.seconds();
    const token = await signToken(
      k1,
      { iss: ISSUER, aud: AUDIENCE, sub: 'caller', iat: now, exp: now + 3600 },
      { kid: undefined },
    );
    await expect(authenticator().authenticate(`Bearer ${token}`)).resolves.toMatchObject({
      subject: 'caller',
    });
  });
});
