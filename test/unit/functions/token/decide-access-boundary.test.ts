/**
 * decideAndMint with a bounded rule: the boundary is rendered from the caller's claims before
 * anything is minted, and the grant's token is the downscoper's (fakes of our interfaces only).
 */
import { describe, expect, it } from 'vitest';
import { decideAndMint } from '../../../../functions/token/decide.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import { compilePolicy, type PolicyCaller } from '../../../../functions/token/policy/compile-policy.js';
import type { PolicyProvider } from '../../../../functions/token/policy/policy-provider.js';
import type { AccessBoundary } from '../../../../shared/minting/downscope.js';
import type { Downscoper } from '../../../../shared/minting/downscoped-tokens.js';
import type { MintedToken, Minter, MintResult } from '../../../../shared/minting/minter.js';
import { TokenCache } from '../../../../shared/minting/token-cache.js';
import { tokenFingerprint } from '../../../../shared/audit-log.js';

const SA = 'ci@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const GH = 'https://token.actions.githubusercontent.com';

const compiled = compilePolicy({
  version: 1,
  serviceAccounts: { [SA]: {} },
  rules: [
    {
      name: 'bounded',
      caller: { issuer: GH, subject: 'repo:**' },
      serviceAccounts: [SA],
      scopes: [CP],
      idTokenAudiences: ['https://x.example'],
      accessBoundary: [
        {
          availableResource: '//storage.googleapis.com/projects/_/buckets/ci-${claims.repository_owner}',
          availablePermissions: ['inRole:roles/storage.objectViewer'],
        },
      ],
    },
  ],
});
const policy: PolicyProvider = {
  current: () => compiled,
  currentForRequest: () => Promise.resolve(compiled),
  currentIfFresh: () => compiled,
  reload: () => Promise.resolve(compiled),
  refresh: () => Promise.resolve(compiled),
};

function fakes() {
  const calls: string[] = [];
  const boundaries: AccessBoundary[] = [];
  const result = (token: string): MintResult => ({ token, expiresAtMs: 1, cacheHit: false });
  const minter = {
    accessToken: () => (calls.push('minter.accessToken'), Promise.resolve(result('source'))),
    idToken: () => (calls.push('minter.idToken'), Promise.resolve(result('id'))),
    cachedAccessToken: () => undefined,
    cachedIdToken: () => undefined,
  } as unknown as Minter;
  const downscoper = {
    accessToken: (_sa: unknown, _scopes: unknown, _lifetime: unknown, boundary: AccessBoundary) => {
      calls.push('downscoper.accessToken');
      boundaries.push(boundary);
      return Promise.resolve(result('downscoped'));
    },
    cachedAccessToken: () => undefined,
  } as unknown as Downscoper;
  return { calls, boundaries, minter, downscoper };
}

const caller = (claims: Record<string, unknown>): PolicyCaller => ({
  kind: 'id_token',
  issuer: GH,
  subject: 'repo:acme/app',
  claims,
});
const accessRequest = {
  kind: 'access_token',
  serviceAccount: SA,
  scopes: [CP],
  lifetimeSeconds: 3600,
} as const;

