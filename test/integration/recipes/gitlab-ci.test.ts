/**
 * Recipe: GitLab CI `id_tokens` → token vending service → Google access token. Nested groups are
 * matched with `**`; `ref_protected` is the string "true", as GitLab sends it.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GitLabCiJob } from '../../../emulator/index.js';
import { CP, startRecipeStack, VERTEX, type RecipeStack } from './recipe-stack.js';

let r: RecipeStack;

beforeAll(async () => {
  // docs/recipes.md, GitLab CI: any project under acme/platform, protected branches only, pushes and schedules.
  r = await startRecipeStack(
    (emulator) => [
      {
        name: 'gitlab-platform-deploy',
        caller: {
          issuer: emulator.issuers.byName.gitlab.issuer,
          subject: 'project_path:acme/platform/**:ref_type:branch:ref:main',
          claims: {
            namespace_path: 'acme/platform/**',
            ref_protected: 'true',
            pipeline_source: ['push', 'schedule'],
          },
        },
        serviceAccounts: [VERTEX],
        scopes: [CP],
      },
    ],
    undefined,
    // As a YAML policy file (what the Terraform module's policy.yaml holds).
    'yaml',
  );
}, 30_000);

afterAll(async () => {
  await r?.stop();
});

const job = (over: Partial<GitLabCiJob> = {}): Promise<string> =>
  r.stack.emulator.issuers.gitLab({
    projectPath: 'acme/platform/infra/deployer',
    audience: r.stack.tokenUrl,
    ...over,
  });

describe('GitLab CI recipe', () => {
  it('mints tokens shaped like GitLab’s: nested project path, string ids and string booleans', async () => {
    const token = await job({ environment: 'production', environmentProtected: true });
    expect(decodeProtectedHeader(token)).toMatchObject({
      alg: 'RS256',
      kid: r.stack.emulator.issuers.byName.gitlab.kid,
    });
    expect(decodeJwt(token)).toMatchObject({
      iss: r.stack.emulator.issuers.byName.gitlab.issuer,
      sub: 'project_path:acme/platform/infra/deployer:ref_type:branch:ref:main',
      aud: r.stack.tokenUrl,
      project_path: 'acme/platform/infra/deployer',
      namespace_path: 'acme/platform/infra',
      namespace_id: '72',
      project_id: '4242',
      ref: 'main',
      ref_type: 'branch',
      ref_path: 'refs/heads/main',
      ref_protected: 'true',
      environment: 'production',
      environment_protected: 'true',
      pipeline_source: 'push',
      user_login: 'ci-user',
    });
  });

  it('exchanges a protected-branch job token for a Google access token that Google accepts', async () => {
    const sent = await r.exchange(await job());
    expect(sent.status).toBe(200);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({ decision: 'granted', rule: 'gitlab-platform-deploy' });
    const info = await r.tokeninfo(sent.body.accessToken);
    expect(info.status).toBe(200);
    expect(info.body.scope).toBe(CP);
  });

  it('grants a scheduled pipeline (any-of pipeline_source)', async () => {
    expect((await r.exchange(await job({ pipelineSource: 'schedule' }))).status).toBe(200);
  });

  it.each<[string, Partial<GitLabCiJob>, string]>([
    ['a project outside acme/platform', { projectPath: 'acme/web/site' }, 'subject'],
    ['an unprotected ref (ref_protected "false")', { refProtected: false }, 'claims.ref_protected'],
    ['another branch', { ref: 'feature' }, 'subject'],
    ['a tag', { refType: 'tag', ref: 'main' }, 'subject'],
    ['a merge request pipeline', { pipelineSource: 'merge_request_event' }, 'claims.pipeline_source'],
  ])(
    'denies %s with 403, naming the closest rule and the field that differed',
    async (_name, over, differed) => {
      const sent = await r.exchange(await job(over));
      expect(sent.status).toBe(403);
      expect(sent.entries).toHaveLength(1);
      expect(sent.entries[0]).toMatchObject({ decision: 'denied', reason: 'NO_RULE_FOR_CALLER' });
      expect(sent.entries[0].detail).toMatch(
        new RegExp(
          `^closest rule: gitlab-platform-deploy; caller ${differed} differed( \\(and \\d+ more\\))?$`,
        ),
      );
    },
  );

  it('refuses a token for another audience with 401', async () => {
    const sent = await r.exchange(await job({ audience: 'https://vault.example.com' }));
    expect(sent.status).toBe(401);
    expect(sent.entries[0]).toMatchObject({ reason: 'CALLER_CREDENTIAL_AUDIENCE_MISMATCH' });
  });

  it('refuses an expired token with 401', async () => {
    const token = await r.stack.emulator.issuers.gitLab(
      { projectPath: 'acme/platform/infra/deployer', audience: r.stack.tokenUrl, lifetimeSeconds: 300 },
      { nowMs: Date.now() - 10 * 60_000 },
    );
    const sent = await r.exchange(token);
    expect(sent.status).toBe(401);
    expect(sent.entries[0]).toMatchObject({ reason: 'CALLER_CREDENTIAL_EXPIRED' });
  });
});
