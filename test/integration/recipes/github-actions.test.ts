/**
 * Recipe: GitHub Actions → token vending service → Google access token. The job's OIDC token
 * comes from the emulated GitHub issuer (discovery + JWKS over HTTP), the token function runs in
 * its own server, and the access token is checked at the emulator's tokeninfo.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GitHubActionsJob } from '../../../emulator/index.js';
import { CP, startRecipeStack, VERTEX, type RecipeStack } from './recipe-stack.js';

let r: RecipeStack;

beforeAll(async () => {
  // docs/recipes.md, GitHub Actions: deploys from main, or from the production environment.
  r = await startRecipeStack(
    (emulator) => [
      {
        name: 'github-deploy',
        caller: {
          issuer: emulator.issuers.byName['github-actions'].issuer,
          subject: 'repo:acme/app:ref:refs/heads/main',
          claims: {
            repository: 'acme/app',
            job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
          },
        },
        serviceAccounts: [VERTEX],
        scopes: [CP],
      },
      {
        name: 'github-production',
        caller: {
          issuer: emulator.issuers.byName['github-actions'].issuer,
          subject: 'repo:acme/app:environment:production',
          claims: { repository_owner: 'acme', environment: 'production' },
        },
        serviceAccounts: [VERTEX],
        scopes: [CP],
      },
    ],
    // Only GitHub is trusted here (the default local stack trusts all three emulated issuers).
    (emulator) => ({
      TVS_OIDC_ISSUERS: JSON.stringify([{ issuer: emulator.issuers.byName['github-actions'].issuer }]),
    }),
  );
}, 30_000);

afterAll(async () => {
  await r?.stop();
});

const job = (over: Partial<GitHubActionsJob> = {}): Promise<string> =>
  r.stack.emulator.issuers.gitHubActions({ repository: 'acme/app', audience: r.stack.tokenUrl, ...over });

describe('GitHub Actions recipe', () => {
  it('mints tokens shaped like GitHub’s: RS256 with a kid, repo subject, string ids, five minutes', async () => {
    const token = await job();
    expect(decodeProtectedHeader(token)).toEqual({
      alg: 'RS256',
      kid: r.stack.emulator.issuers.byName['github-actions'].kid,
      typ: 'JWT',
    });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: r.stack.emulator.issuers.byName['github-actions'].issuer,
      sub: 'repo:acme/app:ref:refs/heads/main',
      aud: r.stack.tokenUrl,
      repository: 'acme/app',
      repository_owner: 'acme',
      ref: 'refs/heads/main',
      ref_type: 'branch',
      event_name: 'push',
      job_workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
      runner_environment: 'github-hosted',
    });
    expect(typeof claims.repository_id).toBe('string');
    expect(claims).not.toHaveProperty('environment');
    expect(claims.exp! - claims.iat!).toBe(300);
  });

  it('exchanges a job token from main for a Google access token that Google accepts', async () => {
    const sent = await r.exchange(await job());
    expect(sent.status).toBe(200);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({
      decision: 'granted',
      rule: 'github-deploy',
      caller: { kind: 'id_token', subject: 'repo:acme/app:ref:refs/heads/main' },
    });
    const info = await r.tokeninfo(sent.body.accessToken);
    expect(info.status).toBe(200);
    // Without an email scope Google names the account by its unique id (azp), not its email.
    expect(info.body.azp).toBe(r.stack.emulator.state.serviceAccounts.get(VERTEX)?.uniqueId);
    expect(info.body.scope).toBe(CP);
  });

  it('grants a job in the production environment by the environment rule', async () => {
    const sent = await r.exchange(await job({ environment: 'production' }));
    expect(sent.status).toBe(200);
    expect(sent.entries[0]).toMatchObject({ decision: 'granted', rule: 'github-production' });
  });

  it.each<[string, Partial<GitHubActionsJob>, string]>([
    ['another repository', { repository: 'acme/other' }, 'subject'],
    ['another owner’s fork', { repository: 'mallory/app' }, 'subject'],
    [
      'a pull_request job (subject repo:acme/app:pull_request)',
      { eventName: 'pull_request', ref: 'refs/pull/7/merge' },
      'subject',
    ],
    ['another branch', { ref: 'refs/heads/feature' }, 'subject'],
    ['another environment', { environment: 'staging' }, 'subject'],
  ])(
    'denies %s with 403, naming the closest rule and the field that differed',
    async (_name, over, differed) => {
      const sent = await r.exchange(await job(over));
      expect(sent.status).toBe(403);
      expect(sent.body.error.status).toBe('PERMISSION_DENIED');
      expect(sent.entries).toHaveLength(1);
      expect(sent.entries[0]).toMatchObject({ decision: 'denied', reason: 'NO_RULE_FOR_CALLER' });
      expect(sent.entries[0].detail).toMatch(
        new RegExp(
          `^closest rule: github-(deploy|production); caller ${differed} differed( \\(and \\d+ more\\))?$`,
        ),
      );
    },
  );

  it('refuses a token for another audience (GitHub’s default, the owner URL) with 401', async () => {
    const sent = await r.exchange(await job({ audience: undefined }));
    expect(sent.status).toBe(401);
    expect(sent.entries[0]).toMatchObject({
      decision: 'denied',
      reason: 'CALLER_CREDENTIAL_AUDIENCE_MISMATCH',
    });
  });

  it('refuses an expired token with 401', async () => {
    const sent = await r.exchange(
      await r.stack.emulator.issuers.gitHubActions(
        { repository: 'acme/app', audience: r.stack.tokenUrl },
        { nowMs: Date.now() - 10 * 60_000 },
      ),
    );
    expect(sent.status).toBe(401);
    expect(sent.entries[0]).toMatchObject({ decision: 'denied', reason: 'CALLER_CREDENTIAL_EXPIRED' });
  });

  it('refuses a token from an issuer that is not configured with 401', async () => {
    const token = await r.stack.emulator.issuers.gitLab({
      projectPath: 'acme/app',
      audience: r.stack.tokenUrl,
    });
    const sent = await r.exchange(token);
    expect(sent.status).toBe(401);
    expect(sent.entries[0]).toMatchObject({ decision: 'denied', reason: 'CALLER_CREDENTIAL_ISSUER_UNKNOWN' });
  });
});
