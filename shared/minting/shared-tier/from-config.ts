/**
 * Builds the shared cache tier from configuration: Redis (node-redis, loaded lazily), the AUTH
 * string from Secret Manager, Cloud KMS for the data keys, the lock and freshness bounds derived
 * from the local cache and the upstream deadline. Production and the emulator differ only in the
 * configured endpoints.
 */
import type { SharedCacheConfig } from '../../config.js';
import type { SecretAccessor } from '../../gcp/secret-access.js';
import type { OpsLog } from '../../ops-log.js';
import type { OwnCredential } from '../own-credential.js';
import type { CacheOptions } from '../upstream-setup.js';
import { createDataKeys } from '../../crypto/data-keys.js';
import { createKmsClient } from '../../crypto/kms-client.js';
import { createRedisStore } from './redis-store.js';
import { redisWrappedKeys, SHARED_CACHE_DEK_PURPOSE } from './redis-wrapped-keys.js';
import { createSharedTier, type SharedTier } from './shared-tier.js';

export interface SharedTierDeps {
  secrets: SecretAccessor;
  /** The function's own identity (ADC), for KMS calls. */
  credential: OwnCredential;
  cache: CacheOptions;
  /** The minter's overall upstream deadline: the lock outlives one mint. */
  upstreamDeadlineMs: number;
  log: OpsLog;
}

export function sharedTierFromConfig(config: SharedCacheConfig, deps: SharedTierDeps): SharedTier {
  const authSecret = config.authSecretVersion;
  let lastConnectionLogMs = 0;
  const store = createRedisStore({
    url: config.url,
    caPem: config.caPem,
    opTimeoutMs: config.opTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    ...(authSecret
      ? {
          password: async () =>
            (await deps.secrets.access(authSecret, { timeoutMs: 5_000 })).data.toString('utf8').trim(),
        }
      : {}),
    // node-redis reports every failed reconnect: one line per 10 s is enough.
    onConnectionError: (detail) => {
      if (Date.now() - lastConnectionLogMs < 10_000) return;
      lastConnectionLogMs = Date.now();
      deps.log('WARNING', 'shared cache connection error', {
        event: 'shared_cache_connection_error',
        detail,
      });
    },
  });
  const kms = createKmsClient({
    baseUrl: config.kmsUrl,
    keyName: config.kmsKey,
    credential: deps.credential,
    timeoutMs: Math.min(2_000, deps.upstreamDeadlineMs),
  });
  return createSharedTier({
    store,
    dataKeys: createDataKeys({ store: redisWrappedKeys(store), kms, purpose: SHARED_CACHE_DEK_PURPOSE }),
    freshForMs: deps.cache.refreshAheadMs + deps.cache.minRemainingMs,
    lockTtlMs: deps.upstreamDeadlineMs + 2_000,
    lockWaitMs: config.lockWaitMs,
    log: deps.log,
  });
}
