import { describe, expect, it } from 'vitest';
import { PermissionDeniedError } from '../../../../shared/errors.js';
import { tokenFingerprint } from '../../../../shared/audit-log.js';
import { createMinter, type Minter, type MintResult } from '../../../../shared/minting/minter.js';
import { decideAndMint } from '../../../../functions/token/decide.js';
import { dummyClientSecretHash } from '../../../../functions/token/oauth/client-secret-hash.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import { compileDenyList } from '../../../../functions/token/policy/deny-list.js';
import {
  compilePolicy,
  type CompiledPolicy,
  type PolicyCaller,
} from '../../../../functions/token/policy/compile-policy.js';
import type { PolicyProvider } from '../../../../functions/token/policy/policy-provider.js';

const SA = 'gemini@p.iam.gserviceaccount.com';
const SERVICE = 'https://token-abc123-uc.a.run.app';
const caller: PolicyCaller = {
  kind: 'id_token',
  issuer: 'https://accounts.google.com',
  subject: '1',
  email: 'w@p.iam.gserviceaccount.com',
  emailVerified: true,
  claims: {},
};

/** A policy that allows everything: the refusal must not depend on the policy. */
const allowAll: CompiledPolicy = {
  version: 1,
  ruleCount: 1,
  deny: compileDenyList(undefined),
  serviceAccount: (email) => ({ email, backend: 'keyless' }),
  clientSecretHash: () => undefined,
  dummyClientSecretHash: dummyClientSecretHash([]),
  authorize: (_caller, request) => ({
    allowed: true,
    rule: 'everything',
    serviceAccount: { email: request.serviceAccount, backend: 'keyless' },
  }),
};
const policy: PolicyProvider = {
  current: () => allowAll,
  currentForRequest: () => Promise.resolve(allowAll),
  currentIfFresh: () => allowAll,
  reload: () => Promise.resolve(allowAll),
  refresh: () => Promise.resolve(allowAll),
};

function recordingMinter(): Minter & { audiences: string[] } {
  const audiences: string[] = [];
  const minted: MintResult = { token: 'minted', expiresAtMs: 0, cacheHit: false };
  return {
    audiences,
    accessToken: () => Promise.resolve(minted),
    idToken: (_sa: unknown, audience: string) => {
      audiences.push(audience);
      return Promise.resolve(minted);
    },
    cachedAccessToken: () => undefined,
    cachedIdToken: () => undefined,
  } as unknown as Minter & { audiences: string[] };
}

describe('decideAndMint: no ID token for an audience this service accepts', () => {
  const accepted = acceptedAudiences([SERVICE, 'https://tvs.ci.example.org']);

  it.each([
    SERVICE,
    'https://TOKEN-ABC123-UC.A.RUN.APP',
    `${SERVICE}:443`,
    `${SERVICE}/`,
    'HTTPS://token-abc123-uc.a.run.app:443/',
    'https://tvs.ci.example.org',
  ])(
    'refuses %s with PERMISSION_DENIED / AUDIENCE_IS_THIS_SERVICE, whatever the policy says',
    async (audience) => {
      const minter = recordingMinter();
      const attempt = decideAndMint({ policy, minter, acceptedAudiences: accepted }, caller, {
        kind: 'id_token',
        serviceAccount: SA,
        audience,
      });
      await expect(attempt).rejects.toBeInstanceOf(PermissionDeniedError);
      await expect(attempt).rejects.toMatchObject({
        code: 'PERMISSION_DENIED',
        reason: 'AUDIENCE_IS_THIS_SERVICE',
      });
      expect(minter.audiences).toEqual([]);
    },
  );

  it('mints for another audience, and access tokens are unaffected', async () => {
    const minter = recordingMinter();
    const deps = { policy, minter, acceptedAudiences: accepted };
    await expect(
      decideAndMint(deps, caller, { kind: 'id_token', serviceAccount: SA, audience: `${SERVICE}/api` }),
    ).resolves.toMatchObject({ rule: 'everything' });
    await expect(
      decideAndMint(deps, caller, {
        kind: 'access_token',
        serviceAccount: SA,
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
        lifetimeSeconds: 60,
      }),
    ).resolves.toMatchObject({ rule: 'everything' });
    expect(minter.audiences).toEqual([`${SERVICE}/api`]);
  });
});