describe('decideAndMint with an accessBoundary', () => {
  it('grants the downscoped token, with the boundary’s size and fingerprint', async () => {
    const f = fakes();
    const grant = await decideAndMint(
      { policy, minter: f.minter, downscoper: f.downscoper, acceptedAudiences: acceptedAudiences([]) },
      caller({ repository_owner: 'acme' }),
      accessRequest,
    );
    expect(grant.minted.token).toBe('downscoped');
    expect(grant.accessBoundary).toEqual({
      rules: 1,
      fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
    });
    expect(f.calls).toEqual(['downscoper.accessToken']);
    expect(f.boundaries[0].accessBoundaryRules[0].availableResource).toBe(
      '//storage.googleapis.com/projects/_/buckets/ci-acme',
    );
  });

  it('refuses a claim that cannot fill the boundary before anything is minted', async () => {
    const f = fakes();
    await expect(
      decideAndMint(
        { policy, minter: f.minter, downscoper: f.downscoper, acceptedAudiences: acceptedAudiences([]) },
        caller({ repository_owner: 'a/b' }),
        accessRequest,
      ),
    ).rejects.toMatchObject({ code: 'PERMISSION_DENIED', reason: 'ACCESS_BOUNDARY_CLAIM_INVALID' });
    expect(f.calls).toEqual([]);
  });

  it('fails closed (INTERNAL) without a downscoper rather than hand out the unbounded token', async () => {
    const f = fakes();
    await expect(
      decideAndMint(
        { policy, minter: f.minter, acceptedAudiences: acceptedAudiences([]) },
        caller({ repository_owner: 'acme' }),
        accessRequest,
      ),
    ).rejects.toMatchObject({ code: 'INTERNAL', reason: 'DOWNSCOPER_NOT_CONFIGURED' });
    expect(f.calls).toEqual([]);
  });

  it('mints ID tokens of the same rule as before (a boundary bounds access tokens only)', async () => {
    const f = fakes();
    const grant = await decideAndMint(
      { policy, minter: f.minter, downscoper: f.downscoper, acceptedAudiences: acceptedAudiences([]) },
      caller({}),
      { kind: 'id_token', serviceAccount: SA, audience: 'https://x.example' },
    );
    expect(grant.minted.token).toBe('id');
    expect(grant).not.toHaveProperty('accessBoundary');
  });
});

describe('decideAndMint with an accessBoundary and a denied token fingerprint', () => {
  it('drops the leaked downscoped token from the downscoper’s cache (not the minter’s) and grants a new one', async () => {
    const leaked = 'ya29.downscoped-leaked';
    const deny = compilePolicy({
      version: 1,
      serviceAccounts: { [SA]: {} },
      rules: [
        {
          name: 'bounded',
          caller: { issuer: GH, subject: 'repo:**' },
          serviceAccounts: [SA],
          scopes: [CP],
          accessBoundary: [
            {
              availableResource: '//storage.googleapis.com/projects/_/buckets/ci-${claims.repository_owner}',
              availablePermissions: ['inRole:roles/storage.objectViewer'],
            },
          ],
        },
      ],
      deny: { tokenFingerprints: [tokenFingerprint(leaked)] },
    });
    const denyPolicy: PolicyProvider = {
      current: () => deny,
      currentForRequest: () => Promise.resolve(deny),
      currentIfFresh: () => deny,
      reload: () => Promise.resolve(deny),
      refresh: () => Promise.resolve(deny),
    };
    const cacheOptions = { maxEntries: 10, refreshAheadMs: 0, minRemainingMs: 0 };
    const downscoperCache = new TokenCache<MintedToken>(cacheOptions);
    const minterCache = new TokenCache<MintedToken>(cacheOptions);
    const far = Date.now() + 3_600_000;
    await downscoperCache.get('cab|key', () => Promise.resolve({ token: leaked, expiresAtMs: far }));
    await minterCache.get('at|key', () => Promise.resolve({ token: leaked, expiresAtMs: far }));
    const served = [leaked, 'ya29.downscoped-fresh'];
    const downscoper = {
      cache: downscoperCache,
      accessToken: () => Promise.resolve({ token: served.shift()!, expiresAtMs: far, cacheHit: false }),
      cachedAccessToken: () => undefined,
    } as unknown as Downscoper;
    const minter = {
      cache: minterCache,
      cachedAccessToken: () => undefined,
      cachedIdToken: () => undefined,
    } as unknown as Minter;

    const grant = await decideAndMint(
      { policy: denyPolicy, minter, downscoper, acceptedAudiences: acceptedAudiences([]) },
      caller({ repository_owner: 'acme' }),
      accessRequest,
    );
    expect(grant.minted.token).toBe('ya29.downscoped-fresh');
    expect(downscoperCache.peek('cab|key')).toBeUndefined();
    expect(minterCache.peek('at|key')?.token).toBe(leaked);
  });
});
