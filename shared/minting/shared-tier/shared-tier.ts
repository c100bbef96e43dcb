/**
 * The shared cache tier behind every instance's own token cache (issue 17, docs/shared-cache.md):
 * a local miss reads the fleet's entry; when there is no fresh one, a short Redis lock lets ONE
 * instance mint while the others poll for its entry (bounded), so concurrent misses for one key
 * on different instances cost one upstream mint.
 *
 * It never fails a request: Redis or KMS down, slow or refusing makes the loader mint locally as
 * without the tier (a circuit breaker then skips the tier for a while), and an entry that does
 * not open (tampered, copied from another key, sealed under a key that is not ours) is a miss
 * that is minted and overwritten. Each of these writes a rate-limited ops line without any token
 * or key material.
 */
import { randomBytes } from 'node:crypto';
import type { OpsLog, Severity } from '../../ops-log.js';
import type { MintedToken } from '../minter.js';
import { createCircuitBreaker, type CircuitBreaker } from './circuit-breaker.js';
import { DataKeyRejected, type DataKeys } from '../../crypto/data-keys.js';
import { EntryRejected, entryDataKeyId, openEntry, redisKeys, sealEntry } from './envelope.js';
import { KmsError } from '../../crypto/kms-client.js';
import { StoreUnavailable, type SharedStore } from './store.js';

