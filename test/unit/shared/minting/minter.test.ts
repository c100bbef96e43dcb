/**
 * The minter's cache keys and lifetime rules, against fakes of OUR interfaces (the keyless
 * backend, the key store): what makes two requests share a token, and what must not.
 */
import { describe, expect, it } from 'vitest';
import { InternalError, InvalidArgumentError, UnavailableError } from '../../../../shared/errors.js';
import type { ServiceAccountKeyStore } from '../../../../shared/minting/key-store.js';
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
    expect(second).toEqual({ ...first, cacheHit: true });
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
    expect(again).toEqual({ ...without, cacheHit: true });
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
        new UnavailableError('Secret Manager is unavailable.', { reason: 'SECRET_MANAGER_UNAVAILABLE' }),
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
