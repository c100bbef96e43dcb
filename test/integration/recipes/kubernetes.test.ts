/**
 * Recipe: a Kubernetes pod outside Google Cloud (projected service-account token) → token
 * vending service → Google access token. Nested `kubernetes.io` claims are matched by JSON pointer.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubernetesProjectedToken } from '../../../emulator/index.js';
import { CP, startRecipeStack, VERTEX, type RecipeStack } from './recipe-stack.js';

let r: RecipeStack;

beforeAll(async () => {
  // docs/recipes.md, Kubernetes: the deployer service account in namespace ci.
  r = await startRecipeStack((emulator) => [
    {
      name: 'k8s-ci-deployer',
      caller: {
        issuer: emulator.issuers.byName.kubernetes.issuer,
        subject: 'system:serviceaccount:ci:deployer',
        claims: { '/kubernetes.io/namespace': 'ci', '/kubernetes.io/serviceaccount/name': 'deployer' },
      },
      serviceAccounts: [VERTEX],
      scopes: [CP],
    },
  ]);
}, 30_000);

afterAll(async () => {
  await r?.stop();
});

const pod = (over: Partial<KubernetesProjectedToken> = {}): Promise<string> =>
  r.stack.emulator.issuers.kubernetes({
    namespace: 'ci',
    serviceAccount: 'deployer',
    audience: r.stack.tokenUrl,
    ...over,
  });

describe('Kubernetes recipe', () => {
  it('mints projected tokens shaped like the API server’s: aud a list, nested kubernetes.io, expirationSeconds', async () => {
    const token = await pod({ expirationSeconds: 900 });
    const { kid } = decodeProtectedHeader(token);
    expect(kid).toBe(r.stack.emulator.issuers.byName.kubernetes.kid);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: r.stack.emulator.issuers.byName.kubernetes.issuer,
      sub: 'system:serviceaccount:ci:deployer',
      aud: [r.stack.tokenUrl],
      'kubernetes.io': {
        namespace: 'ci',
        serviceaccount: { name: 'deployer', uid: expect.any(String) },
        pod: { name: expect.any(String), uid: expect.any(String) },
      },
    });
    expect(claims.exp! - claims.iat!).toBe(900);
  });

  it('exchanges the pod’s token for a Google access token that Google accepts', async () => {
    const sent = await r.exchange(await pod());
    expect(sent.status).toBe(200);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({
      decision: 'granted',
      rule: 'k8s-ci-deployer',
      caller: { subject: 'system:serviceaccount:ci:deployer' },
    });
    expect((await r.tokeninfo(sent.body.accessToken)).status).toBe(200);
  });

  it.each<[string, Partial<KubernetesProjectedToken>, string]>([
    ['another namespace', { namespace: 'default' }, 'subject'],
    ['another service account', { serviceAccount: 'default' }, 'subject'],
  ])(
    'denies %s with 403, naming the closest rule and the field that differed',
    async (_name, over, differed) => {
      const sent = await r.exchange(await pod(over));
      expect(sent.status).toBe(403);
      expect(sent.entries).toHaveLength(1);
      expect(sent.entries[0]).toMatchObject({ decision: 'denied', reason: 'NO_RULE_FOR_CALLER' });
      expect(sent.entries[0].detail).toMatch(
        new RegExp(`^closest rule: k8s-ci-deployer; caller ${differed} differed( \\(and \\d+ more\\))?$`),
      );
    },
  );

  it('refuses a token projected for another audience with 401', async () => {
    const sent = await r.exchange(await pod({ audience: 'https://kubernetes.default.svc' }));
    expect(sent.status).toBe(401);
    expect(sent.entries[0]).toMatchObject({ reason: 'CALLER_CREDENTIAL_AUDIENCE_MISMATCH' });
  });

  it('refuses an expired token with 401', async () => {
    const token = await r.stack.emulator.issuers.kubernetes(
      { namespace: 'ci', serviceAccount: 'deployer', audience: r.stack.tokenUrl, expirationSeconds: 600 },
      { nowMs: Date.now() - 20 * 60_000 },
    );
    const sent = await r.exchange(token);
    expect(sent.status).toBe(401);
    expect(sent.entries[0]).toMatchObject({ reason: 'CALLER_CREDENTIAL_EXPIRED' });
  });
});
