/**
 * The seam between the minter and the shared tier: every load of the token cache — a miss, and a
 * refresh ahead started by a hit (async or synchronous path) — goes through the tier, and the
 * upstream is called only when the tier asks for it.
 */
import { describe, expect, it, vi } from 'vitest';
import type { ServiceAccountKeyStore } from '../../../../../shared/minting/key-store.js';
import {
  accessTokenCacheKey,
  createMinter,
  type KeylessBackend,
  type MintedToken,
} from '../../../../../shared/minting/minter.js';
import type { SharedTier } from '../../../../../shared/minting/shared-tier/shared-tier.js';

const SA = { email: 'vertex@p.iam.gserviceaccount.com', backend: 'keyless' } as const;
const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

function setup(fromTier: MintedToken | undefined) {
  const clock = { now: 1_800_000_000_000 };
  let serial = 0;
  const accessToken = vi.fn(() =>
    Promise.resolve({ token: `minted-${++serial}`, expiresAtMs: clock.now + 3_600_000 }),
  );
  const keyless: KeylessBackend = { accessToken, idToken: vi.fn() };
  const loads: string[] = [];
  const sharedTier: SharedTier = {
    load: vi.fn((key: string, mint: () => Promise<MintedToken>) => {
      loads.push(key);
      return fromTier ? Promise.resolve({ ...fromTier }) : mint();
    }),
    discard: vi.fn(() => Promise.resolve()),
    stats: vi.fn(),
    close: vi.fn(() => Promise.resolve()),
  };
  const minter = createMinter({
    keys: {} as ServiceAccountKeyStore,
    keyless,
    cache: { maxEntries: 10, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
    upstream: { deadlineMs: 1_000, maxAttempts: 1 },
    now: () => clock.now,
    sharedTier,
  });
  return { clock, accessToken, loads, minter };
}

describe('the minter with a shared tier', () => {
  it('asks the tier on a miss and does not call the upstream when the tier has the token', async () => {
    const { minter, accessToken, loads, clock } = setup({
      token: 'from-tier',
      expiresAtMs: 1_800_003_600_000,
    });
    const result = await minter.accessToken(SA, SCOPES);
    expect(result).toMatchObject({ token: 'from-tier', cacheHit: false });
    expect(result.mint).toBeUndefined();
    expect(accessToken).not.toHaveBeenCalled();
    expect(loads).toEqual([accessTokenCacheKey(SA, SCOPES)]);
    // Stored locally: the next request is a local hit, no second load.
    expect(await minter.accessToken(SA, SCOPES)).toMatchObject({ token: 'from-tier', cacheHit: true });
    expect(loads).toHaveLength(1);
    void clock;
  });

  it('mints through the tier’s callback when the tier says so, and reports the mint', async () => {
    const { minter, accessToken } = setup(undefined);
    const result = await minter.accessToken(SA, SCOPES);
    expect(result).toMatchObject({
      token: 'minted-1',
      cacheHit: false,
      mint: { backend: 'keyless', attempts: 1 },
    });
    expect(accessToken).toHaveBeenCalledTimes(1);
  });

  it('sends a refresh ahead started by a hit through the tier too (async and synchronous hit paths)', async () => {
    const { minter, loads, clock } = setup(undefined);
    await minter.accessToken(SA, SCOPES);
    clock.now += 3_600_000 - 200_000; // 200 s left: in the refresh-ahead window
    expect(await minter.accessToken(SA, SCOPES)).toMatchObject({ cacheHit: true });
    await vi.waitFor(() => expect(loads).toHaveLength(2));
    // The refreshed token is stored before time moves on again.
    await vi.waitFor(() =>
      expect(minter.cache.peek(accessTokenCacheKey(SA, SCOPES))?.token).toBe('minted-2'),
    );
    clock.now += 3_600_000 - 200_000;
    expect(minter.cachedAccessToken(SA, SCOPES)).toMatchObject({ cacheHit: true });
    await vi.waitFor(() => expect(loads).toHaveLength(3));
  });
});
