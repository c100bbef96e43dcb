/** Issue 16: the minter reports `mint` (backend, latency, attempts) on the request that minted, and tags upstream errors. */
import { describe, expect, it } from 'vitest';
import { UpstreamUnavailable } from '../../../../shared/errors.js';
import type { ServiceAccountKeyStore } from '../../../../shared/minting/key-store.js';
import { mintOf, upstreamOf } from '../../../../shared/minting/mint-info.js';
import {
  createMinter,
  type KeylessBackend,
  type TargetServiceAccount,
} from '../../../../shared/minting/minter.js';

const KEYLESS: TargetServiceAccount = { email: 'keyless@p.iam.gserviceaccount.com', backend: 'keyless' };
const KEYED: TargetServiceAccount = {
  email: 'keyed@p.iam.gserviceaccount.com',
  backend: 'key',
  keySecret: 'projects/p/secrets/k/versions/current',
};
const A = 'https://www.googleapis.com/auth/cloud-platform';

function setup(keylessFailures: number, keyFailures = 0) {
  let clock = 1_000_000;
  let calls = 0;
  const keyless: KeylessBackend = {
    accessToken() {
      calls++;
      clock += 7;
      if (calls <= keylessFailures)
        return Promise.reject(new UpstreamUnavailable('iam down', { reason: 'UPSTREAM_UNAVAILABLE' }));
      return Promise.resolve({ token: `t${calls}`, expiresAtMs: clock + 3600_000 });
    },
    idToken: () => Promise.reject(new Error('unused')),
  };
  let keyReads = 0;
  const keys = {
    get: () => {
      keyReads++;
      return Promise.reject(
        keyReads <= keyFailures
          ? new UpstreamUnavailable('sm down', { reason: 'UPSTREAM_UNAVAILABLE' })
          : new Error('unused'),
      );
    },
    reload: () => Promise.reject(new Error('unused')),
  } as unknown as ServiceAccountKeyStore;
  const m = createMinter({
    keys,
    keyless,
    cache: { maxEntries: 10, refreshAheadMs: 1000, minRemainingMs: 1000 },
    upstream: { deadlineMs: 60_000, maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    now: () => clock,
  });
  return { m };
}

describe('mint info', () => {
  it('a miss carries mint with attempts and latency (retries included); a hit carries none', async () => {
    const { m } = setup(1);
    const miss = await m.accessToken(KEYLESS, [A]);
    expect(miss.cacheHit).toBe(false);
    expect(miss.mint).toEqual({ backend: 'keyless', latencyMs: expect.any(Number) as number, attempts: 2 });
    expect(miss.mint!.latencyMs).toBeGreaterThanOrEqual(14);
    const hit = await m.accessToken(KEYLESS, [A]);
    expect(hit.cacheHit).toBe(true);
    expect(hit).not.toHaveProperty('mint');
  });

  it('coalesced waiters: only the request that started the mint carries it', async () => {
    const { m } = setup(0);
    const [a, b] = await Promise.all([m.accessToken(KEYLESS, [A]), m.accessToken(KEYLESS, [A])]);
    expect(a.mint).toEqual({ backend: 'keyless', latencyMs: 7, attempts: 1 });
    expect(b.cacheHit).toBe(false);
    expect(b).not.toHaveProperty('mint');
  });

  it('a keyless failure after retries is tagged iam_credentials with its mint', async () => {
    const { m } = setup(10);
    const err = await m.accessToken(KEYLESS, [A]).catch((e: unknown) => e);
    expect(upstreamOf(err)).toBe('iam_credentials');
    expect(mintOf(err)).toMatchObject({ backend: 'keyless', attempts: 3 });
  });

  it('a key-read outage is tagged secret_manager; a final (non-transient) error is not tagged', async () => {
    const { m } = setup(0, 10);
    const err = await m.accessToken(KEYED, [A]).catch((e: unknown) => e);
    expect(upstreamOf(err)).toBe('secret_manager');
    expect(mintOf(err)).toMatchObject({ backend: 'key', attempts: 3 });
    const { m: m2 } = setup(0, 0);
    const final = await m2.accessToken(KEYED, [A]).catch((e: unknown) => e);
    expect(upstreamOf(final)).toBeUndefined();
  });
});

describe('STS upstream tag', () => {
  it('a lasting STS outage is tagged sts', async () => {
    const { createDownscoper } = await import('../../../../shared/minting/downscoped-tokens.js');
    const fetchImpl = (() =>
      Promise.resolve(
        new Response('{}', { status: 503, headers: { 'content-type': 'application/json' } }),
      )) as typeof fetch;
    const minter = {
      accessToken: () => Promise.resolve({ token: 'source', expiresAtMs: 5_000_000, cacheHit: false }),
    } as unknown as import('../../../../shared/minting/minter.js').Minter;
    const d = createDownscoper({
      minter,
      stsUrl: 'https://sts.example.test/v1/token',
      cache: { maxEntries: 10, refreshAheadMs: 1000, minRemainingMs: 1000 },
      upstream: { deadlineMs: 5_000, maxAttempts: 2, baseDelayMs: 0, maxDelayMs: 0 },
      fetchImpl,
      now: () => 1_000_000,
    });
    const err = await d
      .accessToken(KEYLESS, [A], 3600, {
        accessBoundaryRules: [
          {
            availableResource: '//storage.googleapis.com/projects/_/buckets/b',
            availablePermissions: ['inRole:roles/storage.objectViewer'],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(upstreamOf(err)).toBe('sts');
  });
});
