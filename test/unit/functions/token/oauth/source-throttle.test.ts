/**
 * Failed client authentications throttled per source address as well as per client id, with the
 * one mechanism (failure-throttle.ts): a source spraying client ids gets no more than its own
 * failures; a full source table stops tracking new sources instead of locking them out.
 */
import { describe, expect, it } from 'vitest';
import {
  createClientAuthenticator,
  type ClientSecretStore,
} from '../../../../../functions/token/oauth/client-authenticator.js';
import {
  parseClientSecretHash,
  type ClientSecretHash,
} from '../../../../../functions/token/oauth/client-secret-hash.js';
import { createFailureThrottle } from '../../../../../functions/token/oauth/failure-throttle.js';

const RIGHT = 'Yx2b7Q1cT9rWm4pZk8sN3vH6jL0dF5gA-_eRuIoPqXw';
// Parsed only: these tests stub `verify`, so no derivation runs.
const HASH = parseClientSecretHash(
  'scrypt$N=16384,r=8,p=1$AQEBAQEBAQEBAQEBAQEBAQ$AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI',
);
const store: ClientSecretStore = {
  clientSecretHash: (id) => (id === 'batch' ? HASH : undefined),
  dummyClientSecretHash: HASH,
};

function setup(options: { perSource?: number; perId?: number; maxSources?: number } = {}) {
  const clock = { t: 1_000_000 };
  const now = () => clock.t;
  const verified: ClientSecretHash[] = [];
  const auth = createClientAuthenticator({
    throttle: createFailureThrottle({
      maxFailures: options.perId ?? 3,
      windowMs: 60_000,
      maxEntries: 100,
      now,
    }),
    sourceThrottle: createFailureThrottle({
      maxFailures: options.perSource ?? 5,
      windowMs: 60_000,
      maxEntries: options.maxSources ?? 100,
      whenFull: 'untracked',
      now,
    }),
    verify: (secret, hash) => {
      verified.push(hash);
      return Promise.resolve(secret === RIGHT && hash === HASH);
    },
  });
  return { auth, clock, verified };
}

describe('per-source throttling of failed client authentications', () => {
  it('stops one source spraying many client ids after its own failures, without deriving more', async () => {
    const { auth, verified } = setup({ perSource: 5, perId: 3 });
    for (let i = 0; i < 5; i++)
      expect(await auth.authenticate(store, `id-${i}`, 'wrong', '203.0.113.7')).toEqual({
        ok: false,
        reason: 'INVALID_CLIENT',
      });
    expect(await auth.authenticate(store, 'id-99', 'wrong', '203.0.113.7')).toEqual({
      ok: false,
      reason: 'CLIENT_AUTH_THROTTLED',
      retryAfterSeconds: 60,
    });
    // Even the right secret of a real client waits: the source is throttled before any secret is checked.
    expect((await auth.authenticate(store, 'batch', RIGHT, '203.0.113.7')).ok).toBe(false);
    expect(verified).toHaveLength(5);
    // Another source is not affected.
    expect(await auth.authenticate(store, 'batch', RIGHT, '198.51.100.1')).toEqual({
      ok: true,
      clientId: 'batch',
    });
  });

  it('still throttles per client id across sources', async () => {
    const { auth } = setup({ perSource: 100, perId: 3 });
    for (let i = 0; i < 3; i++) await auth.authenticate(store, 'batch', 'wrong', `198.51.100.${i}`);
    expect(await auth.authenticate(store, 'batch', RIGHT, '198.51.100.200')).toMatchObject({
      reason: 'CLIENT_AUTH_THROTTLED',
    });
  });

  it('a source refused by the id throttle spends no source failure (nothing was checked)', async () => {
    const { auth } = setup({ perSource: 4, perId: 3 });
    for (let i = 0; i < 3; i++) await auth.authenticate(store, 'batch', 'wrong', `198.51.100.${i}`);
    // The id is locked; hammering it from one source is refused without counting against the source.
    for (let i = 0; i < 10; i++)
      expect((await auth.authenticate(store, 'batch', 'x', '203.0.113.9')) as object).toMatchObject({
        reason: 'CLIENT_AUTH_THROTTLED',
      });
    expect(await auth.authenticate(store, 'other', 'wrong', '203.0.113.9')).toEqual({
      ok: false,
      reason: 'INVALID_CLIENT',
    });
  });

  it('successes free their source slot without resetting its failures', async () => {
    const { auth } = setup({ perSource: 2, perId: 100 });
    await auth.authenticate(store, 'nobody', 'wrong', 's');
    for (let i = 0; i < 5; i++) expect((await auth.authenticate(store, 'batch', RIGHT, 's')).ok).toBe(true);
    await auth.authenticate(store, 'nobody', 'wrong', 's');
    expect(await auth.authenticate(store, 'batch', RIGHT, 's')).toMatchObject({
      reason: 'CLIENT_AUTH_THROTTLED',
    });
  });

  it('a full source table tracks no new sources rather than locking them out', async () => {
    const { auth } = setup({ perSource: 1, perId: 1000, maxSources: 10 });
    // Ten sources (an attacker's addresses) fill the table with live records.
    for (let i = 0; i < 10; i++) await auth.authenticate(store, `a-${i}`, 'wrong', `attacker-${i}`);
    // A new legitimate source is let through (untracked), not refused.
    expect(await auth.authenticate(store, 'batch', RIGHT, 'legit')).toEqual({ ok: true, clientId: 'batch' });
    // The attacker's tracked sources stay throttled.
    expect(await auth.authenticate(store, 'a-0', 'wrong', 'attacker-0')).toMatchObject({
      reason: 'CLIENT_AUTH_THROTTLED',
    });
  });

  it('without a source (or without a source throttle) behaves as before', async () => {
    const { auth } = setup({ perSource: 1 });
    for (let i = 0; i < 5; i++) await auth.authenticate(store, `id-${i}`, 'wrong');
    expect(await auth.authenticate(store, 'batch', RIGHT)).toEqual({ ok: true, clientId: 'batch' });
  });
});

describe('failure throttle whenFull', () => {
  it("'untracked' lets a new key through untracked while full; 'refuse' (default) refuses it", () => {
    const now = () => 0;
    const untracked = createFailureThrottle({
      maxFailures: 1,
      windowMs: 1000,
      maxEntries: 1,
      whenFull: 'untracked',
      now,
    });
    const refuse = createFailureThrottle({ maxFailures: 1, windowMs: 1000, maxEntries: 1, now });
    for (const t of [untracked, refuse]) {
      const a = t.attempt('a');
      if (!a.throttled) a.settle(false);
    }
    const u = untracked.attempt('b');
    expect(u.throttled).toBe(false);
    if (!u.throttled) u.settle(false); // settling an untracked attempt records nothing
    expect(untracked.size).toBe(1);
    expect(untracked.attempt('b').throttled).toBe(false);
    expect(refuse.attempt('b').throttled).toBe(true);
  });
});
