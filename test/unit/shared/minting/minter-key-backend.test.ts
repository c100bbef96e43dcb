/**
 * The minter's key backend against the project's emulator (its token endpoint checks RS256
 * jwt-bearer assertions against the service-account keys it issued): the exchange, the one
 * re-read of a rotated key on `invalid_grant`, how token-endpoint refusals become our errors,
 * and which requests share a key-minted token. The key store is a fake of OUR interface that
 * hands out keys the emulator created; Google's wire format is the emulator's, never faked here.
 */
import { tokenFingerprint } from '../../../../shared/audit-log.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type CreatedKey, type Emulator } from '../../../../emulator/index.js';
import { InternalError, InvalidArgumentError } from '../../../../shared/errors.js';
import type { LoadedKey, ServiceAccountKeyStore } from '../../../../shared/minting/key-store.js';
import { createMinter, type TargetServiceAccount } from '../../../../shared/minting/minter.js';
import { toSigningKey } from '../../../../shared/minting/sign-assertion.js';

const PROJECT = 'tvs-minter-unit';
const KEYED_EMAIL = `key-backed@${PROJECT}.iam.gserviceaccount.com`;
const ROTATED_EMAIL = `rotated@${PROJECT}.iam.gserviceaccount.com`;
const SECRET = 'projects/p/secrets/keyed/versions/current';
const OTHER_SECRET = 'projects/p/secrets/keyed-2/versions/current';
const KEYED: TargetServiceAccount = { email: KEYED_EMAIL, backend: 'key', keySecret: SECRET };
const ROTATED: TargetServiceAccount = { email: ROTATED_EMAIL, backend: 'key', keySecret: SECRET };
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

let emulator: Emulator;
/** Two active keys of KEYED_EMAIL. */
let keyed: CreatedKey;
let keyedSecond: CreatedKey;
/** ROTATED_EMAIL's keys: `stale` is disabled, `fresh` active. */
let stale: CreatedKey;
let fresh: CreatedKey;

beforeAll(async () => {
  emulator = await startEmulator({
    seed: {
      projectId: PROJECT,
      projectNumber: '123450987654',
      serviceAccounts: [{ email: KEYED_EMAIL }, { email: ROTATED_EMAIL }],
    },
  });
  const sa = emulator.state.serviceAccounts;
  [keyed, keyedSecond, stale, fresh] = await Promise.all([
    sa.createKey(KEYED_EMAIL),
    sa.createKey(KEYED_EMAIL),
    sa.createKey(ROTATED_EMAIL),
    sa.createKey(ROTATED_EMAIL),
  ]);
  sa.disableKey(ROTATED_EMAIL, stale.keyId);
}, 30_000);

afterAll(async () => {
  await emulator?.stop();
});

/** A key as our key store hands it out; `keyId` overrides the id (an id the emulator never issued: a deleted key). */
type StoreKey = CreatedKey | { of: CreatedKey; keyId: string };

async function loaded(key: StoreKey): Promise<LoadedKey> {
  const created = 'of' in key ? key.of : key;
  const signing = await toSigningKey(created.keyFile);
  return {
    ...signing,
    keyId: 'of' in key ? key.keyId : signing.keyId,
    versionName: `projects/p/secrets/s/versions/${key.keyId}`,
  };
}

/**
 * A key store handing out `bySecret[secret]` on `get` and the keys of `reloads` in turn on
 * `reload` (then the last one again), recording every call.
 */
function fakeKeyStore(bySecret: Record<string, StoreKey>, reloads: StoreKey[] = []) {
  const gets: string[] = [];
  const reloadCalls: { secret: string; email: string; staleKeyId: string }[] = [];
  const queue = [...reloads];
  const store = {
    get: (secret: string) => {
      gets.push(secret);
      return loaded(bySecret[secret]);
    },
    reload: (secret: string, email: string, staleKeyId: string) => {
      reloadCalls.push({ secret, email, staleKeyId });
      const next = queue.length > 1 ? queue.shift() : queue[0];
      if (!next) return Promise.reject(new Error('fake key store: no reload configured'));
      return loaded(next);
    },
  };
  return { keys: store as unknown as ServiceAccountKeyStore, gets, reloadCalls };
}

