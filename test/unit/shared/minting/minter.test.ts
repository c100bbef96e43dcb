/**
 * The minter's cache keys, lifetime rules, key re-read and retry decision, against fakes of OUR
 * interfaces (the keyless backend, the key store) and, for the key backend, a scripted token
 * endpoint behind `fetchImpl`: what makes two requests share a token, and what must not; which
 * failures are retried and which are final.
 */
import { tokenFingerprint } from '../../../../shared/audit-log.js';
import { decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  InternalError,
  InvalidArgumentError,
  PermissionDeniedError,
  UnavailableError,
  UpstreamUnavailable,
} from '../../../../shared/errors.js';
import type { LoadedKey, ServiceAccountKeyStore } from '../../../../shared/minting/key-store.js';
import {
  createMinter,
  scopeKey,
  type KeylessBackend,
  type MintedToken,
  type TargetServiceAccount,
} from '../../../../shared/minting/minter.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const KEYLESS: TargetServiceAccount = { email: 'keyless@p.iam.gserviceaccount.com', backend: 'keyless' };
const KEYED: TargetServiceAccount = {
  email: 'keyed@p.iam.gserviceaccount.com',
  backend: 'key',
  keySecret: 'projects/p/secrets/k/versions/current',
};
const A = 'https://www.googleapis.com/auth/cloud-platform';
const B = 'https://www.googleapis.com/auth/userinfo.email';

interface Call {
  kind: 'access' | 'id';
  email: string;
  scopes?: readonly string[];
  lifetimeSeconds?: number;
  audience?: string;
  includeEmail?: boolean;
}

/** A keyless backend that mints a distinct token per call and records what it was asked. */
function fakeKeyless(): KeylessBackend & { calls: Call[] } {
  const calls: Call[] = [];
  const minted = (): MintedToken => ({ token: `token-${calls.length}`, expiresAtMs: NOW + 3600_000 });
  return {
    calls,
    accessToken(email, scopes, _signal, lifetimeSeconds) {
      calls.push({ kind: 'access', email, scopes, lifetimeSeconds });
      return Promise.resolve(minted());
    },
    idToken(email, audience, includeEmail) {
      calls.push({ kind: 'id', email, audience, includeEmail });
      return Promise.resolve(minted());
    },
  };
}

/**
 * A key store that records reads and fails them (these tests never exchange a key): first with
 * each error of `outages`, then with FAKE_NO_KEY.
 */
function fakeKeyStore(outages: Error[] = []): ServiceAccountKeyStore & { reads: string[] } {
  const reads: string[] = [];
  const store = {
    reads,
    get: (secret: string) => {
      reads.push(secret);
      return Promise.reject(
        outages.shift() ?? new InvalidArgumentError('fake key store: no key', { reason: 'FAKE_NO_KEY' }),
      );
    },
    reload: () => Promise.reject(new Error('not used')),
  };
  return store as unknown as ServiceAccountKeyStore & { reads: string[] };
}

