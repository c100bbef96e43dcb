/**
 * Downscoped tokens end to end: a GitHub Actions job (emulated issuer) asks the token function for
 * an access token under a rule with an `accessBoundary` filled from its claims; the function mints
 * the SA token (keyless, emulated IAM Credentials), downscopes it at the emulated STS, and the
 * emulated Storage check shows what the token can reach.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VendedTokenClient } from '../../../../client/index.js';
import type { GitHubActionsJob } from '../../../../emulator/index.js';
import { CP, startRecipeStack, VERTEX, type RecipeStack } from '../../recipes/recipe-stack.js';

const VIEWER = 'inRole:roles/storage.objectViewer';

let r: RecipeStack;

beforeAll(async () => {
  r = await startRecipeStack(
    (emulator) => [
      {
        name: 'ci-bounded',
        caller: {
          issuer: emulator.issuers.byName['github-actions'].issuer,
          subject: 'repo:**:ref:refs/heads/main',
        },
        serviceAccounts: [VERTEX],
        scopes: [CP],
        accessBoundary: [
          {
            availableResource: '//storage.googleapis.com/projects/_/buckets/ci-${claims.repository_owner}',
            availablePermissions: [VIEWER],
            availabilityCondition: {
              expression:
                "resource.name.startsWith('projects/_/buckets/ci-${claims.repository_owner}/objects/${claims.repository}/')",
              title: 'the job’s own prefix',
            },
          },
        ],
      },
    ],
    (emulator) => ({
      TVS_OIDC_ISSUERS: JSON.stringify([{ issuer: emulator.issuers.byName['github-actions'].issuer }]),
      TVS_UPSTREAM_DEADLINE_MS: '2000',
      TVS_UPSTREAM_MAX_ATTEMPTS: '2',
    }),
  );
}, 30_000);

afterAll(async () => {
  await r?.stop();
});

afterEach(() => {
  r.stack.emulator.faults.reset({ keepRules: false });
});

const job = (repository: string, over: Partial<GitHubActionsJob> = {}): Promise<string> =>
  r.stack.emulator.issuers.gitHubActions({ repository, audience: r.stack.tokenUrl, ...over });

const counts = () => ({
  sts: r.stack.emulator.faults.count('sts.token'),
  iam: r.stack.emulator.faults.count('iamcredentials.generateAccessToken'),
});

async function read(token: string, bucket: string, object: string): Promise<number> {
  const res = await fetch(
    `${r.stack.emulator.httpUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(object)}`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  await res.arrayBuffer();
  return res.status;
}

/** A repository owner no other test uses (the function's caches live for the whole file). */
const owner = () => `o${randomBytes(4).toString('hex')}`;

