import { describe, expect, it } from 'vitest';
import { PermissionDeniedError } from '../../../../shared/errors.js';
import type { Minter, MintResult } from '../../../../shared/minting/minter.js';
import { decideAndMint } from '../../../../functions/token/decide.js';
import { dummyClientSecretHash } from '../../../../functions/token/oauth/client-secret-hash.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import type { CompiledPolicy, PolicyCaller } from '../../../../functions/token/policy/compile-policy.js';
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
  reload: () => Promise.resolve(allowAll),
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
