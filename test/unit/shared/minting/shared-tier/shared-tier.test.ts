/* eslint-disable @typescript-eslint/require-await -- fakes of async interfaces answer at once */
/**
 * The shared tier's read → lock → mint → publish / poll logic, with fakes of our own interfaces
 * (SharedStore, DataKeys), a fake clock and a fake sleep: no timers, no sockets.
 */
import { describe, expect, it, vi } from 'vitest';
import type { MintedToken } from '../../../../../shared/minting/minter.js';
import { createCircuitBreaker } from '../../../../../shared/minting/shared-tier/circuit-breaker.js';
import type { DataKeys } from '../../../../../shared/crypto/data-keys.js';
import { newDataKey, type DataKey } from '../../../../../shared/crypto/data-key.js';
import { EntryRejected, redisKeys, sealEntry } from '../../../../../shared/minting/shared-tier/envelope.js';
import { KmsError } from '../../../../../shared/crypto/kms-client.js';
import {
  createSharedTier,
  type SharedTierOptions,
} from '../../../../../shared/minting/shared-tier/shared-tier.js';
import { StoreUnavailable, type SharedStore } from '../../../../../shared/minting/shared-tier/store.js';

const KEY = 'at|sa@p.iam.gserviceaccount.com|keyless:3600|scope';
const FRESH_FOR_MS = 360_000;

class FakeStore implements SharedStore {
  readonly values = new Map<string, { value: string; expiresAtMs: number }>();
  readonly ops: string[] = [];
  failing = false;
  constructor(private readonly clock: { now: number }) {}
  #check(op: string): void {
    this.ops.push(op);
    if (this.failing) throw new StoreUnavailable(`${op}: no answer within 100 ms`);
  }
  async get(key: string) {
    this.#check('GET');
    const v = this.values.get(key);
    return v && v.expiresAtMs > this.clock.now ? v.value : null;
  }
  async set(key: string, value: string, ttlMs: number) {
    this.#check('SET');
    this.values.set(key, { value, expiresAtMs: this.clock.now + ttlMs });
  }
  async setIfAbsent(key: string, value: string, ttlMs: number) {
    this.#check('SETNX');
    if ((await this.get(key)) !== null) return false;
    this.values.set(key, { value, expiresAtMs: this.clock.now + ttlMs });
    return true;
  }
  async deleteIfEquals(key: string, value: string) {
    this.#check('DEL');
    if (this.values.get(key)?.value === value) this.values.delete(key);
  }
  async close() {}
}

function fakeDataKeys(): DataKeys & { failing?: Error } {
  const keys = new Map<string, DataKey>();
  const current = newDataKey();
  keys.set(current.id, current);
  const dk: DataKeys & { failing?: Error } = {
    async current() {
      if (dk.failing) throw dk.failing;
      return current;
    },
    async byId(id) {
      if (dk.failing) throw dk.failing;
      const key = keys.get(id);
      if (!key) throw new EntryRejected('UNKNOWN_DATA_KEY');
      return key;
    },
  };
  return dk;
}

function setup(overrides: Partial<SharedTierOptions> = {}) {
  const clock = { now: 1_800_000_000_000 };
  const store = new FakeStore(clock);
  const dataKeys = fakeDataKeys();
  const log = vi.fn();
  const sleeps: number[] = [];
  const onSleep: Array<() => void> = [];
  const options: SharedTierOptions = {
    store,
    dataKeys,
    freshForMs: FRESH_FOR_MS,
    lockTtlMs: 12_000,
    lockWaitMs: 1_000,
    now: () => clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
      onSleep.shift()?.();
    },
    log,
    ...overrides,
  };
  const tier = createSharedTier(options);
  let serial = 0;
  const mint = vi.fn(async (): Promise<MintedToken> => ({
    token: `token-${++serial}`,
    expiresAtMs: clock.now + 3_600_000,
  }));
  return { clock, store, dataKeys, log, sleeps, onSleep, tier, mint, options };
}

