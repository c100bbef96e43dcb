/**
 * The shared, encrypted cache tier over real sockets: three token-function instances (as on
 * Cloud Run) against one emulator — its Redis (RESP2, AUTH from Secret Manager) and Cloud KMS —
 * with the real node-redis client and google-auth-library. Upstream mints are counted by the
 * emulator (`iamcredentials.generateIdToken` for the keyless service account).
 *
 * Attacks on the stored bytes (tampered, copied to another key's slot, sealed under a data key
 * that is not ours) must never be served; Redis or KMS down must never fail a request; nothing
 * secret may reach a log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../../emulator/index.js';
import { localSharedCacheEnv, startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { idTokenCacheKey } from '../../../../shared/minting/minter.js';
import { newDataKey } from '../../../../shared/crypto/data-key.js';
import { dataKeyAad } from '../../../../shared/crypto/data-keys.js';
import { redisKeys, sealEntry } from '../../../../shared/minting/shared-tier/envelope.js';
import { SHARED_CACHE_DEK_PURPOSE } from '../../../../shared/minting/shared-tier/redis-wrapped-keys.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const PROJECT = 'tvs-local';
const WORKLOAD = `workload@${PROJECT}.iam.gserviceaccount.com`;
const VERTEX = `vertex-caller@${PROJECT}.iam.gserviceaccount.com`;
const MINTS = 'iamcredentials.generateIdToken';

let emulator: Emulator;
let restoreEnv: (() => void) | undefined;
const stacks: LocalStack[] = [];
const logs: Capture[] = [];
/** Every token any instance handed out in this file: none may appear in a log or in Redis in clear. */
const issued = new Set<string>();
let audienceSerial = 0;

/**
 * A token function on the shared emulator. Its Redis bounds are generous (1 s a command, 10 s to connect): the
 * suite shares two cores with other test files, and a fallback there would only blur the counts
 * this file asserts. The slow-Redis case sets its own.
 */
async function startInstance(env: Record<string, string> = {}): Promise<LocalStack> {
  const log = createCapture();
  logs.push(log);
  const stack = await startLocalStack({
    emulator,
    auditTransport: log.stream,
    opsLogWrite: log.write,
    env: {
      ...localSharedCacheEnv(emulator),
      TVS_SHARED_CACHE_OP_TIMEOUT_MS: '1000',
      TVS_SHARED_CACHE_CONNECT_TIMEOUT_MS: '10000',
      ...env,
    },
  });
  stacks.push(stack);
  return stack;
}

/** A distinct cache key per call: an ID token for a new backend-*.a.run.app audience. */
const nextAudience = (): string => `https://backend-${++audienceSerial}-shared.a.run.app`;
const cacheKeyOf = (audience: string): string =>
  idTokenCacheKey({ email: VERTEX, backend: 'keyless' }, audience, false);

