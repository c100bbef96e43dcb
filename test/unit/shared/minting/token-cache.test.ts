import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenCache, type TokenCacheOptions } from '../../../../shared/minting/token-cache.js';
import { deferred, drain } from '../../../support/deferred.js';

interface Token {
  token: string;
  expiresAtMs: number;
}

const MIN = 60_000;
const AHEAD = 300_000;
const HOUR = 3_600_000;

describe('TokenCache', () => {
  let clock: number;
  const now = (): number => clock;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  function makeCache(overrides: Partial<TokenCacheOptions> = {}): TokenCache<Token> {
    return new TokenCache<Token>({
      maxEntries: 100,
      refreshAheadMs: AHEAD,
      minRemainingMs: MIN,
      now,
      ...overrides,
    });
  }

  function tokenFor(name: string, lifetimeMs = HOUR): Token {
    return { token: name, expiresAtMs: clock + lifetimeMs };
  }

  /** Stores `token` under `key` through a miss. */
  async function seed(cache: TokenCache<Token>, key: string, token: Token): Promise<void> {
    await cache.get(key, () => Promise.resolve(token));
  }

  beforeEach(() => {
    clock = 1_800_000_000_000;
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(() => {
    process.off('unhandledRejection', onUnhandled);
    vi.useRealTimers();
  });

  describe('options', () => {
    const NOT_OBJECT = 'TokenCache: options must be an object';
    const MAX_ENTRIES = 'TokenCache: maxEntries must be an integer greater than 0';
    const REFRESH_AHEAD = 'TokenCache: refreshAheadMs must be a finite number >= 0';
    const MIN_REMAINING = 'TokenCache: minRemainingMs must be a finite number >= 0';
    it.each<[string, unknown, string]>([
      ['options that are null', null, NOT_OBJECT],
      ['options that are not an object', 5, NOT_OBJECT],
      ['maxEntries of 0', { maxEntries: 0, refreshAheadMs: AHEAD, minRemainingMs: MIN }, MAX_ENTRIES],
      [
        'a fractional maxEntries',
        { maxEntries: 1.5, refreshAheadMs: AHEAD, minRemainingMs: MIN },
        MAX_ENTRIES,
      ],
      ['a missing maxEntries', { refreshAheadMs: AHEAD, minRemainingMs: MIN }, MAX_ENTRIES],
      ['a negative refreshAheadMs', { maxEntries: 1, refreshAheadMs: -1, minRemainingMs: 0 }, REFRESH_AHEAD],
      [
        'an infinite refreshAheadMs',
        { maxEntries: 1, refreshAheadMs: Infinity, minRemainingMs: MIN },
        REFRESH_AHEAD,
      ],
      [
        'a negative minRemainingMs',
        { maxEntries: 1, refreshAheadMs: AHEAD, minRemainingMs: -1 },
        MIN_REMAINING,
      ],
      ['a NaN minRemainingMs', { maxEntries: 1, refreshAheadMs: AHEAD, minRemainingMs: NaN }, MIN_REMAINING],
      [
        'a string minRemainingMs',
        { maxEntries: 1, refreshAheadMs: AHEAD, minRemainingMs: '60000' },
        MIN_REMAINING,
      ],
      [
        'minRemainingMs above refreshAheadMs',
        { maxEntries: 1, refreshAheadMs: MIN, minRemainingMs: AHEAD },
        'TokenCache: minRemainingMs must not exceed refreshAheadMs',
      ],
      [
        'a clock that is not a function',
        { maxEntries: 1, refreshAheadMs: AHEAD, minRemainingMs: MIN, now: 5 },
        'TokenCache: now must be a function',
      ],
      [
        'an onBackgroundError that is not a function',
        { maxEntries: 1, refreshAheadMs: AHEAD, minRemainingMs: MIN, onBackgroundError: 'log' },
        'TokenCache: onBackgroundError must be a function',
      ],
    ])('rejects %s with a TypeError naming the option', (_name, options, message) => {
      expect(() => new TokenCache(options as TokenCacheOptions)).toThrow(new TypeError(message));
    });

    it('accepts 0 for refreshAheadMs and minRemainingMs: serves a token until its last millisecond, with no refresh ahead', async () => {
      const cache = makeCache({ refreshAheadMs: 0, minRemainingMs: 0 });
      await seed(cache, 'k', tokenFor('t', 1));
      const mint = vi.fn(() => Promise.resolve(tokenFor('fresh')));
      expect(await cache.get('k', mint)).toEqual({
        value: expect.objectContaining({ token: 't' }),
        hit: true,
      });
      expect(mint).not.toHaveBeenCalled();
      clock += 1;
      expect(await cache.get('k', mint)).toEqual({
        value: expect.objectContaining({ token: 'fresh' }),
        hit: false,
      });
    });

    it('reads Date.now when no clock is given', async () => {
      vi.useFakeTimers();
      vi.setSystemTime(clock);
      const cache = new TokenCache<Token>({ maxEntries: 1, refreshAheadMs: AHEAD, minRemainingMs: MIN });
      await seed(cache, 'k', tokenFor('t', MIN + 1_000));
      expect(cache.peek('k')?.token).toBe('t');
      vi.setSystemTime(clock + 1_000);
      expect(cache.peek('k')).toBeUndefined();
    });

    it('accepts minRemainingMs equal to refreshAheadMs, which disables refresh-ahead', async () => {
      const cache = makeCache({ refreshAheadMs: MIN, minRemainingMs: MIN });
      await seed(cache, 'k', tokenFor('t', MIN + 1));
      const mint = vi.fn(() => Promise.resolve(tokenFor('fresh')));
      expect(await cache.get('k', mint)).toEqual({
        value: expect.objectContaining({ token: 't' }),
        hit: true,
      });
      expect(mint).not.toHaveBeenCalled();
    });

    it('rejects a mint that is not a function with a TypeError, on a miss and on a hit', async () => {
      const cache = makeCache();
      const notAMint = undefined as unknown as () => Promise<Token>;
      const misuse = new TypeError('TokenCache.get: mint must be a function');
      await expect(cache.get('k', notAMint)).rejects.toThrow(misuse);
      await seed(cache, 'k', tokenFor('t'));
      await expect(cache.get('k', notAMint)).rejects.toThrow(misuse);
    });
  });

  describe('hits and misses', () => {
    it('mints on a miss and serves the cached token afterwards without minting again', async () => {
      const cache = makeCache();
      const token = tokenFor('t1');
      const mint = vi.fn(() => Promise.resolve(token));

      expect(await cache.get('k', mint)).toEqual({ value: token, hit: false });
      expect(await cache.get('k', mint)).toEqual({ value: token, hit: true });
      expect(mint).toHaveBeenCalledTimes(1);
      expect(cache.size).toBe(1);
      expect(cache.stats()).toEqual({ hits: 1, misses: 1, refreshes: 0, evictions: 0, inFlight: 0 });
    });

    it('coalesces 1,000 concurrent misses for one key into a single mint', async () => {
      const cache = makeCache();
      const gate = deferred<Token>();
      const mint = vi.fn(() => gate.promise);

      const results = Array.from({ length: 1000 }, () => cache.get('k', mint));
      expect(cache.stats().inFlight).toBe(1);
      const token = tokenFor('shared');
      gate.resolve(token);
      const settled = await Promise.all(results);

      expect(mint).toHaveBeenCalledTimes(1);
      expect(settled.every((r) => r.value === token && !r.hit)).toBe(true);
      expect(cache.stats()).toEqual({ hits: 0, misses: 1000, refreshes: 0, evictions: 0, inFlight: 0 });
      expect(cache.peek('k')).toBe(token);
    });

    it('mints separately for different keys', async () => {
      const cache = makeCache();
      const mint = vi.fn((name: string) => Promise.resolve(tokenFor(name)));
      const [a, b] = await Promise.all([cache.get('a', () => mint('a')), cache.get('b', () => mint('b'))]);
      expect([a.value.token, b.value.token]).toEqual(['a', 'b']);
      expect(mint).toHaveBeenCalledTimes(2);
    });

    it('shares a failed mint with every waiter, caches nothing, and mints again on a later call', async () => {
      const cache = makeCache();
      const gate = deferred<Token>();
      const boom = new Error('token endpoint down');
      const failing = vi.fn(() => gate.promise);

      const waiters = Array.from({ length: 10 }, () => cache.get('k', failing));
      gate.reject(boom);
      const outcomes = await Promise.allSettled(waiters);
      expect(outcomes.every((o) => o.status === 'rejected' && o.reason === boom)).toBe(true);
      expect(failing).toHaveBeenCalledTimes(1);
      expect(cache.size).toBe(0);
      expect(cache.stats().inFlight).toBe(0);

      const token = tokenFor('recovered');
      expect(await cache.get('k', () => Promise.resolve(token))).toEqual({ value: token, hit: false });
      expect(unhandled).toEqual([]);
    });

    it('treats a synchronous throw from mint like a failed mint', async () => {
      const cache = makeCache();
      const boom = new Error('sync');
      await expect(
        cache.get('k', () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(cache.stats().inFlight).toBe(0);
    });
  });

  describe('minimum remaining lifetime', () => {
    it.each([
      ['exactly minRemainingMs left', MIN, false],
      ['1 ms less than minRemainingMs left', MIN - 1, false],
      ['an already expired entry', -1, false],
      ['1 ms more than minRemainingMs left', MIN + 1, true],
    ])('treats a cached token with %s as hit=%s', async (_name, remainingMs, expectedHit) => {
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old', HOUR));
      clock += HOUR - remainingMs;
      const fresh = tokenFor('fresh');
      const mint = vi.fn(() => Promise.resolve(fresh));

      const result = await cache.get('k', mint);
      expect(result.hit).toBe(expectedHit);
      expect(result.value.token).toBe(expectedHit ? 'old' : 'fresh');
      // A hit this close to expiry is inside the refresh window, so both paths mint exactly once.
      await drain();
      expect(mint).toHaveBeenCalledTimes(1);
    });

    it('returns a freshly minted short-lived token to its waiters but does not store it', async () => {
      const cache = makeCache();
      const shortLived = tokenFor('short', MIN);
      const [a, b] = await Promise.all([
        cache.get('k', () => Promise.resolve(shortLived)),
        cache.get('k', () => Promise.resolve(tokenFor('unused'))),
      ]);
      expect(a).toEqual({ value: shortLived, hit: false });
      expect(b).toEqual({ value: shortLived, hit: false });
      expect(cache.size).toBe(0);
      expect(cache.peek('k')).toBeUndefined();

      const next = tokenFor('next');
      expect(await cache.get('k', () => Promise.resolve(next))).toEqual({ value: next, hit: false });
    });

    it('stores a freshly minted token with just over minRemainingMs left', async () => {
      const cache = makeCache();
      const token = tokenFor('barely', MIN + 1);
      await seed(cache, 'k', token);
      expect(cache.peek('k')).toBe(token);
    });

    it('peeks only at tokens that may still be served, without minting or counting', async () => {
      const cache = makeCache();
      expect(cache.peek('k')).toBeUndefined();
      const token = tokenFor('t');
      await seed(cache, 'k', token);
      expect(cache.peek('k')).toBe(token);
      clock += HOUR - MIN;
      expect(cache.peek('k')).toBeUndefined();
      expect(cache.stats()).toMatchObject({ hits: 0, misses: 1 });
    });
  });

  describe('refresh ahead of expiry', () => {
    it('does not refresh a token with more than refreshAheadMs left', async () => {
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old'));
      clock += HOUR - AHEAD - 1;
      const mint = vi.fn(() => Promise.resolve(tokenFor('new')));
      expect((await cache.get('k', mint)).hit).toBe(true);
      await drain();
      expect(mint).not.toHaveBeenCalled();
      expect(cache.stats().refreshes).toBe(0);
    });

    it('serves the old token as a hit while exactly one background refresh replaces it', async () => {
      const cache = makeCache();
      const old = tokenFor('old');
      await seed(cache, 'k', old);
      clock += HOUR - AHEAD;
      const gate = deferred<Token>();
      const mint = vi.fn(() => gate.promise);

      const during = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', mint)));
      expect(during.every((r) => r.hit && r.value === old)).toBe(true);
      expect(mint).toHaveBeenCalledTimes(1);
      expect(cache.stats()).toMatchObject({ hits: 50, refreshes: 1, inFlight: 1 });

      const fresh = tokenFor('fresh');
      gate.resolve(fresh);
      await drain();
      expect(cache.peek('k')).toBe(fresh);
      expect(await cache.get('k', mint)).toEqual({ value: fresh, hit: true });
      expect(mint).toHaveBeenCalledTimes(1);
      expect(cache.stats()).toEqual({ hits: 51, misses: 1, refreshes: 1, evictions: 0, inFlight: 0 });
    });

    it('lets a miss join a background refresh that is already running instead of minting again', async () => {
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old'));
      clock += HOUR - AHEAD;
      const gate = deferred<Token>();
      const mint = vi.fn(() => gate.promise);
      expect((await cache.get('k', mint)).hit).toBe(true);

      clock += AHEAD - MIN; // the old token is now too close to expiry to serve
      const miss = cache.get('k', mint);
      const fresh = tokenFor('fresh');
      gate.resolve(fresh);
      expect(await miss).toEqual({ value: fresh, hit: false });
      expect(mint).toHaveBeenCalledTimes(1);
    });

    it('reports a failed background refresh once and keeps serving the old token until it is too close to expiry', async () => {
      const onBackgroundError = vi.fn();
      const cache = makeCache({ onBackgroundError });
      const old = tokenFor('old');
      await seed(cache, 'k', old);
      clock += HOUR - AHEAD;
      const boom = new Error('refresh failed');
      const failing = vi.fn(() => Promise.reject(boom));

      expect(await cache.get('k', failing)).toEqual({ value: old, hit: true });
      await drain();
      expect(onBackgroundError).toHaveBeenCalledTimes(1);
      expect(onBackgroundError).toHaveBeenCalledWith(boom, 'k');
      expect(cache.peek('k')).toBe(old);

      // Still servable: the next hit tries another refresh.
      clock += AHEAD - MIN - 1;
      expect(await cache.get('k', failing)).toEqual({ value: old, hit: true });
      await drain();
      expect(failing).toHaveBeenCalledTimes(2);
      expect(cache.stats().refreshes).toBe(2);

      // Now under minRemainingMs: a miss that waits for the mint.
      clock += 1;
      const fresh = tokenFor('fresh');
      expect(await cache.get('k', () => Promise.resolve(fresh))).toEqual({ value: fresh, hit: false });
      expect(unhandled).toEqual([]);
    });

    it('never leaves an unhandled rejection when a refresh fails without a reporter, or the reporter throws', async () => {
      const quiet = makeCache();
      const throwing = makeCache({
        onBackgroundError: () => {
          throw new Error('logger broke');
        },
      });
      for (const cache of [quiet, throwing]) {
        await seed(cache, 'k', tokenFor('old'));
      }
      clock += HOUR - AHEAD;
      for (const cache of [quiet, throwing]) {
        expect((await cache.get('k', () => Promise.reject(new Error('refresh failed')))).hit).toBe(true);
      }
      await drain();
      await drain();
      expect(unhandled).toEqual([]);
      expect(quiet.peek('k')?.token).toBe('old');
      expect(throwing.peek('k')?.token).toBe('old');
    });

    it('sets no timers, so the cache never keeps the process alive', async () => {
      vi.useFakeTimers();
      clock = Date.now();
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old'));
      clock += HOUR - AHEAD;
      await cache.get('k', () => Promise.resolve(tokenFor('new')));
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('LRU bound', () => {
    it('evicts the least recently used entry, where a hit counts as a use', async () => {
      const cache = makeCache({ maxEntries: 3 });
      for (const key of ['a', 'b', 'c']) await seed(cache, key, tokenFor(key));
      await cache.get('a', () => Promise.reject(new Error('should be a hit')));
      await seed(cache, 'd', tokenFor('d'));

      expect(cache.size).toBe(3);
      expect(cache.peek('b')).toBeUndefined();
      expect(['a', 'c', 'd'].map((k) => cache.peek(k)?.token)).toEqual(['a', 'c', 'd']);
      expect(cache.stats().evictions).toBe(1);
    });

    it('does not count a peek as a use', async () => {
      const cache = makeCache({ maxEntries: 2 });
      await seed(cache, 'a', tokenFor('a'));
      await seed(cache, 'b', tokenFor('b'));
      cache.peek('a');
      await seed(cache, 'c', tokenFor('c'));
      expect(cache.peek('a')).toBeUndefined();
      expect(cache.peek('b')?.token).toBe('b');
    });

    it('never holds more than maxEntries and evicts in insertion order without hits', async () => {
      const cache = makeCache({ maxEntries: 5 });
      for (let i = 0; i < 50; i++) {
        await seed(cache, `k${i}`, tokenFor(`t${i}`));
        expect(cache.size).toBeLessThanOrEqual(5);
      }
      expect(cache.size).toBe(5);
      expect(cache.stats().evictions).toBe(45);
      expect(cache.peek('k44')).toBeUndefined();
      expect(['k45', 'k46', 'k47', 'k48', 'k49'].every((k) => cache.peek(k) !== undefined)).toBe(true);
    });

    it('frees the slot of an entry found too close to expiry', async () => {
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old', MIN + 10));
      expect(cache.size).toBe(1);
      clock += 10;
      await expect(cache.get('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
      expect(cache.size).toBe(0);
    });
  });

  describe('delete and clear', () => {
    it('deletes one key and reports whether it was there', async () => {
      const cache = makeCache();
      await seed(cache, 'a', tokenFor('a'));
      await seed(cache, 'b', tokenFor('b'));
      expect(cache.delete('a')).toBe(true);
      expect(cache.delete('a')).toBe(false);
      expect(cache.peek('a')).toBeUndefined();
      expect(cache.peek('b')?.token).toBe('b');
    });

    it('deleteWhere drops exactly the entries whose value matches, and says how many', async () => {
      const cache = makeCache();
      await seed(cache, 'a', tokenFor('leaked'));
      await seed(cache, 'b', tokenFor('other'));
      await seed(cache, 'c', tokenFor('leaked'));
      expect(cache.deleteWhere((value) => value.token === 'leaked')).toBe(2);
      expect(cache.peek('a')).toBeUndefined();
      expect(cache.peek('c')).toBeUndefined();
      expect(cache.peek('b')?.token).toBe('other');
      expect(cache.deleteWhere((value) => value.token === 'leaked')).toBe(0);
      expect(cache.size).toBe(1);
    });

    it('clears every entry', async () => {
      const cache = makeCache();
      await seed(cache, 'a', tokenFor('a'));
      await seed(cache, 'b', tokenFor('b'));
      cache.clear();
      expect(cache.size).toBe(0);
    });

    it.each([
      ['delete', (cache: TokenCache<Token>) => void cache.delete('k')],
      ['clear', (cache: TokenCache<Token>) => cache.clear()],
    ])(
      'does not store the result of a mint that was running when %s was called, and starts a new one for later callers',
      async (_name, invalidate) => {
        const cache = makeCache();
        const stale = deferred<Token>();
        const before = cache.get('k', () => stale.promise);
        invalidate(cache);
        expect(cache.stats().inFlight).toBe(0);

        const fresh = tokenFor('fresh');
        const freshMint = vi.fn(() => Promise.resolve(fresh));
        const after = cache.get('k', freshMint);
        stale.resolve(tokenFor('stale'));

        expect((await before).value.token).toBe('stale');
        expect(await after).toEqual({ value: fresh, hit: false });
        expect(freshMint).toHaveBeenCalledTimes(1);
        await drain();
        expect(cache.peek('k')).toBe(fresh);
      },
    );

    it('stores the result of a mint started after delete, even when the revoked older mint finishes first', async () => {
      const cache = makeCache();
      const stale = deferred<Token>();
      const fresh = deferred<Token>();
      const before = cache.get('k', () => stale.promise);
      cache.delete('k');
      const after = cache.get('k', () => fresh.promise);
      stale.resolve(tokenFor('stale'));
      expect((await before).value.token).toBe('stale');
      fresh.resolve(tokenFor('fresh'));
      expect((await after).value.token).toBe('fresh');
      expect(cache.peek('k')?.token).toBe('fresh');
    });

    it('does not resurrect a deleted key when its background refresh completes', async () => {
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old'));
      clock += HOUR - AHEAD;
      const gate = deferred<Token>();
      await cache.get('k', () => gate.promise);
      cache.delete('k');
      gate.resolve(tokenFor('refreshed'));
      await drain();
      expect(cache.peek('k')).toBeUndefined();
      expect(cache.size).toBe(0);
    });
  });

  describe('getCached (the synchronous hit)', () => {
    it('answers a hit without a promise, counted and LRU-touched as get does; a miss answers undefined and counts nothing', async () => {
      const cache = makeCache({ maxEntries: 2 });
      await seed(cache, 'a', tokenFor('A'));
      await seed(cache, 'b', tokenFor('B'));
      const mint = vi.fn(() => Promise.resolve(tokenFor('never')));
      expect(cache.getCached('a', mint)?.token).toBe('A');
      expect(cache.getCached('missing', mint)).toBeUndefined();
      expect(mint).not.toHaveBeenCalled();
      expect(cache.stats()).toEqual({ hits: 1, misses: 2, refreshes: 0, evictions: 0, inFlight: 0 });
      // 'a' was touched: storing a third key evicts 'b', the least recently used.
      await seed(cache, 'c', tokenFor('C'));
      expect(cache.peek('a')?.token).toBe('A');
      expect(cache.peek('b')).toBeUndefined();
    });

    it('starts exactly one background refresh in the refresh-ahead window, through the given mint', async () => {
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old'));
      clock += HOUR - AHEAD;
      const gate = deferred<Token>();
      const mint = vi.fn(() => gate.promise);
      expect(cache.getCached('k', mint)?.token).toBe('old');
      expect(cache.getCached('k', mint)?.token).toBe('old');
      expect(mint).toHaveBeenCalledTimes(1);
      expect(cache.stats()).toMatchObject({ refreshes: 1, inFlight: 1 });
      gate.resolve(tokenFor('new'));
      await drain();
      expect(cache.getCached('k', mint)?.token).toBe('new');
    });

    it('never serves an entry with minRemainingMs or less left, and frees its slot', async () => {
      const cache = makeCache();
      await seed(cache, 'k', tokenFor('old'));
      clock += HOUR - MIN;
      expect(cache.getCached('k', () => Promise.resolve(tokenFor('x')))).toBeUndefined();
      expect(cache.size).toBe(0);
      expect(cache.stats().hits).toBe(0);
    });
  });
});