describe('the shared tier', () => {
  it('mints under the lock on a miss, publishes the entry, and releases the lock', async () => {
    const { tier, mint, store } = setup();
    await expect(tier.load(KEY, mint)).resolves.toMatchObject({ token: 'token-1' });
    expect(mint).toHaveBeenCalledTimes(1);
    expect(store.values.has(redisKeys(KEY).entry)).toBe(true);
    expect(store.values.has(redisKeys(KEY).lock)).toBe(false);
    expect(tier.stats()).toMatchObject({ lockedMints: 1, hits: 0, fallbacks: 0 });
  });

  it('serves another instance’s entry without minting', async () => {
    const a = setup();
    await a.tier.load(KEY, a.mint);
    const b = createSharedTier({ ...a.options, log: undefined });
    const mintB = vi.fn();
    await expect(b.load(KEY, mintB)).resolves.toMatchObject({ token: 'token-1' });
    expect(mintB).not.toHaveBeenCalled();
    expect(b.stats().hits).toBe(1);
  });

  it('publishes the entry only while it is fresh, with a TTL that ends when it stops being fresh', async () => {
    const { tier, mint, store, clock } = setup();
    await tier.load(KEY, mint);
    expect(store.values.get(redisKeys(KEY).entry)!.expiresAtMs).toBe(clock.now + 3_600_000 - FRESH_FOR_MS);
  });

  it('treats an entry with no more than refresh-ahead + min-remaining left as a miss', async () => {
    const { tier, mint, clock, options, store } = setup();
    await tier.load(KEY, mint);
    // The store's own TTL would drop it; keep it to prove the reader checks the expiry itself.
    store.values.get(redisKeys(KEY).entry)!.expiresAtMs = Infinity;
    clock.now += 3_600_000 - FRESH_FOR_MS; // exactly at the bound: stale
    const b = createSharedTier({ ...options, log: undefined });
    await expect(b.load(KEY, mint)).resolves.toMatchObject({ token: 'token-2' });
    expect(b.stats()).toMatchObject({ hits: 0, rejected: 0, lockedMints: 1 });
  });

  it('never publishes a token that would be stale at once', async () => {
    const { tier, store, clock } = setup();
    await tier.load(KEY, async () => ({ token: 'short', expiresAtMs: clock.now + FRESH_FOR_MS }));
    expect(store.values.has(redisKeys(KEY).entry)).toBe(false);
    expect(store.values.has(redisKeys(KEY).lock)).toBe(false);
  });

  it('waits for the lock holder’s entry with doubling polls instead of minting', async () => {
    const { tier, mint, store, sleeps, onSleep, clock, dataKeys } = setup();
    const dek = await dataKeys.current();
    // The other instance holds the lock, and publishes during this one's fourth wait.
    await store.setIfAbsent(redisKeys(KEY).lock, 'other', 12_000);
    onSleep.push(
      () => undefined,
      () => undefined,
      () => undefined,
      () => {
        const theirs = sealEntry(dek, KEY, { token: 'theirs', expiresAtMs: clock.now + 3_600_000 });
        store.values.set(redisKeys(KEY).entry, { value: theirs, expiresAtMs: clock.now + 3_000_000 });
        store.values.delete(redisKeys(KEY).lock);
      },
    );
    const result = await tier.load(KEY, mint);
    expect(result.token).toBe('theirs');
    expect(mint).not.toHaveBeenCalled();
    expect(sleeps).toEqual([20, 40, 80, 160]);
    expect(tier.stats()).toMatchObject({ waits: 1, hits: 1, lockedMints: 0 });
  });

  it('takes over when the lock holder gave up (its lock is gone) and mints itself', async () => {
    const { tier, mint, store, onSleep } = setup();
    await store.setIfAbsent(redisKeys(KEY).lock, 'other', 12_000);
    onSleep.push(() => store.values.delete(redisKeys(KEY).lock));
    await expect(tier.load(KEY, mint)).resolves.toMatchObject({ token: 'token-1' });
    expect(tier.stats()).toMatchObject({ waits: 1, lockedMints: 1 });
    expect(store.values.has(redisKeys(KEY).entry)).toBe(true);
  });

  it('mints locally when the wait runs out, after sleeping no longer than the bound', async () => {
    const { tier, mint, store, sleeps, log } = setup();
    await store.setIfAbsent(redisKeys(KEY).lock, 'other', 60_000);
    await expect(tier.load(KEY, mint)).resolves.toMatchObject({ token: 'token-1' });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(1_000);
    expect(Math.max(...sleeps)).toBeLessThanOrEqual(250);
    expect(log).toHaveBeenCalledWith(
      'NOTICE',
      expect.any(String),
      expect.objectContaining({ event: 'shared_cache_wait_exceeded' }),
    );
    expect(tier.stats().fallbacks).toBe(1);
  });

  it('releases the lock when its mint fails, and passes the failure on', async () => {
    const { tier, store } = setup();
    const failure = new Error('upstream said no');
    await expect(tier.load(KEY, () => Promise.reject(failure))).rejects.toBe(failure);
    expect(store.values.has(redisKeys(KEY).lock)).toBe(false);
  });

  it('mints locally when Redis fails, logs it without secrets, and opens the breaker after three failures', async () => {
    const { tier, mint, store, log, clock } = setup();
    store.failing = true;
    for (let i = 0; i < 5; i++)
      await expect(tier.load(KEY, mint)).resolves.toMatchObject({ token: `token-${i + 1}` });
    // Three tries reached Redis (one GET each); then the breaker skipped it.
    expect(store.ops).toEqual(['GET', 'GET', 'GET']);
    expect(tier.stats().fallbacks).toBe(5);
    const events = log.mock.calls.map((c) => c[2].event);
    expect(events).toEqual(['shared_cache_redis_unavailable', 'shared_cache_breaker_open']);
    expect(JSON.stringify(log.mock.calls)).not.toContain('token-');
    // After the open period one trial goes through; a success closes the breaker.
    store.failing = false;
    clock.now += 5_000;
    await tier.load(KEY, mint);
    expect(store.ops.length).toBeGreaterThan(3);
  });

  it('mints locally when KMS cannot give the data key, and says it was KMS', async () => {
    const { tier, mint, dataKeys, log, store } = setup();
    dataKeys.failing = new KmsError('unavailable', 'encrypt: HTTP 503 UNAVAILABLE');
    await expect(tier.load(KEY, mint)).resolves.toMatchObject({ token: 'token-1' });
    expect(log).toHaveBeenCalledWith(
      'WARNING',
      expect.any(String),
      expect.objectContaining({ dependency: 'kms' }),
    );
    // The lock is released even though nothing could be published.
    expect(store.values.has(redisKeys(KEY).lock)).toBe(false);
  });

  it('treats an entry that does not open as a miss: mints, overwrites it, and logs the reason', async () => {
    const { tier, mint, store, log, options } = setup();
    await store.set(redisKeys(KEY).entry, 'AQ' + 'A'.repeat(80), 60_000);
    await expect(tier.load(KEY, mint)).resolves.toMatchObject({ token: 'token-1' });
    expect(log).toHaveBeenCalledWith(
      'WARNING',
      'shared cache entry rejected; minting a new one',
      expect.objectContaining({
        event: 'shared_cache_entry_rejected',
        key: 'at|sa@p.iam.gserviceaccount.com',
      }),
    );
    // Overwritten with an entry that opens: the next instance is served without a mint.
    const b = createSharedTier({ ...options, log: undefined });
    const mintB = vi.fn();
    await expect(b.load(KEY, mintB)).resolves.toMatchObject({ token: 'token-1' });
    expect(mintB).not.toHaveBeenCalled();
  });

  it('writes one line per kind of event per interval, counting the ones it held back', async () => {
    const { tier, mint, store, log, clock } = setup({
      breaker: createCircuitBreaker({ failureThreshold: 100 }),
    });
    store.failing = true;
    for (let i = 0; i < 4; i++) await tier.load(KEY, mint);
    expect(log).toHaveBeenCalledTimes(1);
    clock.now += 10_000;
    await tier.load(KEY, mint);
    expect(log).toHaveBeenCalledTimes(2);
    expect(log.mock.calls[1][2]).toMatchObject({ suppressedSinceLast: 3 });
  });

  it('discards an entry holding a given token, and leaves another token’s entry alone', async () => {
    const { tier, mint, store } = setup();
    await tier.load(KEY, mint);
    await tier.discard(KEY, 'some-other-token');
    expect(store.values.has(redisKeys(KEY).entry)).toBe(true);
    await tier.discard(KEY, 'token-1');
    expect(store.values.has(redisKeys(KEY).entry)).toBe(false);
  });
});
