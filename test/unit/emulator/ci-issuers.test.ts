import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { createCiIssuers } from '../../../emulator/issuers/ci-issuers.js';
import { gitHubActionsClaims } from '../../../emulator/issuers/github-actions.js';
import { gitLabCiClaims } from '../../../emulator/issuers/gitlab-ci.js';
import { kubernetesClaims } from '../../../emulator/issuers/kubernetes.js';

describe('GitHub Actions claims', () => {
  it.each([
    [{ repository: 'acme/app' }, 'repo:acme/app:ref:refs/heads/main'],
    [{ repository: 'acme/app', ref: 'refs/tags/v1.2.0' }, 'repo:acme/app:ref:refs/tags/v1.2.0'],
    [{ repository: 'acme/app', environment: 'prod' }, 'repo:acme/app:environment:prod'],
    [
      { repository: 'acme/app', eventName: 'pull_request', ref: 'refs/pull/7/merge' },
      'repo:acme/app:pull_request',
    ],
  ])('derives the subject GitHub does for %j', (job, sub) => {
    expect(gitHubActionsClaims(job).sub).toBe(sub);
  });

  it('defaults the audience to the repository owner’s URL and omits environment when unset', () => {
    const claims = gitHubActionsClaims({ repository: 'acme/app' });
    expect(claims.aud).toBe('https://github.com/acme');
    expect(claims).not.toHaveProperty('environment');
    expect(claims.ref_type).toBe('branch');
  });

  it('names a tag ref as ref_type tag', () => {
    expect(gitHubActionsClaims({ repository: 'acme/app', ref: 'refs/tags/v1' }).ref_type).toBe('tag');
  });

  it('refuses a repository that is not OWNER/REPO', () => {
    expect(() => gitHubActionsClaims({ repository: 'acme' })).toThrow();
  });
});

describe('GitLab CI claims', () => {
  it('keeps nested groups in project_path and derives namespace_path, ref_path and string booleans', () => {
    const { claims, lifetimeSeconds } = gitLabCiClaims({
      projectPath: 'g/sub/p',
      audience: 'https://tvs',
      refType: 'tag',
      ref: 'v1',
      refProtected: false,
    });
    expect(claims).toMatchObject({
      sub: 'project_path:g/sub/p:ref_type:tag:ref:v1',
      namespace_path: 'g/sub',
      ref_path: 'refs/tags/v1',
      ref_protected: 'false',
    });
    expect(claims).not.toHaveProperty('environment_protected');
    expect(lifetimeSeconds).toBe(3600);
  });

  it('carries environment_protected as a string only with an environment', () => {
    const { claims } = gitLabCiClaims({ projectPath: 'g/p', audience: 'a', environment: 'production' });
    expect(claims).toMatchObject({ environment: 'production', environment_protected: 'false' });
  });
});

describe('Kubernetes projected token claims', () => {
  it('puts the audience in a list and the pod identity under kubernetes.io', () => {
    const { claims, lifetimeSeconds } = kubernetesClaims({
      namespace: 'ci',
      serviceAccount: 'deployer',
      audience: 'https://tvs',
    });
    expect(claims).toMatchObject({
      sub: 'system:serviceaccount:ci:deployer',
      aud: ['https://tvs'],
      'kubernetes.io': { namespace: 'ci', serviceaccount: { name: 'deployer' } },
    });
    expect(lifetimeSeconds).toBe(3600);
  });

  it('refuses expirationSeconds below the API server’s minimum of 600', () => {
    expect(() =>
      kubernetesClaims({ namespace: 'ci', serviceAccount: 'd', audience: 'a', expirationSeconds: 599 }),
    ).toThrow();
  });
});

describe('issuer keys', () => {
  it('uses the key’s SHA-256 thumbprint as the Kubernetes kid, and verifies with the published JWKS', async () => {
    const issuers = await createCiIssuers('http://127.0.0.1:1');
    const k8s = issuers.byName.kubernetes;
    expect(k8s.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = await issuers.kubernetes({ namespace: 'ci', serviceAccount: 'd', audience: 'a' });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(k8s.jwks()), {
      issuer: k8s.issuer,
      audience: 'a',
      algorithms: ['RS256'],
    });
    expect(protectedHeader).toEqual({ alg: 'RS256', kid: k8s.kid, typ: 'JWT' });
    expect(payload.jti).toEqual(expect.any(String));
    expect(k8s.jwks().keys[0]).not.toHaveProperty('d');
  });
});

describe('issuer routes on the emulator', () => {
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  it.each(['github-actions', 'gitlab', 'kubernetes'] as const)(
    'serves %s discovery naming its issuer and a JWKS that verifies its tokens',
    async (name) => {
      const issuer = emulator.issuers.byName[name];
      expect(issuer.issuer).toBe(`${emulator.httpUrl}/issuers/${name}`);
      const res = await fetch(`${issuer.issuer}/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      const discovery = (await res.json()) as Record<string, unknown>;
      expect(discovery).toMatchObject({
        issuer: issuer.issuer,
        jwks_uri: issuer.jwksUri,
        id_token_signing_alg_values_supported: ['RS256'],
      });
      const minted = await fetch(`${emulator.httpUrl}/__admin/issuers/${name}/token`, {
        method: 'POST',
        body: JSON.stringify(
          name === 'github-actions'
            ? { repository: 'acme/app', audience: 'aud-1' }
            : name === 'gitlab'
              ? { projectPath: 'acme/app', audience: 'aud-1' }
              : { namespace: 'ci', serviceAccount: 'deployer', audience: 'aud-1' },
        ),
      });
      expect(minted.status).toBe(200);
      const { token } = (await minted.json()) as { token: string };
      const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri as string));
      const { payload } = await jwtVerify(token, jwks, { issuer: issuer.issuer, audience: 'aud-1' });
      expect(payload.sub).toEqual(expect.any(String));
    },
  );

  it('answers 400 naming the field for a mint request with a bad input', async () => {
    const res = await fetch(`${emulator.httpUrl}/__admin/issuers/gitlab/token`, {
      method: 'POST',
      body: JSON.stringify({ projectPath: 'nogroup', audience: 'a' }),
    });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('projectPath');
  });

  it('answers 400 for a nowMs that is not epoch milliseconds', async () => {
    const res = await fetch(`${emulator.httpUrl}/__admin/issuers/github-actions/token`, {
      method: 'POST',
      body: JSON.stringify({ repository: 'acme/app', nowMs: 'yesterday' }),
    });
    expect(res.status).toBe(400);
  });

  it('mints at a given time (nowMs), for expired-token tests', async () => {
    const nowMs = Date.UTC(2026, 0, 1);
    const res = await fetch(`${emulator.httpUrl}/__admin/issuers/github-actions/token`, {
      method: 'POST',
      body: JSON.stringify({ repository: 'acme/app', nowMs }),
    });
    const { token } = (await res.json()) as { token: string };
    expect(decodeJwt(token).iat).toBe(nowMs / 1000);
  });

  it('refuses other methods on the discovery document with 405', async () => {
    const res = await fetch(`${emulator.httpUrl}/issuers/gitlab/.well-known/openid-configuration`, {
      method: 'POST',
    });
    expect(res.status).toBe(405);
  });
});
