/**
 * {@link SharedStore} on Redis (Memorystore for Redis) through node-redis 5, loaded with a dynamic
 * import the first time the tier is used, so deployments without the tier never load it.
 *
 * Memorystore specifics (docs/shared-cache.md cites them): AUTH sends the instance's AUTH string
 * (a UUID, read from Secret Manager at first use); with in-transit encryption the URL is
 * `rediss://` and the instance's server CA (PEM) is the only trust anchor.
 *
 * Every operation is bounded: waiting for the first connection by `connectTimeoutMs`, the command
 * by `opTimeoutMs`; commands never queue while the client is offline (`disableOfflineQueue`), so
 * a dead or slow Redis costs a miss at most that long (the circuit breaker in shared-tier.ts then
 * skips Redis altogether).
 */
import { StoreUnavailable, type SharedStore } from './store.js';

export interface RedisStoreOptions {
  /** `redis://host:port` or `rediss://host:port` (no credentials in the URL). */
  url: string;
  /** The AUTH string (Memorystore: default user), fetched once per connection attempt; absent = no AUTH. */
  password?: () => Promise<string>;
  /** PEM of the server CA to trust for `rediss://` (Memorystore's per-instance CA). */
  caPem?: string;
  /** Bound of one command on an open connection. */
  opTimeoutMs: number;
  /**
   * Bound of waiting for the connection to be opened (import, AUTH string read, TCP/TLS, AUTH):
   * a cold instance's first misses wait for it rather than all mint for themselves.
   */
  connectTimeoutMs: number;
  /** Connection problems, log-safe (never a value or the AUTH string). */
  onConnectionError?: (detail: string) => void;
}

type RedisClient = ReturnType<typeof import('redis').createClient>;

/** node-redis error messages name the command and the server's reply code; they never echo values we sent. */
function reason(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.slice(0, 200);
}

export function createRedisStore(options: RedisStoreOptions): SharedStore {
  let client: Promise<RedisClient> | undefined;
  /** The client being connected or connected, so close() can stop it even mid-connect. */
  let current: RedisClient | undefined;
  let closed = false;

  const connect = (): Promise<RedisClient> => {
    client ??= (async () => {
      const { createClient } = await import('redis');
      const url = new URL(options.url);
      const password = options.password ? await options.password() : undefined;
      const c = createClient({
        url: options.url,
        ...(password ? { password } : {}),
        socket: {
          connectTimeout: options.connectTimeoutMs,
          // Reconnect with capped backoff; commands meanwhile fail at once (no offline queue).
          reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000),
          ...(url.protocol === 'rediss:'
            ? {
                tls: true as const,
                servername: url.hostname,
                ...(options.caPem ? { ca: [options.caPem] } : {}),
              }
            : {}),
        },
        disableOfflineQueue: true,
        commandOptions: { timeout: options.opTimeoutMs },
      });
      c.on('error', (err: unknown) => options.onConnectionError?.(reason(err)));
      current = c;
      if (closed) c.destroy();
      try {
        await c.connect();
      } catch (err) {
        if (c.isOpen) c.destroy();
        throw err;
      }
      return c;
    })();
    client.catch(() => {
      client = undefined;
    });
    return client;
  };

  const bounded = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailable(`${what}: no answer within ${ms} ms`)), ms);
      timer.unref?.();
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  };

  const run = async <T>(what: string, op: (c: RedisClient) => Promise<T>): Promise<T> => {
    if (closed) throw new StoreUnavailable(`${what}: closed`);
    try {
      const c = await bounded(connect(), options.connectTimeoutMs, `${what} (connecting)`);
      return await bounded(op(c), options.opTimeoutMs, what);
    } catch (err) {
      if (err instanceof StoreUnavailable) throw err;
      throw new StoreUnavailable(`${what}: ${reason(err)}`, { cause: err });
    }
  };

  // Connect at once (the tier is configured, so it will be used): the first miss should not pay
  // for the import, the AUTH string read and the TLS handshake. A failure here is retried by the next operation.
  connect().catch(() => undefined);

  return {
    get: (key) => run<string | null>('GET', (c) => c.get(key)),
    async set(key, value, ttlMs) {
      await run('SET', (c) =>
        c.set(key, value, { expiration: { type: 'PX', value: Math.max(1, Math.floor(ttlMs)) } }),
      );
    },
    async setIfAbsent(key, value, ttlMs) {
      const reply = await run('SET NX', (c) =>
        c.set(key, value, {
          condition: 'NX',
          expiration: { type: 'PX', value: Math.max(1, Math.floor(ttlMs)) },
        }),
      );
      return reply === 'OK';
    },
    async deleteIfEquals(key, value) {
      // GET then DEL: not atomic. Used for our own lock (held no longer than its TTL, which
      // outlasts our mint) and for an entry we judged unusable; a lost race costs one extra mint.
      if ((await run('GET', (c) => c.get(key))) === value) await run('DEL', (c) => c.del(key));
    },
    async close() {
      closed = true;
      const c = current;
      if (!c) return;
      if (c.isReady) await c.close().catch(() => c.destroy());
      else if (c.isOpen) c.destroy();
    },
  };
}