describe('decideAndMint: the break-glass deny section', () => {
  const accepted = acceptedAudiences([SERVICE]);
  const sa = 'deployer@p.iam.gserviceaccount.com';
  const baseDoc = (deny: unknown) => ({
    version: 1,
    serviceAccounts: { [sa]: {} },
    rules: [
      {
        name: 'workload',
        caller: { issuer: 'https://accounts.google.com', email: 'w@p.iam.gserviceaccount.com' },
        serviceAccounts: [sa],
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      },
    ],
    deny,
  });
  const providerOf = (doc: unknown): PolicyProvider => {
    const compiled = compilePolicy(doc);
    return {
      current: () => compiled,
      currentForRequest: () => Promise.resolve(compiled),
      currentIfFresh: () => compiled,
      reload: () => Promise.resolve(compiled),
      refresh: () => Promise.resolve(compiled),
    };
  };
  /** A real minter (real cache, real singleflight) over a counting keyless backend of our own interface. */
  const countingMinter = () => {
    const minted: string[] = [];
    const minter = createMinter({
      keys: {} as never,
      keyless: {
        accessToken: () => {
          const token = `ya29.token-${minted.length + 1}`;
          minted.push(token);
          return Promise.resolve({ token, expiresAtMs: Date.now() + 3_600_000 });
        },
        idToken: () => Promise.reject(new Error('not used')),
      },
      cache: { maxEntries: 10, refreshAheadMs: 0, minRemainingMs: 0 },
      upstream: { deadlineMs: 1000, maxAttempts: 1 },
    });
    return { minter, minted };
  };
  const request = {
    kind: 'access_token' as const,
    serviceAccount: sa,
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    lifetimeSeconds: 3600,
  };

  it('refuses a denied caller before the cache: a token it obtained before is not served again', async () => {
    const { minter, minted } = countingMinter();
    const first = await decideAndMint(
      { policy: providerOf(baseDoc(undefined)), minter, acceptedAudiences: accepted },
      caller,
      request,
    );
    expect(first.minted.token).toBe('ya29.token-1');
    const cutOff = providerOf(
      baseDoc({ callers: [{ issuer: 'https://accounts.google.com', email: 'w@*.iam.gserviceaccount.com' }] }),
    );
    const attempt = decideAndMint({ policy: cutOff, minter, acceptedAudiences: accepted }, caller, request);
    await expect(attempt).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(attempt).rejects.toMatchObject({
      reason: 'CALLER_DENIED',
      detail: 'policy deny.callers[0]',
    });
    expect(minter.cache.stats().hits).toBe(0);
    expect(minted).toEqual(['ya29.token-1']);
  });

  it('refuses a denied service account, whatever rule allows it', async () => {
    const { minter, minted } = countingMinter();
    const attempt = decideAndMint(
      { policy: providerOf(baseDoc({ serviceAccounts: [sa] })), minter, acceptedAudiences: accepted },
      caller,
      request,
    );
    await expect(attempt).rejects.toMatchObject({
      reason: 'SERVICE_ACCOUNT_DENIED',
      code: 'PERMISSION_DENIED',
    });
    expect(minted).toEqual([]);
  });

  it('never hands out a token whose fingerprint is denied: drops it from the cache and mints a new one', async () => {
    const { minter, minted } = countingMinter();
    const deps = (deny: unknown) => ({
      policy: providerOf(baseDoc(deny)),
      minter,
      acceptedAudiences: accepted,
    });
    expect((await decideAndMint(deps(undefined), caller, request)).minted.token).toBe('ya29.token-1');
    const leaked = deps({ tokenFingerprints: [tokenFingerprint('ya29.token-1')] });
    const granted = await decideAndMint(leaked, caller, request);
    expect(granted.minted.token).toBe('ya29.token-2');
    // The new token is what the cache serves from now on.
    const again = await decideAndMint(leaked, caller, request);
    expect(again.minted).toMatchObject({ token: 'ya29.token-2', cacheHit: true });
    expect(minted).toEqual(['ya29.token-1', 'ya29.token-2']);
  });

  it('fails with UNAVAILABLE rather than hand out a denied token twice', async () => {
    const { minter } = countingMinter();
    const deny = { tokenFingerprints: [tokenFingerprint('ya29.token-1'), tokenFingerprint('ya29.token-2')] };
    const attempt = decideAndMint(
      { policy: providerOf(baseDoc(deny)), minter, acceptedAudiences: accepted },
      caller,
      request,
    );
    await expect(attempt).rejects.toMatchObject({ code: 'UNAVAILABLE', reason: 'ISSUED_TOKEN_DENIED' });
    expect(minter.cache.size).toBe(1); // the second token stays cached but is never served
  });
});
