/**
 * Where the shared cache keeps its wrapped data keys: in the same Redis as its entries, as base64
 * strings under `tvs:v1:dek:<id>`, with the period pointers under `tvs:v1:dek-current:<period>`.
 * Both expire after the period plus the longest life of an entry sealed in it (default 1 h + 13 h:
 * entries live ≤ 12 h), so Redis holds only the keys that can still open something.
 */
import type { WrappedKeyStore } from '../../crypto/data-keys.js';
import type { SharedStore } from './store.js';

/** The KMS AAD purpose of the shared cache's data keys (shared/crypto/data-keys.ts). */
export const SHARED_CACHE_DEK_PURPOSE = 'tvs-shared-cache';

const wrappedKeyName = (id: string): string => `tvs:v1:dek:${id}`;
const periodKeyName = (period: number): string => `tvs:v1:dek-current:${period}`;

export function redisWrappedKeys(store: SharedStore, options: { ttlMs?: number } = {}): WrappedKeyStore {
  const ttlMs = options.ttlMs ?? 14 * 3_600_000;
  return {
    async getWrapped(id) {
      const value = await store.get(wrappedKeyName(id));
      return value === null ? null : Buffer.from(value, 'base64');
    },
    putWrapped: (id, wrapped) => store.set(wrappedKeyName(id), wrapped.toString('base64'), ttlMs),
    getCurrent: (period) => store.get(periodKeyName(period)),
    publishCurrent: (period, id) => store.setIfAbsent(periodKeyName(period), id, ttlMs),
    replaceCurrent: (period, id) => store.set(periodKeyName(period), id, ttlMs),
  };
}