function minterWith(keys: ServiceAccountKeyStore) {
  return createMinter({
    keys,
    cache: { maxEntries: 100, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
    upstream: { deadlineMs: 5_000, maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
  });
}

/** Token-endpoint calls made while `run` runs. */
async function exchangesDuring<T>(run: () => Promise<T>): Promise<{ result: T; exchanges: number }> {
  const before = emulator.faults.count('oauth.token');
  const result = await run();
  return { result, exchanges: emulator.faults.count('oauth.token') - before };
}

describe('key backend exchange', () => {
  it('exchanges a signed assertion for an access token of the key’s service account, expiring when the endpoint says', async () => {
    const { keys, gets, reloadCalls } = fakeKeyStore({ [SECRET]: keyed });
    const startedMs = Date.now();
    const { result, exchanges } = await exchangesDuring(() =>
      minterWith(keys).accessToken(KEYED, [CLOUD_PLATFORM]),
    );
    const issued = emulator.state.tokens.lookup(result.token);
    expect(issued).toMatchObject({
      email: KEYED_EMAIL,
      scopes: [CLOUD_PLATFORM],
      keyId: keyed.keyId,
      issuedBy: 'oauth.token',
    });
    expect(result.cacheHit).toBe(false);
    expect(result.expiresAtMs).toBeGreaterThanOrEqual(startedMs + 3599_000 - 1000);
    expect(result.expiresAtMs).toBeLessThanOrEqual(Date.now() + 3599_000 + 1000);
    expect(exchanges).toBe(1);
    expect(gets).toEqual([SECRET]);
    expect(reloadCalls).toEqual([]);
  });

  it('exchanges for an ID token for the audience, expiring at its exp', async () => {
    const { keys } = fakeKeyStore({ [SECRET]: keyed });
    const result = await minterWith(keys).idToken(KEYED, 'https://svc.example.com', true);
    const claims = decodeJwt(result.token);
    expect(claims).toMatchObject({ aud: 'https://svc.example.com', email: KEYED_EMAIL });
    expect(result.expiresAtMs).toBe((claims.exp ?? 0) * 1000);
  });
});

describe('a rotated key (invalid_grant)', () => {
  it('re-reads the key once and mints with the new one', async () => {
    const { keys, reloadCalls } = fakeKeyStore({ [SECRET]: stale }, [fresh]);
    const { result, exchanges } = await exchangesDuring(() =>
      minterWith(keys).accessToken(ROTATED, [CLOUD_PLATFORM]),
    );
    expect(emulator.state.tokens.lookup(result.token)).toMatchObject({
      email: ROTATED_EMAIL,
      keyId: fresh.keyId,
    });
    expect(reloadCalls).toEqual([{ secret: SECRET, email: ROTATED_EMAIL, staleKeyId: stale.keyId }]);
    expect(exchanges).toBe(2);
  });

  it('gives up without a second exchange when the re-read yields the same key', async () => {
    const { keys, reloadCalls } = fakeKeyStore({ [SECRET]: stale }, [stale]);
    const { result: error, exchanges } = await exchangesDuring(() =>
      minterWith(keys)
        .accessToken(ROTATED, [CLOUD_PLATFORM])
        .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(InternalError);
    expect((error as InternalError).reason).toBe('SERVICE_ACCOUNT_CREDENTIAL_REJECTED');
    expect(reloadCalls).toHaveLength(1);
    expect(exchanges).toBe(1);
  });

  it('gives up after the re-read key is refused too: exactly two exchanges and one re-read', async () => {
    const deleted = (keyId: string): StoreKey => ({ of: stale, keyId });
    const { keys, reloadCalls } = fakeKeyStore({ [SECRET]: stale }, [
      deleted('deleted-key-1'),
      deleted('deleted-key-2'),
    ]);
    const { result: error, exchanges } = await exchangesDuring(() =>
      minterWith(keys)
        .accessToken(ROTATED, [CLOUD_PLATFORM])
        .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(InternalError);
    expect(error).toMatchObject({
      reason: 'SERVICE_ACCOUNT_CREDENTIAL_REJECTED',
      message: 'The service account credential was rejected by Google.',
      detail: `${ROTATED_EMAIL}: token endpoint answered 400 invalid_grant: Invalid JWT Signature.`,
    });
    expect(reloadCalls).toEqual([{ secret: SECRET, email: ROTATED_EMAIL, staleKeyId: stale.keyId }]);
    expect(exchanges).toBe(2);
  });
});

describe('token endpoint refusals', () => {
  it('turns invalid_scope into INVALID_SCOPE (InvalidArgument), without re-reading the key', async () => {
    const { keys, reloadCalls } = fakeKeyStore({ [SECRET]: keyed });
    const { result: error, exchanges } = await exchangesDuring(() =>
      minterWith(keys)
        .accessToken(KEYED, [])
        .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({
      reason: 'INVALID_SCOPE',
      message: 'The token endpoint rejected the requested scopes.',
      detail: `${KEYED_EMAIL}: token endpoint answered 400 invalid_scope: Empty or missing scope not allowed.`,
    });
    expect(reloadCalls).toEqual([]);
    expect(exchanges).toBe(1);
  });

  it('turns any other refusal into UPSTREAM_REJECTED (Internal), without re-reading the key or retrying', async () => {
    emulator.faults.inject({ endpoint: 'oauth.token', status: 403, times: 1 });
    const { keys, reloadCalls } = fakeKeyStore({ [SECRET]: keyed });
    const { result: error, exchanges } = await exchangesDuring(() =>
      minterWith(keys)
        .accessToken(KEYED, [CLOUD_PLATFORM])
        .catch((e: unknown) => e),
    );
    expect(error).toBeInstanceOf(InternalError);
    expect(error).toMatchObject({
      reason: 'UPSTREAM_REJECTED',
      message: 'The service account credential was rejected by Google.',
    });
    expect((error as InternalError).detail).toMatch(
      new RegExp(`^${KEYED_EMAIL}: token endpoint answered 403`),
    );
    expect(reloadCalls).toEqual([]);
    expect(exchanges).toBe(1);
  });
});

describe('which requests share a key-minted token', () => {
  it('never shares a token between two policies naming different key secrets for the same service account', async () => {
    const { keys, gets } = fakeKeyStore({ [SECRET]: keyed, [OTHER_SECRET]: keyedSecond });
    const m = minterWith(keys);
    const first = await m.accessToken(KEYED, [CLOUD_PLATFORM]);
    const other = await m.accessToken({ ...KEYED, keySecret: OTHER_SECRET }, [CLOUD_PLATFORM]);
    expect(other.cacheHit).toBe(false);
    expect(other.token).not.toBe(first.token);
    expect(emulator.state.tokens.lookup(other.token)?.keyId).toBe(keyedSecond.keyId);
    const firstId = await m.idToken(KEYED, 'https://svc.example.com', true);
    const otherId = await m.idToken({ ...KEYED, keySecret: OTHER_SECRET }, 'https://svc.example.com', true);
    // ID tokens carry no key id, and two signed in the same second are identical: what proves a
    // second exchange is the miss and the second key read.
    expect(firstId.cacheHit).toBe(false);
    expect(otherId.cacheHit).toBe(false);
    expect(gets).toEqual([SECRET, OTHER_SECRET, SECRET, OTHER_SECRET]);
  });

  it('serves the one-hour token to any key-backed request of an hour or more (the lifetime is not part of its cache key)', async () => {
    const { keys } = fakeKeyStore({ [SECRET]: keyed });
    const m = minterWith(keys);
    const first = await m.accessToken(KEYED, [CLOUD_PLATFORM]);
    const longer = await m.accessToken(KEYED, [CLOUD_PLATFORM], 7200);
    expect(longer).toEqual({
      token: first.token,
      expiresAtMs: first.expiresAtMs,
      fingerprint: tokenFingerprint(first.token),
      cacheHit: true,
    }); // a hit: no `mint` (issue 16)
  });

  it('answers the synchronous cachedAccessToken / cachedIdToken exactly as a hit of accessToken / idToken, and never what they refuse', async () => {
    const { keys } = fakeKeyStore({ [SECRET]: keyed });
    const m = minterWith(keys);
    expect(m.cachedAccessToken(KEYED, [CLOUD_PLATFORM])).toBeUndefined(); // nothing minted yet
    expect(m.cachedIdToken(KEYED, 'https://svc.example.com', true)).toBeUndefined();
    await m.accessToken(KEYED, [CLOUD_PLATFORM]);
    await m.idToken(KEYED, 'https://svc.example.com', true);
    expect(m.cachedAccessToken(KEYED, [CLOUD_PLATFORM])).toEqual(
      await m.accessToken(KEYED, [CLOUD_PLATFORM]),
    );
    expect(m.cachedAccessToken(KEYED, [CLOUD_PLATFORM], 7200)).toEqual(
      await m.accessToken(KEYED, [CLOUD_PLATFORM]),
    );
    expect(m.cachedIdToken(KEYED, 'https://svc.example.com', true)).toEqual(
      await m.idToken(KEYED, 'https://svc.example.com', true),
    );
    // accessToken refuses a key-backed lifetime under an hour; its synchronous twin does not serve it.
    await expect(m.accessToken(KEYED, [CLOUD_PLATFORM], 600)).rejects.toMatchObject({
      reason: 'LIFETIME_NOT_SUPPORTED_BY_BACKEND',
    });
    expect(m.cachedAccessToken(KEYED, [CLOUD_PLATFORM], 600)).toBeUndefined();
    // Another audience, email choice or scope set is another key.
    expect(m.cachedIdToken(KEYED, 'https://svc.example.com', false)).toBeUndefined();
    expect(m.cachedIdToken(KEYED, 'https://other.example.com', true)).toBeUndefined();
    expect(
      m.cachedAccessToken(KEYED, [CLOUD_PLATFORM, 'https://www.googleapis.com/auth/drive']),
    ).toBeUndefined();
  });
});