describe('a rule with an accessBoundary', () => {
  it('grants a downscoped token that tokeninfo shows bounded and Storage honours', async () => {
    const who = owner();
    const before = counts();
    const sent = await r.exchange(await job(`${who}/app`));
    expect(sent.status).toBe(200);
    expect(counts().sts - before.sts).toBe(1);

    const info = await r.tokeninfo(sent.body.accessToken);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body.x_emulator_access_boundaries)).toEqual([
      {
        accessBoundaryRules: [
          {
            availableResource: `//storage.googleapis.com/projects/_/buckets/ci-${who}`,
            availablePermissions: [VIEWER],
            availabilityCondition: {
              expression: `resource.name.startsWith('projects/_/buckets/ci-${who}/objects/${who}/app/')`,
              title: 'the job’s own prefix',
            },
          },
        ],
      },
    ]);
    expect(await read(sent.body.accessToken, `ci-${who}`, `${who}/app/build/out.tgz`)).toBe(200);
    expect(await read(sent.body.accessToken, `ci-${who}`, `${who}/other/out.tgz`)).toBe(403);
    expect(await read(sent.body.accessToken, `ci-${who}`, `${who}/app`)).toBe(403);
    expect(await read(sent.body.accessToken, 'ci-someone-else', `${who}/app/x`)).toBe(403);

    // One audit entry: granted, with the boundary's size and fingerprint but no claim values.
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({
      decision: 'granted',
      rule: 'ci-bounded',
      cacheHit: false,
      target: {
        serviceAccount: VERTEX,
        accessBoundary: { rules: 1, fingerprint: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
      },
    });
    expect(JSON.stringify(sent.entries[0].target)).not.toContain(who);
  });

  it('keeps a malicious claim value inside its CEL string literal', async () => {
    const who = owner();
    const repo = "x')||true||('";
    const sent = await r.exchange(await job(`${who}/${repo}`));
    expect(sent.status).toBe(200);
    const info = await r.tokeninfo(sent.body.accessToken);
    const [boundary] = JSON.parse(info.body.x_emulator_access_boundaries);
    expect(boundary.accessBoundaryRules[0].availabilityCondition.expression).toBe(
      `resource.name.startsWith('projects/_/buckets/ci-${who}/objects/${who}/x\\')||true||(\\'/')`,
    );
    // The boundary did not widen: only the literal prefix (quotes and all) is readable.
    expect(await read(sent.body.accessToken, `ci-${who}`, 'anything')).toBe(403);
    expect(await read(sent.body.accessToken, `ci-${who}`, `${who}/other/f`)).toBe(403);
    expect(await read(sent.body.accessToken, `ci-${who}`, `${who}/${repo}/f`)).toBe(200);
  });

  it('refuses a claim that cannot be a resource-name piece: 403, one audit entry, nothing minted', async () => {
    const before = counts();
    const sent = await r.exchange(await job('evil*owner/app'));
    expect(sent.status).toBe(403);
    expect(sent.body.error).toMatchObject({
      status: 'PERMISSION_DENIED',
      details: [expect.objectContaining({ reason: 'ACCESS_BOUNDARY_CLAIM_INVALID' })],
    });
    expect(JSON.stringify(sent.body)).not.toContain('evil*owner');
    expect(counts()).toEqual(before);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({ decision: 'denied', reason: 'ACCESS_BOUNDARY_CLAIM_INVALID' });
  });

  it('serves the same caller from the cache (one STS exchange) and another owner a different token', async () => {
    const who = owner();
    const before = counts();
    const first = await r.exchange(await job(`${who}/app`));
    const second = await r.exchange(await job(`${who}/app`));
    expect(second.body.accessToken).toBe(first.body.accessToken);
    expect(second.entries[0]).toMatchObject({ decision: 'granted', cacheHit: true });
    expect(counts().sts - before.sts).toBe(1);
    // Issue 16: the miss carries `mint` (the STS exchange, plus the source mint if this request made it); the hit none.
    expect(first.entries[0]).toMatchObject({ cacheHit: false, mint: { backend: 'keyless' } });
    expect(first.entries[0].mint.attempts).toBeGreaterThanOrEqual(1);
    expect(first.entries[0].mint.latencyMs).toBeGreaterThanOrEqual(0);
    expect(second.entries[0]).not.toHaveProperty('mint');

    const other = await r.exchange(await job(`${owner()}/app`));
    expect(other.body.accessToken).not.toBe(first.body.accessToken);
    expect(counts().sts - before.sts).toBe(2);
    // The source came from the minter's cache: only the one STS attempt was made for this request.
    expect(other.entries[0]).toMatchObject({ cacheHit: false, mint: { backend: 'keyless', attempts: 1 } });
    // The source SA token is cached as before: downscoping for another owner mints nothing new at IAM.
    expect(counts().iam - before.iam).toBeLessThanOrEqual(1);
  });

  it('answers an STS refusal with a typed error and caches nothing', async () => {
    const who = owner();
    r.stack.emulator.faults.inject({ endpoint: 'sts.token', times: 1, status: 400 });
    const failed = await r.exchange(await job(`${who}/app`));
    expect(failed.status).toBe(500);
    expect(failed.body.error).toMatchObject({
      status: 'INTERNAL',
      details: [expect.objectContaining({ reason: 'DOWNSCOPE_REJECTED' })],
    });
    expect(failed.entries).toHaveLength(1);
    expect(failed.entries[0]).toMatchObject({ decision: 'error', reason: 'DOWNSCOPE_REJECTED' });

    const before = counts();
    const next = await r.exchange(await job(`${who}/app`));
    expect(next.status).toBe(200);
    expect(next.entries[0]).toMatchObject({ cacheHit: false });
    expect(counts().sts - before.sts).toBe(1);
  });

  it('retries an STS outage and answers 503 when it lasts', async () => {
    r.stack.emulator.faults.inject({ endpoint: 'sts.token', times: 10, status: 503 });
    const before = counts();
    const failed = await r.exchange(await job(`${owner()}/app`));
    expect(failed.status).toBe(503);
    expect(failed.body.error.status).toBe('UNAVAILABLE');
    expect(counts().sts - before.sts).toBe(2);
    expect(failed.entries).toHaveLength(1);
  });

  it('downscopes on the OAuth token-exchange route too', async () => {
    const who = owner();
    const res = await fetch(`${r.stack.tokenUrl}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        subject_token: await job(`${who}/app`),
        service_account: VERTEX,
        scope: CP,
      }).toString(),
    });
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(await read(body.access_token, `ci-${who}`, `${who}/app/x`)).toBe(200);
    expect(await read(body.access_token, `ci-${who}`, 'elsewhere/x')).toBe(403);

    const refused = await fetch(`${r.stack.tokenUrl}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        subject_token: await job('bad~owner/app'),
        service_account: VERTEX,
        scope: CP,
      }).toString(),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
  });

  it('reaches the workload client as an ordinary access token', async () => {
    const who = owner();
    const jobToken = await job(`${who}/app`);
    const client = new VendedTokenClient({
      serviceUrl: r.stack.tokenUrl,
      targetServiceAccount: VERTEX,
      idTokenSource: () => Promise.resolve(jobToken),
    });
    const { token } = await client.getAccessToken();
    expect(await read(token, `ci-${who}`, `${who}/app/f`)).toBe(200);
    expect(await read(token, `ci-${who}`, `${who}/b/f`)).toBe(403);
    const res = await client.request<{ name: string }>({
      url: `${r.stack.emulator.httpUrl}/storage/v1/b/ci-${who}/o/${encodeURIComponent(`${who}/app/f`)}`,
    });
    expect(res.data.name).toBe(`${who}/app/f`);
  });
});