function minter(options: { outages?: Error[]; withoutKeyless?: boolean } = {}) {
  const keyless = fakeKeyless();
  const keys = fakeKeyStore(options.outages);
  const m = createMinter({
    keys,
    ...(options.withoutKeyless ? {} : { keyless }),
    cache: { maxEntries: 100, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
    upstream: { deadlineMs: 2000, maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    now: () => NOW,
  });
  return { m, keyless, keys };
}

describe('scopeKey', () => {
  it('sorts and de-duplicates scopes', () => {
    expect(scopeKey([B, A, B])).toBe(`${A} ${B}`);
  });
});

describe('access token cache key', () => {
  it('serves the same token for the same scopes in another order, asking the backend once with sorted scopes', async () => {
    const { m, keyless } = minter();
    const first = await m.accessToken(KEYLESS, [B, A], 600);
    const second = await m.accessToken(KEYLESS, [A, B, A], 600);
    expect(second).toEqual({
      token: first.token,
      expiresAtMs: first.expiresAtMs,
      fingerprint: tokenFingerprint(first.token),
      cacheHit: true,
    }); // a hit: no `mint` (issue 16)
    expect(keyless.calls).toEqual([
      { kind: 'access', email: KEYLESS.email, scopes: [A, B], lifetimeSeconds: 600 },
    ]);
  });

  it('mints separately for different scopes', async () => {
    const { m, keyless } = minter();
    const first = await m.accessToken(KEYLESS, [A], 600);
    const second = await m.accessToken(KEYLESS, [A, B], 600);
    expect(second.token).not.toBe(first.token);
    expect(second.cacheHit).toBe(false);
    expect(keyless.calls).toHaveLength(2);
  });

  it('mints separately for a different keyless lifetime (a 10-minute token is never served as a 1-hour one, or back)', async () => {
    const { m, keyless } = minter();
    await m.accessToken(KEYLESS, [A], 600);
    const longer = await m.accessToken(KEYLESS, [A], 3600);
    expect(longer.cacheHit).toBe(false);
    expect(keyless.calls.map((c) => c.lifetimeSeconds)).toEqual([600, 3600]);
  });

  it('mints separately for another service account', async () => {
    const { m, keyless } = minter();
    await m.accessToken(KEYLESS, [A], 600);
    const other = await m.accessToken(
      { email: 'other@p.iam.gserviceaccount.com', backend: 'keyless' },
      [A],
      600,
    );
    expect(other.cacheHit).toBe(false);
    expect(keyless.calls.map((c) => c.email)).toEqual([KEYLESS.email, 'other@p.iam.gserviceaccount.com']);
  });
});

describe('ID token cache key', () => {
  it('never serves a token minted without email to a caller who asked for email, or back', async () => {
    const { m, keyless } = minter();
    const without = await m.idToken(KEYLESS, 'https://svc.example.com', false);
    const withEmail = await m.idToken(KEYLESS, 'https://svc.example.com', true);
    expect(withEmail.cacheHit).toBe(false);
    expect(withEmail.token).not.toBe(without.token);
    const again = await m.idToken(KEYLESS, 'https://svc.example.com', false);
    expect(again).toEqual({
      token: without.token,
      expiresAtMs: without.expiresAtMs,
      fingerprint: tokenFingerprint(without.token),
      cacheHit: true,
    }); // a hit: no `mint` (issue 16)
    expect(keyless.calls).toEqual([
      { kind: 'id', email: KEYLESS.email, audience: 'https://svc.example.com', includeEmail: false },
      { kind: 'id', email: KEYLESS.email, audience: 'https://svc.example.com', includeEmail: true },
    ]);
  });

  it('mints separately per audience', async () => {
    const { m, keyless } = minter();
    await m.idToken(KEYLESS, 'https://a.example.com', true);
    const other = await m.idToken(KEYLESS, 'https://b.example.com', true);
    expect(other.cacheHit).toBe(false);
    expect(keyless.calls.map((c) => c.audience)).toEqual(['https://a.example.com', 'https://b.example.com']);
  });

  it('keeps access and ID tokens apart', async () => {
    const { m, keyless } = minter();
    await m.accessToken(KEYLESS, [A], 3600);
    const id = await m.idToken(KEYLESS, A, false);
    expect(id.cacheHit).toBe(false);
    expect(keyless.calls.map((c) => c.kind)).toEqual(['access', 'id']);
  });
});

describe('lifetime cap of the key backend', () => {
  it('refuses a key-backed access token shorter than one hour, before reading the key', async () => {
    const { m, keys } = minter();
    const error = await m.accessToken(KEYED, [A], 3599).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).reason).toBe('LIFETIME_NOT_SUPPORTED_BY_BACKEND');
    expect((error as InvalidArgumentError).metadata).toEqual({ field: 'lifetime' });
    expect((error as InvalidArgumentError).message).toContain(KEYED.email);
    expect(keys.reads).toEqual([]);
  });

  it.each([3600, undefined])('goes on to the key for a lifetime of %s', async (lifetimeSeconds) => {
    const { m, keys } = minter();
    const error = await m.accessToken(KEYED, [A], lifetimeSeconds).catch((e: unknown) => e);
    expect((error as InvalidArgumentError).reason).toBe('FAKE_NO_KEY');
    expect(keys.reads).toEqual([KEYED.keySecret]);
  });

  it('lets a keyless service account mint any lifetime IAM allows', async () => {
    const { m, keyless } = minter();
    await m.accessToken(KEYLESS, [A], 300);
    expect(keyless.calls[0].lifetimeSeconds).toBe(300);
  });
});