export interface SharedTierOptions {
  store: SharedStore;
  dataKeys: DataKeys;
  /**
   * An entry is served only while it has more than this left: the local cache's refreshAheadMs +
   * minRemainingMs, so an instance refreshing ahead is never handed the token it is replacing.
   */
  freshForMs: number;
  /** The lock's TTL: longer than one mint can take (the upstream deadline), so a live winner keeps it. */
  lockTtlMs: number;
  /** How long a loser polls for the winner's entry before minting itself. */
  lockWaitMs: number;
  /** First poll interval; doubles up to `maxPollMs`. */
  firstPollMs?: number;
  maxPollMs?: number;
  breaker?: CircuitBreaker;
  log?: OpsLog;
  /** Minimum time between two ops lines of one kind (default 10 s). */
  logIntervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Counters since construction (for tests and the status page). */
export interface SharedTierStats {
  /** Local misses served from the tier. */
  hits: number;
  /** Mints done by this instance holding the lock. */
  lockedMints: number;
  /** Misses that waited for another instance's mint. */
  waits: number;
  /** Mints done without the tier: it failed, was skipped by the breaker, or the wait ran out. */
  fallbacks: number;
  /** Entries that did not open (tampered, misplaced, unknown data key). */
  rejected: number;
}

export interface SharedTier {
  /** The token for `cacheKey` from the tier, or from `mint` (once per fleet when the tier is healthy). */
  load(cacheKey: string, mint: () => Promise<MintedToken>): Promise<MintedToken>;
  /** Drops the tier's entry for `cacheKey` if it holds `token` (a token that must not be served again). */
  discard(cacheKey: string, token: string): Promise<void>;
  stats(): SharedTierStats;
  close(): Promise<void>;
}

type Failure = { kind: 'redis' | 'kms'; detail: string };

function infrastructureFailure(err: unknown): Failure | undefined {
  if (err instanceof StoreUnavailable) return { kind: 'redis', detail: err.detail };
  if (err instanceof KmsError) return { kind: 'kms', detail: `${err.kind}: ${err.detail}` };
  return undefined;
}

/** `at|email` / `id|email`: what ops lines say about a key (no scopes, audiences or tokens). */
const keyLabel = (cacheKey: string): string => cacheKey.split('|').slice(0, 2).join('|');

export function createSharedTier(options: SharedTierOptions): SharedTier {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const breaker = options.breaker ?? createCircuitBreaker({ now });
  const firstPollMs = options.firstPollMs ?? 20;
  const maxPollMs = options.maxPollMs ?? 250;
  const owner = randomBytes(8).toString('hex');
  let lockSerial = 0;
  const stats: SharedTierStats = { hits: 0, lockedMints: 0, waits: 0, fallbacks: 0, rejected: 0 };

  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  const event = (
    kind: string,
    severity: Severity,
    message: string,
    fields: Record<string, unknown>,
  ): void => {
    if (!options.log) return;
    const interval = options.logIntervalMs ?? 10_000;
    const last = lastLogged.get(kind);
    if (last && now() - last.at < interval) {
      last.suppressed++;
      return;
    }
    options.log(severity, message, {
      event: `shared_cache_${kind}`,
      ...fields,
      ...(last?.suppressed ? { suppressedSinceLast: last.suppressed } : {}),
    });
    lastLogged.set(kind, { at: now(), suppressed: 0 });
  };

  const failed = (failure: Failure, cacheKey: string): void => {
    const before = breaker.state;
    breaker.failure();
    const after = breaker.state;
    event(`${failure.kind}_unavailable`, 'WARNING', 'shared cache unavailable; minting locally', {
      dependency: failure.kind,
      detail: failure.detail,
      key: keyLabel(cacheKey),
      breaker: breaker.state,
    });
    if (before === 'closed' && after === 'open')
      event('breaker_open', 'WARNING', 'shared cache skipped for a while after repeated failures', {
        dependency: failure.kind,
      });
  };

  /** A fresh token from the tier, or undefined (absent, stale or rejected). Throws on infrastructure failures. */
  const read = async (cacheKey: string, entryKey: string): Promise<MintedToken | undefined> => {
    const sealed = await options.store.get(entryKey);
    if (sealed === null) return undefined;
    let token: MintedToken;
    try {
      token = openEntry(await options.dataKeys.byId(entryDataKeyId(sealed)), cacheKey, sealed);
    } catch (err) {
      if (!(err instanceof EntryRejected || err instanceof DataKeyRejected)) throw err;
      stats.rejected++;
      event('entry_rejected', 'WARNING', 'shared cache entry rejected; minting a new one', {
        reason: err.reason,
        key: keyLabel(cacheKey),
      });
      return undefined;
    }
    return token.expiresAtMs - now() > options.freshForMs ? token : undefined;
  };

  const tryLock = async (lockKey: string): Promise<string | undefined> => {
    const value = `${owner}:${++lockSerial}`;
    return (await options.store.setIfAbsent(lockKey, value, options.lockTtlMs)) ? value : undefined;
  };

  const mintAndPublish = async (
    cacheKey: string,
    keys: { entry: string; lock: string },
    lock: string,
    mint: () => Promise<MintedToken>,
  ): Promise<MintedToken> => {
    stats.lockedMints++;
    let minted: MintedToken;
    try {
      minted = await mint();
    } catch (err) {
      // Let the next instance try at once rather than wait out the lock.
      await options.store.deleteIfEquals(keys.lock, lock).catch(() => undefined);
      throw err;
    }
    try {
      const freshForMs = minted.expiresAtMs - now() - options.freshForMs;
      if (freshForMs > 0) {
        const sealed = sealEntry(await options.dataKeys.current(), cacheKey, minted);
        await options.store.set(keys.entry, sealed, freshForMs);
      }
      await options.store.deleteIfEquals(keys.lock, lock);
      breaker.success();
    } catch (err) {
      const failure = infrastructureFailure(err);
      if (!failure) throw err;
      failed(failure, cacheKey);
      await options.store.deleteIfEquals(keys.lock, lock).catch(() => undefined);
    }
    return minted;
  };

  const fallBack = (
    err: unknown,
    cacheKey: string,
    mint: () => Promise<MintedToken>,
  ): Promise<MintedToken> => {
    const failure = infrastructureFailure(err);
    if (!failure) throw err;
    failed(failure, cacheKey);
    stats.fallbacks++;
    return mint();
  };

  return {
    async load(cacheKey, mint) {
      if (!breaker.allow()) {
        stats.fallbacks++;
        return mint();
      }
      const keys = redisKeys(cacheKey);
      let lock: string | undefined;
      try {
        const found = await read(cacheKey, keys.entry);
        if (found) {
          breaker.success();
          stats.hits++;
          return found;
        }
        lock = await tryLock(keys.lock);
        breaker.success();
      } catch (err) {
        return fallBack(err, cacheKey, mint);
      }
      if (lock !== undefined) return mintAndPublish(cacheKey, keys, lock, mint);

      // Another instance is minting this key: wait for its entry, or for its lock to go.
      stats.waits++;
      const deadline = now() + options.lockWaitMs;
      for (let delay = firstPollMs; now() < deadline; delay = Math.min(delay * 2, maxPollMs)) {
        await sleep(Math.max(0, Math.min(delay, deadline - now())));
        try {
          const found = await read(cacheKey, keys.entry);
          if (found) {
            stats.hits++;
            return found;
          }
          lock = await tryLock(keys.lock);
        } catch (err) {
          return fallBack(err, cacheKey, mint);
        }
        if (lock !== undefined) return mintAndPublish(cacheKey, keys, lock, mint);
      }
      stats.fallbacks++;
      event('wait_exceeded', 'NOTICE', 'shared cache lock wait ran out; minting locally', {
        key: keyLabel(cacheKey),
        waitedMs: options.lockWaitMs,
      });
      return mint();
    },

    async discard(cacheKey, token) {
      const keys = redisKeys(cacheKey);
      try {
        const sealed = await options.store.get(keys.entry);
        if (sealed === null) return;
        let held: MintedToken | undefined;
        try {
          held = openEntry(await options.dataKeys.byId(entryDataKeyId(sealed)), cacheKey, sealed);
        } catch (err) {
          if (!(err instanceof EntryRejected || err instanceof DataKeyRejected)) throw err;
        }
        if (held === undefined || held.token === token)
          await options.store.deleteIfEquals(keys.entry, sealed);
      } catch (err) {
        const failure = infrastructureFailure(err);
        if (!failure) throw err;
        failed(failure, cacheKey);
      }
    },

    stats: () => ({ ...stats }),
    close: () => options.store.close(),
  };
}
