import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallerAuthenticator } from '../../../../../functions/token/auth/authenticate-caller.js';
import { CallerAuthReason } from '../../../../../functions/token/auth/reasons.js';
import { VerifiedTokenCache } from '../../../../../functions/token/auth/verified-token-cache.js';
import type { CallerIdentity } from '../../../../../functions/token/auth/types.js';
import { UnauthenticatedError } from '../../../../../shared/errors.js';
import { makeClock, makeKey, signToken, type TestKey } from './support/test-keys.js';
import { rejectionOf, startTestServer, type TestServer } from './support/test-servers.js';

const GOOGLE = 'https://accounts.google.com';
const AUDIENCE = 'https://tvs.example.com';
let server: TestServer;
let key: TestKey;
const clock = makeClock();

beforeAll(async () => {
  key = await makeKey('k1');
  server = await startTestServer();
  server.json('/certs', { keys: [key.jwk] }, { 'cache-control': 'max-age=3600' });
});
afterAll(() => server.close());

const identity = (expiresAtMs: number): CallerIdentity => ({
  kind: 'id_token',
  issuer: GOOGLE,
  subject: 's',
  expiresAtMs,
  claims: {},
});

describe('VerifiedTokenCache', () => {
  it('serves only the identical token, only until exp, and stays bounded', () => {
    let now = 0;
    const cache = new VerifiedTokenCache(2, () => now);
    const a = cache.get('token-a');
    cache.set(a.key, identity(1000));
    expect(cache.get('token-a').identity?.subject).toBe('s');
    expect(cache.get('token-a ').identity).toBeUndefined();
    now = 1000;
    expect(cache.get('token-a').identity).toBeUndefined();
    for (const t of ['x', 'y', 'z']) cache.set(cache.get(t).key, identity(5000));
    expect(cache.size).toBe(2);
  });

  it.each([0, -1, Number.NaN])('refuses a bound of %s entries', (maxEntries) => {
    expect(() => new VerifiedTokenCache(maxEntries, () => 0)).toThrow(
      new TypeError('maxEntries must be > 0'),
    );
  });

  it('with a bound of one entry keeps only the last token', () => {
    const cache = new VerifiedTokenCache(1, () => 0);
    cache.set(cache.get('a').key, identity(1000));
    cache.set(cache.get('b').key, identity(1000));
    expect(cache.size).toBe(1);
    expect(cache.get('a').identity).toBeUndefined();
    expect(cache.get('b').identity).toEqual(identity(1000));
  });

  it('keys entries by the SHA-256 of the token, never the token', () => {
    const { key } = new VerifiedTokenCache(1, () => 0).get('header.payload.signature');
    expect(key).toBe(createHash('sha256').update('header.payload.signature').digest('base64url'));
  });

  it('serves an entry until the millisecond before expiresAtMs, then forgets it', () => {
    let now = 999;
    const cache = new VerifiedTokenCache(2, () => now);
    cache.set(cache.get('a').key, identity(1000));
    expect(cache.get('a').identity).toEqual(identity(1000));
    now = 1000;
    expect(cache.get('a').identity).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry: a hit or a re-set counts as a use', () => {
    const cache = new VerifiedTokenCache(2, () => 0);
    // Computed apart from the cache, so that only get() and set() below touch its order.
    const key = (token: string) => createHash('sha256').update(token).digest('base64url');
    cache.set(key('a'), identity(1000));
    cache.set(key('b'), identity(1000));
    expect(cache.get('a').identity).toBeDefined(); // a is now more recent than b
    cache.set(key('c'), identity(1000));
    expect(cache.get('b').identity).toBeUndefined();
    cache.set(key('a'), identity(2000)); // replaces, and a becomes more recent than c
    expect(cache.size).toBe(2);
    cache.set(key('d'), identity(1000));
    expect(cache.get('c').identity).toBeUndefined();
    expect(cache.get('a').identity).toEqual(identity(2000));
    expect(cache.get('d').identity).toBeDefined();
  });
});

describe('authenticate with the verified-token cache', () => {
  const auth = () =>
    createCallerAuthenticator({
      issuers: [{ issuer: GOOGLE, jwksUri: `${server.baseUrl}/certs`, audiences: [AUDIENCE] }],
      clockToleranceSeconds: 30,
      now: clock.now,
    });

  it('accepts a repeated token, and refuses it once expired even though it was cached', async () => {
    const a = auth();
    const now = clock.seconds();
    const token = await signToken(key, {
      iss: GOOGLE,
      aud: AUDIENCE,
      sub: 'caller',
      iat: now,
      exp: now + 60,
    });
    await expect(a.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ subject: 'caller' });
    await expect(a.authenticate(`Bearer ${token}`)).resolves.toMatchObject({ subject: 'caller' });
    clock.advance(120_000); // past exp and past the 30 s tolerance
    const error = await rejectionOf(a.authenticate(`Bearer ${token}`));
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.EXPIRED);
  });

  it('never caches a refusal: a token for another audience is refused every time', async () => {
    const a = auth();
    const now = clock.seconds();
    const token = await signToken(key, {
      iss: GOOGLE,
      aud: 'https://other.example',
      sub: 'caller',
      iat: now,
      exp: now + 600,
    });
    for (let i = 0; i < 2; i++) {
      const error = await rejectionOf(a.authenticate(`Bearer ${token}`));
      expect((error as UnauthenticatedError).reason).toBe(CallerAuthReason.AUDIENCE_MISMATCH);
    }
  });
});