describe('failures', () => {
  it('retries a Secret Manager outage while loading a key, within the same request', async () => {
    const { m, keys } = minter({
      outages: [
        new UpstreamUnavailable('Secret Manager is unavailable.', { reason: 'SECRET_MANAGER_UNAVAILABLE' }),
      ],
    });
    const error = await m.accessToken(KEYED, [A]).catch((e: unknown) => e);
    expect((error as InvalidArgumentError).reason).toBe('FAKE_NO_KEY');
    expect(keys.reads).toHaveLength(2);
  });

  it.each([
    [
      'another UNAVAILABLE reason',
      new UnavailableError('Something else is unavailable.', { reason: 'OTHER_UNAVAILABLE' }),
    ],
    [
      'a SECRET_MANAGER_UNAVAILABLE reason on a non-UNAVAILABLE error',
      new InternalError('Internal error.', { reason: 'SECRET_MANAGER_UNAVAILABLE' }),
    ],
  ])('does not retry %s from the key store', async (_name, outage) => {
    const { m, keys } = minter({ outages: [outage] });
    const error = await m.accessToken(KEYED, [A]).catch((e: unknown) => e);
    expect(error).toBe(outage);
    expect(keys.reads).toHaveLength(1);
  });

  it('refuses a keyless service account when no keyless backend is wired', async () => {
    const { m } = minter({ withoutKeyless: true });
    const error = await m.idToken(KEYLESS, 'https://svc.example.com', true).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalError);
    expect((error as InternalError).reason).toBe('KEYLESS_BACKEND_NOT_CONFIGURED');
    expect((error as InternalError).message).toBe('Internal error.');
    expect((error as InternalError).detail).toMatch(/no keyless backend is wired/);
  });
});

describe('cache key: the backend', () => {
  it('never serves a keyless token to a key-backed request for the same service account, or back', async () => {
    const { m, keyless, keys } = minter();
    const sameEmail: TargetServiceAccount = { ...KEYED, email: KEYLESS.email };
    await m.accessToken(KEYLESS, [A]);
    const error = await m.accessToken(sameEmail, [A]).catch((e: unknown) => e);
    expect((error as InvalidArgumentError).reason).toBe('FAKE_NO_KEY');
    expect(keys.reads).toEqual([KEYED.keySecret]);
    await m.idToken(KEYLESS, 'https://svc.example.com', true);
    const idError = await m.idToken(sameEmail, 'https://svc.example.com', true).catch((e: unknown) => e);
    expect((idError as InvalidArgumentError).reason).toBe('FAKE_NO_KEY');
    expect(keys.reads).toEqual([KEYED.keySecret, KEYED.keySecret]);
    expect(keyless.calls.map((c) => c.kind)).toEqual(['access', 'id']);
  });
});

describe('retry decision for the keyless backend', () => {
  /** A keyless backend that fails with each of `failures` in turn, then mints. */
  function failingKeyless(failures: Error[]): KeylessBackend & { calls: number } {
    const backend = {
      calls: 0,
      accessToken() {
        backend.calls++;
        const failure = failures.shift();
        return failure
          ? Promise.reject(failure)
          : Promise.resolve({ token: 'minted', expiresAtMs: NOW + 3600_000 });
      },
      idToken() {
        return backend.accessToken();
      },
    };
    return backend;
  }

  const minterWith = (keyless: KeylessBackend) =>
    createMinter({
      keys: fakeKeyStore(),
      keyless,
      cache: { maxEntries: 100, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
      upstream: { deadlineMs: 2000, maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      now: () => NOW,
    });

  it('retries a transient keyless failure and serves the token', async () => {
    const keyless = failingKeyless([
      new UpstreamUnavailable('x', {
        reason: 'KEYLESS_UPSTREAM_UNAVAILABLE',
        detail: 'IAM Credentials answered 503',
      }),
    ]);
    const result = await minterWith(keyless).accessToken(KEYLESS, [A], 600);
    expect(result.token).toBe('minted');
    expect(keyless.calls).toBe(2);
  });

  it('honours the Retry-After of a transient failure: a wait past the deadline gives up at once', async () => {
    const keyless = failingKeyless([
      new UpstreamUnavailable('x', {
        reason: 'KEYLESS_UPSTREAM_UNAVAILABLE',
        detail: 'IAM Credentials answered 429',
        retryAfterMs: 5000,
      }),
    ]);
    const error = await minterWith(keyless)
      .idToken(KEYLESS, 'https://svc.example.com', true)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).reason).toBe('UPSTREAM_DEADLINE_EXCEEDED');
    expect(keyless.calls).toBe(1);
  });

  it('gives up with UPSTREAM_UNAVAILABLE when every attempt fails transiently, keeping the last failure as cause', async () => {
    const last = new UpstreamUnavailable('x', {
      reason: 'KEYLESS_UPSTREAM_UNAVAILABLE',
      detail: 'IAM Credentials answered 500',
    });
    const keyless = failingKeyless([
      new UpstreamUnavailable('x', {
        reason: 'KEYLESS_UPSTREAM_UNAVAILABLE',
        detail: 'IAM Credentials answered 503',
      }),
      last,
    ]);
    const error = await minterWith(keyless)
      .accessToken(KEYLESS, [A], 600)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ reason: 'UPSTREAM_UNAVAILABLE', cause: last });
    expect(keyless.calls).toBe(2);
  });

  it.each([
    [
      'a refusal (PermissionDenied)',
      new PermissionDeniedError('no', { reason: 'KEYLESS_PERMISSION_DENIED' }),
    ],
    [
      'an UNAVAILABLE error that is not a transient upstream failure',
      new UnavailableError('x', { reason: 'OTHER' }),
    ],
    ['an unknown error', new Error('boom')],
  ])('does not retry %s and passes it on unchanged', async (_name, failure) => {
    const keyless = failingKeyless([failure]);
    const error = await minterWith(keyless)
      .accessToken(KEYLESS, [A], 600)
      .catch((e: unknown) => e);
    expect(error).toBe(failure);
    expect(keyless.calls).toBe(1);
  });
});

