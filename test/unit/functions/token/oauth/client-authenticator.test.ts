import { describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import {
  createClientAuthenticator,
  type ClientSecretStore,
} from '../../../../../functions/token/oauth/client-authenticator.js';
import {
  hashClientSecret,
  parseClientSecretHash,
  type ClientSecretHash,
} from '../../../../../functions/token/oauth/client-secret-hash.js';
import { createDerivationLimiter } from '../../../../../functions/token/oauth/derivation-limiter.js';
import {
  createFailureThrottle,
  type FailureThrottle,
} from '../../../../../functions/token/oauth/failure-throttle.js';

const SECRET = 'Yx2b7Q1cT9rWm4pZk8sN3vH6jL0dF5gA-_eRuIoPqXw';
const DUMMY_SECRET = 'the-secret-that-hashes-to-the-dummy-0123456789';

async function setup(options: { maxFailures?: number } = {}) {
  let t = 5_000_000;
  const known = parseClientSecretHash(await hashClientSecret(SECRET));
  // A dummy whose secret IS known: the authenticator must still refuse an unknown id with it.
  const dummy = parseClientSecretHash(await hashClientSecret(DUMMY_SECRET));
  const store: ClientSecretStore = {
    clientSecretHash: (id) => (id === 'batch' ? known : undefined),
    dummyClientSecretHash: dummy,
  };
  const verified: ClientSecretHash[] = [];
  const { verifyClientSecret } = await import('../../../../../functions/token/oauth/client-secret-hash.js');
  const auth = createClientAuthenticator({
    throttle: createFailureThrottle({
      maxFailures: options.maxFailures ?? 3,
      windowMs: 60_000,
      maxEntries: 100,
      now: () => t,
    }),
    verify: (secret, hash) => {
      verified.push(hash);
      return verifyClientSecret(secret, hash);
    },
  });
  return {
    auth,
    store,
    known,
    dummy,
    verified,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('createClientAuthenticator', () => {
  it('authenticates a known client with its secret', async () => {
    const { auth, store, known, verified } = await setup();
    expect(await auth.authenticate(store, 'batch', SECRET)).toEqual({ ok: true, clientId: 'batch' });
    expect(verified).toEqual([known]);
  });

  it('refuses a known client with a wrong secret', async () => {
    const { auth, store } = await setup();
    expect(await auth.authenticate(store, 'batch', 'wrong')).toEqual({ ok: false, reason: 'INVALID_CLIENT' });
  });

  it('refuses an unknown client even when its secret hashes to the dummy', async () => {
    const { auth, store, dummy, verified } = await setup();
    expect(await auth.authenticate(store, 'nobody', DUMMY_SECRET)).toEqual({
      ok: false,
      reason: 'INVALID_CLIENT',
    });
    // The dummy was really derived (same cost as a known client), and it matched: still refused.
    expect(verified).toEqual([dummy]);
  });

  it('refuses the secret with a NUL byte appended (HMAC inside scrypt zero-pads its key: "s" and "s\\0" derive alike)', async () => {
    const { auth, store } = await setup();
    expect(await auth.authenticate(store, 'batch', `${SECRET}\u0000`)).toEqual({
      ok: false,
      reason: 'INVALID_CLIENT',
    });
  });

  it.each([
    ['a short secret', 'hunter2'],
    ['a 31-character secret', SECRET.slice(0, 31)],
    [
      'a 65-character secret (HMAC would hash it first, so its SHA-256 would match too)',
      `${SECRET}${SECRET}`.slice(0, 65),
    ],
    ['a secret with a space', `${SECRET.slice(0, 20)} ${SECRET.slice(20)}`],
    ['a secret with a non-ASCII letter', `${SECRET}\u00e9`],
  ])(
    'never accepts %s, even when the policy holds its hash (made without the tool)',
    async (_name, secret) => {
      const { auth, known } = await setup();
      const weak = parseClientSecretHash(await hashClientSecret(secret));
      const store: ClientSecretStore = {
        clientSecretHash: (id) => (id === 'weak' ? weak : undefined),
        dummyClientSecretHash: known,
      };
      expect(await auth.authenticate(store, 'weak', secret)).toEqual({ ok: false, reason: 'INVALID_CLIENT' });
    },
  );

  it('derives once for a malformed secret too (against the dummy), so its answer takes as long', async () => {
    const { auth, store, dummy, verified } = await setup();
    await auth.authenticate(store, 'batch', 'short');
    expect(verified).toEqual([dummy]);
  });

  it('throttles after K failures with Retry-After, and then refuses even the right secret without deriving', async () => {
    const { auth, store, verified, advance } = await setup();
    for (let i = 0; i < 3; i++)
      expect((await auth.authenticate(store, 'batch', `guess-${i}`)).ok).toBe(false);
    verified.length = 0;
    expect(await auth.authenticate(store, 'batch', SECRET)).toEqual({
      ok: false,
      reason: 'CLIENT_AUTH_THROTTLED',
      retryAfterSeconds: 60,
    });
    expect(verified).toEqual([]);
    advance(60_000);
    expect(await auth.authenticate(store, 'batch', SECRET)).toEqual({ ok: true, clientId: 'batch' });
  });

  it('throttles an unknown id exactly like a known one', async () => {
    const { auth, store } = await setup();
    const known: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await auth.authenticate(store, 'batch', `guess-${i}`));
      unknown.push(await auth.authenticate(store, 'nobody', `guess-${i}`));
    }
    expect(unknown).toEqual(known);
    expect(known.at(-1)).toEqual({ ok: false, reason: 'CLIENT_AUTH_THROTTLED', retryAfterSeconds: 60 });
  });

  it('counts a failed derivation as a failure and lets the error through', async () => {
    const throttle = createFailureThrottle({
      maxFailures: 1,
      windowMs: 60_000,
      maxEntries: 10,
      now: () => 0,
    });
    const auth = createClientAuthenticator({
      throttle,
      verify: vi.fn().mockRejectedValue(new Error('out of memory')),
    });
    const store: ClientSecretStore = {
      clientSecretHash: () => undefined,
      dummyClientSecretHash: parseClientSecretHash(await hashClientSecret(SECRET)),
    };
    await expect(auth.authenticate(store, 'batch', SECRET)).rejects.toThrow('out of memory');
    expect(await auth.authenticate(store, 'batch', SECRET)).toMatchObject({
      reason: 'CLIENT_AUTH_THROTTLED',
    });
  });

  it('sheds load when too many derivations wait: not a failure, and the same for any id', async () => {
    const throttle = createFailureThrottle({
      maxFailures: 1,
      windowMs: 60_000,
      maxEntries: 10,
      now: () => 0,
    });
    const hash = parseClientSecretHash(await hashClientSecret(SECRET));
    const store: ClientSecretStore = {
      clientSecretHash: (id) => (id === 'batch' ? hash : undefined),
      dummyClientSecretHash: hash,
    };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const auth = createClientAuthenticator({
      throttle,
      limiter: createDerivationLimiter({ maxConcurrent: 1, maxQueued: 0 }),
      verify: async () => {
        await gate;
        return false;
      },
    });
    const busy = auth.authenticate(store, 'someone', SECRET);
    expect(await auth.authenticate(store, 'batch', SECRET)).toEqual({
      ok: false,
      reason: 'CLIENT_AUTH_OVERLOADED',
      retryAfterSeconds: 1,
    });
    expect(await auth.authenticate(store, 'nobody', SECRET)).toEqual({
      ok: false,
      reason: 'CLIENT_AUTH_OVERLOADED',
      retryAfterSeconds: 1,
    });
    release();
    await busy;
    // The shed attempt checked nothing, so it did not count against 'batch' (K = 1 here).
    expect(throttle.attempt('id:batch').throttled).toBe(false);
  });

  it('keys very long client ids by digest, so the throttle table stays small', async () => {
    const { auth, store } = await setup({ maxFailures: 1 });
    const long = 'x'.repeat(10_000);
    expect((await auth.authenticate(store, long, 'guess')).ok).toBe(false);
    expect(await auth.authenticate(store, long, 'guess')).toMatchObject({ reason: 'CLIENT_AUTH_THROTTLED' });
  });
});

describe('throttle keys', () => {
  it.each([
    ['an id of 128 characters is keyed as itself', 'a'.repeat(128), `id:${'a'.repeat(128)}`],
    [
      'an id of 129 characters is keyed by its SHA-256',
      'a'.repeat(129),
      `sha256:${createHash('sha256').update('a'.repeat(129)).digest('hex')}`,
    ],
  ])('%s', async (_name, clientId, key) => {
    const keys: string[] = [];
    const throttle: FailureThrottle = {
      size: 0,
      attempt: (k) => {
        keys.push(k);
        return { throttled: false, settle: () => undefined };
      },
    };
    const hash = parseClientSecretHash(await hashClientSecret(SECRET));
    const auth = createClientAuthenticator({ throttle, verify: () => Promise.resolve(false) });
    await auth.authenticate(
      { clientSecretHash: () => undefined, dummyClientSecretHash: hash },
      clientId,
      SECRET,
    );
    expect(keys).toEqual([key]);
  });
});