async function idTokenFrom(
  stack: LocalStack,
  audience: string,
): Promise<{ status: number; token?: string; body: any }> {
  const caller = await emulator.state.signingKeys.signIdToken({
    audience: stack.tokenUrl,
    subject: emulator.state.serviceAccounts.get(WORKLOAD)!,
  });
  const res = await fetch(`${stack.tokenUrl}/v1/projects/-/serviceAccounts/${VERTEX}:generateIdToken`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${caller}` },
    body: JSON.stringify({ audience }),
  });
  const body: any = await res.json();
  if (typeof body.token === 'string') issued.add(body.token);
  return { status: res.status, token: body.token, body };
}

const mints = (): number => emulator.faults.count(MINTS);
/** Upstream attempts of the last mint instance `i` audited (a transient failure is retried). */
async function mintAttempts(i: number): Promise<number> {
  await stacks[i].token.flushAudit();
  const minted = logs[i].entries().filter((e) => e.mint !== undefined);
  return minted.at(-1)?.mint.attempts ?? 0;
}
const opsEvents = (capture: Capture, event: string): any[] =>
  capture
    .text()
    .split('\n')
    .filter((l) => l.includes('"component"'))
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === event);

/** Rewrites a stored value: base64url-decodes it, lets `edit` change the bytes, stores it back (keeping its TTL). */
function tamper(key: string, edit: (bytes: Buffer) => Buffer): void {
  const stored = emulator.redis.data.get(key);
  expect(stored, `no entry at ${key}`).toBeDefined();
  const bytes = edit(Buffer.from(stored!.toString('utf8'), 'base64url'));
  emulator.redis.data.set(key, Buffer.from(bytes.toString('base64url'), 'utf8'), 'keep');
}

beforeAll(async () => {
  emulator = await startEmulator();
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  for (let i = 0; i < 3; i++) await startInstance();
}, 60_000);

afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  await emulator?.stop();
  restoreEnv?.();
});

describe('the shared cache tier across instances', () => {
  it('serves a token minted on instance A to instances B and C without another upstream mint', async () => {
    const kmsKey = localSharedCacheEnv(emulator).TVS_SHARED_CACHE_KMS_KEY;
    const period = Math.floor(Date.now() / 3_600_000);
    const audience = nextAudience();
    const before = mints();
    const a = await idTokenFrom(stacks[0], audience);
    expect(a.status).toBe(200);
    expect(mints(), 'one mint (with its retries) on A').toBe(before + (await mintAttempts(0)));
    const minted = mints();

    const b = await idTokenFrom(stacks[1], audience);
    const c = await idTokenFrom(stacks[2], audience);
    expect([b.status, c.status]).toEqual([200, 200]);
    expect([b.token, c.token]).toEqual([a.token, a.token]);
    expect(mints(), JSON.stringify(stacks.map((s) => s.token.sharedTier!.stats()))).toBe(minted);
    expect(stacks.map((s) => s.token.sharedTier!.stats().hits)).toEqual([0, 1, 1]);

    // Envelope encryption: one data key for the fleet, wrapped once (A) and unwrapped once by each
    // other instance — KMS sees instances × data keys, not one call per token read.
    if (Math.floor(Date.now() / 3_600_000) === period)
      expect(emulator.state.kms.calls(kmsKey)).toEqual({ encrypt: 1, decrypt: 2 });
  });

  it('makes concurrent cold misses for one key on three instances cost one upstream mint', async () => {
    const audience = nextAudience();
    const before = mints();
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => idTokenFrom(stacks[i % 3], audience)),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(new Set(answers.map((r) => r.token)).size).toBe(1);
    expect(mints()).toBe(before + 1);
  });

  it('stores no token in clear and no cache key (service account, audience) in a Redis key name', () => {
    expect(issued.size).toBeGreaterThan(0);
    const keys = emulator.redis.data.keys();
    expect(keys.some((k) => k.startsWith('tvs:v1:tok:'))).toBe(true);
    for (const key of keys) {
      expect(key).not.toContain('vertex-caller');
      expect(key).not.toContain('backend-');
      const value = emulator.redis.data.get(key)!;
      for (const token of issued) {
        expect(value.includes(token)).toBe(false);
        // Nor any recognisable piece of it (each JWT part) in clear or in base64url.
        for (const part of token.split('.')) {
          expect(value.includes(part)).toBe(false);
          expect(value.toString('utf8').includes(Buffer.from(part).toString('base64url'))).toBe(false);
        }
      }
    }
  });

  it('never serves an entry altered in Redis: mints a fresh token, overwrites it, and says so without secrets', async () => {
    const audience = nextAudience();
    const first = await idTokenFrom(stacks[0], audience);
    const { entry } = redisKeys(cacheKeyOf(audience));
    // Flip one bit of the ciphertext (the last byte): GCM must refuse it.
    tamper(entry, (bytes) => {
      bytes[bytes.length - 1] ^= 0x01;
      return bytes;
    });
    stacks[1].token.minter.cache.clear();
    const before = mints();
    const tierBefore = stacks[1].token.sharedTier!.stats();
    const second = await idTokenFrom(stacks[1], audience);
    expect(second.status).toBe(200);
    expect(first.status).toBe(200);
    // Minted anew (the emulator may sign the very same JWT within one second: count, do not compare).
    expect(mints()).toBe(before + 1);
    expect(stacks[1].token.sharedTier!.stats()).toMatchObject({
      hits: tierBefore.hits,
      rejected: tierBefore.rejected + 1,
      lockedMints: tierBefore.lockedMints + 1,
    });
    expect(opsEvents(logs[1], 'shared_cache_entry_rejected')).toEqual([
      expect.objectContaining({ reason: 'AUTHENTICATION_FAILED', key: `id|${VERTEX}` }),
    ]);
    // The fresh token replaced the bad entry: a third instance with an empty cache gets it, no mint.
    stacks[2].token.minter.cache.clear();
    const hitsBefore = stacks[2].token.sharedTier!.stats().hits;
    const third = await idTokenFrom(stacks[2], audience);
    expect(third.token).toBe(second.token);
    expect(mints()).toBe(before + 1);
    expect(stacks[2].token.sharedTier!.stats().hits).toBe(hitsBefore + 1);
  });

  it('never serves a truncated entry or one in an unknown format version', async () => {
    for (const edit of [
      (b: Buffer) => b.subarray(0, 20),
      (b: Buffer) => Buffer.concat([Buffer.from([2]), b.subarray(1)]),
    ]) {
      const audience = nextAudience();
      expect((await idTokenFrom(stacks[0], audience)).status).toBe(200);
      tamper(redisKeys(cacheKeyOf(audience)).entry, edit);
      stacks[1].token.minter.cache.clear();
      const before = mints();
      const rejected = stacks[1].token.sharedTier!.stats().rejected;
      const again = await idTokenFrom(stacks[1], audience);
      expect(again.status).toBe(200);
      expect(mints()).toBe(before + 1);
      expect(stacks[1].token.sharedTier!.stats().rejected).toBe(rejected + 1);
    }
  });

  it('never serves an entry copied into another key’s slot (the entry is bound to its cache key)', async () => {
    const victim = nextAudience();
    const other = nextAudience();
    const otherToken = (await idTokenFrom(stacks[0], other)).token!;
    await idTokenFrom(stacks[0], victim);
    // An attacker with Redis write access swaps the victim's entry for the other key's.
    emulator.redis.data.set(
      redisKeys(cacheKeyOf(victim)).entry,
      emulator.redis.data.get(redisKeys(cacheKeyOf(other)).entry)!,
      'keep',
    );
    stacks[1].token.minter.cache.clear();
    const before = mints();
    const rejected = stacks[1].token.sharedTier!.stats().rejected;
    const served = await idTokenFrom(stacks[1], victim);
    expect(served.status).toBe(200);
    expect(served.token).not.toBe(otherToken);
    expect(mints()).toBe(before + 1);
    expect(stacks[1].token.sharedTier!.stats().rejected).toBe(rejected + 1);
  });

  it('never serves an entry sealed under a data key wrapped by another KMS key, nor one naming an unknown data key', async () => {
    // The attacker controls Redis and a KMS key of their own (even one our identity may use).
    const foreignKey = `projects/${PROJECT}/locations/global/keyRings/attacker/cryptoKeys/k`;
    emulator.state.kms.createKey(foreignKey);
    emulator.state.kms.grant(
      foreignKey,
      `serviceAccount:${WORKLOAD}`,
      'roles/cloudkms.cryptoKeyEncrypterDecrypter',
    );
    const forged = newDataKey();
    const wrapped = emulator.state.kms.encrypt(
      foreignKey,
      forged.key,
      dataKeyAad(SHARED_CACHE_DEK_PURPOSE, forged.id),
    );
    if (!('ciphertext' in wrapped)) throw new Error('emulator refused to wrap');
    emulator.redis.data.set(`tvs:v1:dek:${forged.id}`, Buffer.from(wrapped.ciphertext.toString('base64')));

    const unknown = newDataKey(); // never stored anywhere
    for (const dek of [forged, unknown]) {
      const audience = nextAudience();
      const planted = sealEntry(dek, cacheKeyOf(audience), {
        token: 'planted.token.value',
        expiresAtMs: Date.now() + 3_000_000,
      });
      emulator.redis.data.set(
        redisKeys(cacheKeyOf(audience)).entry,
        Buffer.from(planted),
        Date.now() + 60_000,
      );
      const before = mints();
      const served = await idTokenFrom(stacks[2], audience);
      expect(served.status).toBe(200);
      expect(served.token).not.toBe('planted.token.value');
      expect(mints()).toBe(before + 1);
    }
    expect(opsEvents(logs[2], 'shared_cache_entry_rejected').map((e) => e.reason)).toEqual(
      expect.arrayContaining(['DATA_KEY_REFUSED']),
    );
  });

  it('keeps serving, minting locally, when KMS is down, and logs it', async () => {
    const fresh = await startInstance(); // a new instance: no data key in memory yet
    const log = logs.at(-1)!;
    emulator.faults.inject({ endpoint: 'cloudkms.*', status: 503, times: Infinity });
    try {
      const before = mints();
      const answers = [await idTokenFrom(fresh, nextAudience()), await idTokenFrom(fresh, nextAudience())];
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      expect(mints()).toBe(before + 2);
      expect(opsEvents(log, 'shared_cache_kms_unavailable')).toEqual([
        expect.objectContaining({ severity: 'WARNING', dependency: 'kms' }),
      ]);
    } finally {
      emulator.faults.reset();
    }
  });

  it('keeps serving, minting locally, when Redis is down or too slow, and logs it', async () => {
    const fresh = await startInstance();
    const log = logs.at(-1)!;
    // Down: every connection and command is dropped.
    emulator.faults.inject({ endpoint: 'redis.*', reset: true, times: Infinity });
    emulator.redis.dropConnections();
    try {
      const before = mints();
      const down = await Promise.all([
        idTokenFrom(fresh, nextAudience()),
        idTokenFrom(stacks[0], nextAudience()),
      ]);
      expect(down.map((a) => a.status)).toEqual([200, 200]);
      expect(mints()).toBe(before + 2);
      expect(opsEvents(log, 'shared_cache_redis_unavailable')).toEqual([
        expect.objectContaining({ severity: 'WARNING', dependency: 'redis' }),
      ]);
    } finally {
      emulator.faults.reset();
    }
    // Slow: every command takes longer than the operation timeout (150 ms here).
    const slowInstance = await startInstance({ TVS_SHARED_CACHE_OP_TIMEOUT_MS: '150' });
    const slowLog = logs.at(-1)!;
    // Connected first (the connection is opened at start; PING proves it), then slowed down.
    await slowInstance.token.sharedTier!.load('probe', () => Promise.resolve({ token: 'x', expiresAtMs: 0 }));
    emulator.faults.inject({ endpoint: 'redis.*', latencyMs: 2_000, times: Infinity });
    try {
      const startedAt = Date.now();
      const slow = await idTokenFrom(slowInstance, nextAudience());
      expect(slow.status).toBe(200);
      // Bounded: the tier gave up after its timeout instead of waiting for Redis's 2 s.
      expect(Date.now() - startedAt).toBeLessThan(1_500);
      expect(opsEvents(slowLog, 'shared_cache_redis_unavailable')).toHaveLength(1);
    } finally {
      emulator.faults.reset();
    }
  });

  it('writes no token, data key, wrapped key or AUTH string to any log line', async () => {
    await Promise.all(stacks.map((s) => s.token.flushAudit()));
    const text = logs.map((l) => l.text()).join('\n');
    expect(text.length).toBeGreaterThan(0);
    for (const token of issued) expect(text).not.toContain(token);
    expect(text).not.toContain(emulator.redisPassword!);
    for (const key of emulator.redis.data.keys().filter((k) => k.startsWith('tvs:v1:dek:'))) {
      expect(text).not.toContain(emulator.redis.data.get(key)!.toString('utf8'));
    }
  });
});