describe('key backend, against a scripted token endpoint', () => {
  const TOKEN_URI = 'https://oauth2.example.com/token';

  const generated = new Map<string, Promise<LoadedKey>>();
  /** A signing key with id `keyId`, generated once per test file. */
  function signingKey(keyId: string): Promise<LoadedKey> {
    let key = generated.get(keyId);
    if (!key) {
      key = generateKeyPair('RS256').then(({ privateKey }) => ({
        email: KEYED.email,
        keyId,
        tokenUri: TOKEN_URI,
        privateKey,
        versionName: `v-${keyId}`,
      }));
      generated.set(keyId, key);
    }
    return key;
  }

  /** An unsigned JWT with these claims: the minter only reads `exp` of an ID token it receives. */
  const jwt = (claims: Record<string, unknown>) =>
    `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
  const ID_TOKEN_EXP = Math.floor(NOW / 1000) + 3600;

  type Answer = Response | 'network';
  /** A token endpoint answering each exchange with `answer(kid)`; records the kid and claims of every assertion. */
  function tokenEndpoint(answer: (kid: string, n: number) => Answer) {
    const exchanges: { kid: string; iss: unknown; scope: unknown; targetAudience: unknown }[] = [];
    const fetchImpl = ((_url: string | URL | Request, init?: RequestInit) => {
      const assertion = new URLSearchParams(init?.body as string).get('assertion') ?? '';
      const kid = decodeProtectedHeader(assertion).kid ?? '';
      const claims = decodeJwt(assertion);
      exchanges.push({ kid, iss: claims.iss, scope: claims.scope, targetAudience: claims.target_audience });
      const a = answer(kid, exchanges.length);
      return a === 'network' ? Promise.reject(new TypeError('fetch failed')) : Promise.resolve(a);
    }) as typeof fetch;
    return { fetchImpl, exchanges };
  }

  const ok = () => Response.json({ access_token: 'ya29.minted', expires_in: 3599, token_type: 'Bearer' });
  const oauthError = (status: number, error: string, description = 'refused') =>
    Response.json({ error, error_description: description }, { status });

  /** A key store holding `current`, whose re-reads hand out `reloads` in turn (then the last again). */
  function keyStore(current: LoadedKey, reloads: LoadedKey[] = []) {
    const reloadCalls: { secret: string; email: string; staleKeyId: string }[] = [];
    const gets: string[] = [];
    const queue = [...reloads];
    const store = {
      get: (secret: string) => {
        gets.push(secret);
        return Promise.resolve(current);
      },
      reload: (secret: string, email: string, staleKeyId: string) => {
        reloadCalls.push({ secret, email, staleKeyId });
        const next = queue.length > 1 ? queue.shift() : queue[0];
        return next ? Promise.resolve(next) : Promise.reject(new Error('fake key store: no reload'));
      },
    };
    return { keys: store as unknown as ServiceAccountKeyStore, reloadCalls, gets };
  }

  const keyMinter = (keys: ServiceAccountKeyStore, fetchImpl: typeof fetch) =>
    createMinter({
      keys,
      cache: { maxEntries: 100, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
      upstream: { deadlineMs: 2000, maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      fetchImpl,
      now: () => NOW,
    });

  it('signs for the key’s service account with sorted scopes and expires when the endpoint says', async () => {
    const key = await signingKey('k1');
    const { keys } = keyStore(key);
    const endpoint = tokenEndpoint(() => ok());
    const result = await keyMinter(keys, endpoint.fetchImpl).accessToken(KEYED, [B, A]);
    expect(result).toEqual({
      token: 'ya29.minted',
      expiresAtMs: NOW + 3599_000,
      fingerprint: tokenFingerprint('ya29.minted'),
      cacheHit: false,
      mint: { backend: 'key', latencyMs: 0, attempts: 1 },
    });
    expect(endpoint.exchanges).toEqual([
      { kid: 'k1', iss: KEYED.email, scope: `${A} ${B}`, targetAudience: undefined },
    ]);
  });

  it('on invalid_grant re-reads the key exactly once and exchanges again with the fresh key', async () => {
    const [stale, fresh] = await Promise.all([signingKey('stale'), signingKey('fresh')]);
    const { keys, reloadCalls } = keyStore(stale, [fresh]);
    const idToken = jwt({ exp: ID_TOKEN_EXP });
    const endpoint = tokenEndpoint((kid) =>
      kid === 'stale' ? oauthError(400, 'invalid_grant') : Response.json({ id_token: idToken }),
    );
    const result = await keyMinter(keys, endpoint.fetchImpl).idToken(KEYED, 'https://svc.example.com', true);
    expect(result).toEqual({
      token: idToken,
      expiresAtMs: ID_TOKEN_EXP * 1000,
      fingerprint: tokenFingerprint(idToken),
      cacheHit: false,
      mint: { backend: 'key', latencyMs: 0, attempts: 1 },
    });
    expect(reloadCalls).toEqual([{ secret: KEYED.keySecret, email: KEYED.email, staleKeyId: 'stale' }]);
    expect(endpoint.exchanges.map((e) => e.kid)).toEqual(['stale', 'fresh']);
    expect(endpoint.exchanges.map((e) => e.targetAudience)).toEqual([
      'https://svc.example.com',
      'https://svc.example.com',
    ]);
  });

  it('gives up with SERVICE_ACCOUNT_CREDENTIAL_REJECTED when the fresh key is refused too: one re-read, two exchanges', async () => {
    const [stale, fresh] = await Promise.all([signingKey('stale'), signingKey('fresh')]);
    const { keys, reloadCalls } = keyStore(stale, [fresh]);
    const endpoint = tokenEndpoint(() => oauthError(400, 'invalid_grant', 'Invalid JWT Signature.'));
    const error = await keyMinter(keys, endpoint.fetchImpl)
      .accessToken(KEYED, [A])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalError);
    expect(error).toMatchObject({
      reason: 'SERVICE_ACCOUNT_CREDENTIAL_REJECTED',
      message: 'The service account credential was rejected by Google.',
      detail: `${KEYED.email}: token endpoint answered 400 invalid_grant: Invalid JWT Signature.`,
    });
    expect(reloadCalls).toHaveLength(1);
    expect(endpoint.exchanges.map((e) => e.kid)).toEqual(['stale', 'fresh']);
  });

  it('gives up without a second exchange when the re-read yields the same key', async () => {
    const stale = await signingKey('stale');
    const { keys, reloadCalls } = keyStore(stale, [stale]);
    const endpoint = tokenEndpoint(() => oauthError(400, 'invalid_grant'));
    const error = await keyMinter(keys, endpoint.fetchImpl)
      .accessToken(KEYED, [A])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'SERVICE_ACCOUNT_CREDENTIAL_REJECTED' });
    expect(reloadCalls).toHaveLength(1);
    expect(endpoint.exchanges).toHaveLength(1);
  });

  it.each([
    [
      'invalid_scope',
      400,
      InvalidArgumentError,
      'INVALID_SCOPE',
      'The token endpoint rejected the requested scopes.',
    ],
    [
      'unauthorized_client',
      401,
      InternalError,
      'UPSTREAM_REJECTED',
      'The service account credential was rejected by Google.',
    ],
    [
      'access_denied',
      403,
      InternalError,
      'UPSTREAM_REJECTED',
      'The service account credential was rejected by Google.',
    ],
  ] as const)(
    'turns %s (%d) into %s without re-reading the key or retrying',
    async (oauthCode, status, type, reason, message) => {
      const key = await signingKey('k1');
      const { keys, reloadCalls } = keyStore(key, [key]);
      const endpoint = tokenEndpoint(() => oauthError(status, oauthCode, 'no.'));
      const error = await keyMinter(keys, endpoint.fetchImpl)
        .accessToken(KEYED, [A])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      expect(error).toMatchObject({
        reason,
        message,
        detail: `${KEYED.email}: token endpoint answered ${status} ${oauthCode}: no.`,
      });
      expect(reloadCalls).toEqual([]);
      expect(endpoint.exchanges).toHaveLength(1);
    },
  );

  it.each<[string, () => Answer]>([
    ['a 500', () => new Response('oops', { status: 500 })],
    ['a 503', () => oauthError(503, 'temporarily_unavailable')],
    ['a 429', () => new Response('', { status: 429 })],
    ['a network failure', () => 'network'],
    ['a 200 that is not a JSON object', () => new Response('[1]', { status: 200 })],
    ['a 200 without a token', () => Response.json({ token_type: 'Bearer' })],
    ['a 200 without a valid expires_in', () => Response.json({ access_token: 'ya29.x', expires_in: 0 })],
    ['a 200 with an ID token without exp', () => Response.json({ id_token: jwt({ aud: 'x' }) })],
    [
      'a 200 with an ID token whose exp is not a number',
      () => Response.json({ id_token: jwt({ exp: '1' }) }),
    ],
    ['a 200 with an ID token that is not a JWT', () => Response.json({ id_token: 'not-a-jwt' })],
    [
      'a 200 with an ID token whose payload is not JSON',
      () => Response.json({ id_token: 'e30.bm90LWpzb24.sig' }),
    ],
  ])('retries %s and serves the token of the next attempt', async (_name, failure) => {
    const key = await signingKey('k1');
    const { keys, gets, reloadCalls } = keyStore(key);
    const endpoint = tokenEndpoint((_kid, n) => (n === 1 ? failure() : ok()));
    const result = await keyMinter(keys, endpoint.fetchImpl).accessToken(KEYED, [A]);
    expect(result.token).toBe('ya29.minted');
    expect(endpoint.exchanges).toHaveLength(2);
    expect(gets).toEqual([KEYED.keySecret, KEYED.keySecret]);
    expect(reloadCalls).toEqual([]);
  });

  it('honours Retry-After from the token endpoint: a wait past the deadline gives up after one exchange', async () => {
    const key = await signingKey('k1');
    const { keys } = keyStore(key);
    const endpoint = tokenEndpoint(() => new Response('', { status: 503, headers: { 'retry-after': '5' } }));
    const error = await keyMinter(keys, endpoint.fetchImpl)
      .accessToken(KEYED, [A])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as UnavailableError).reason).toBe('UPSTREAM_DEADLINE_EXCEEDED');
    expect(endpoint.exchanges).toHaveLength(1);
  });

  it('honours an HTTP-date Retry-After from the token endpoint the same way', async () => {
    const key = await signingKey('k1');
    const { keys } = keyStore(key);
    const inAMinute = new Date(NOW + 60_000).toUTCString();
    const endpoint = tokenEndpoint(
      () => new Response('', { status: 503, headers: { 'retry-after': inAMinute } }),
    );
    const error = await keyMinter(keys, endpoint.fetchImpl)
      .accessToken(KEYED, [A])
      .catch((e: unknown) => e);
    expect((error as UnavailableError).reason).toBe('UPSTREAM_DEADLINE_EXCEEDED');
    expect(endpoint.exchanges).toHaveLength(1);
  });

  it('gives up with UPSTREAM_UNAVAILABLE after the last attempt fails transiently', async () => {
    const key = await signingKey('k1');
    const { keys } = keyStore(key);
    const endpoint = tokenEndpoint(() => new Response('', { status: 502 }));
    const error = await keyMinter(keys, endpoint.fetchImpl)
      .accessToken(KEYED, [A])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({
      reason: 'UPSTREAM_UNAVAILABLE',
      message: 'The upstream service is unavailable; try again later.',
    });
    expect(endpoint.exchanges).toHaveLength(2);
  });

  it('never shares a token between two key secrets for the same service account', async () => {
    const key = await signingKey('k1');
    const { keys, gets } = keyStore(key);
    const endpoint = tokenEndpoint(() => ok());
    const m = keyMinter(keys, endpoint.fetchImpl);
    await m.accessToken(KEYED, [A]);
    const other = await m.accessToken({ ...KEYED, keySecret: 'projects/p/secrets/k2/versions/current' }, [A]);
    expect(other.cacheHit).toBe(false);
    expect(gets).toEqual([KEYED.keySecret, 'projects/p/secrets/k2/versions/current']);
  });
});
