import { z } from 'zod';

/**
 * A GitHub Actions job's OIDC token request, as the workflow run determines it. Field names and
 * formats follow GitHub's "About security hardening with OpenID Connect" (token claims) page.
 */
export const GitHubActionsJob = z.strictObject({
  /** `OWNER/REPO` */
  repository: z.string().regex(/^[^/:\s]+\/[^/:\s]+$/),
  repositoryId: z.string().regex(/^\d+$/).default('690912345'),
  repositoryOwnerId: z.string().regex(/^\d+$/).default('71612345'),
  repositoryVisibility: z.enum(['public', 'private', 'internal']).default('private'),
  /** e.g. `refs/heads/main`, `refs/tags/v1.2.0`, `refs/pull/7/merge` */
  ref: z
    .string()
    .regex(/^refs\//)
    .default('refs/heads/main'),
  sha: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .default('e2b7d6a0c4f1e5b8a9d3c2f1e0a9b8c7d6e5f4a3'),
  /** Set when the job names an `environment:`; then it is the `sub`'s context. */
  environment: z.string().min(1).optional(),
  eventName: z.string().min(1).default('push'),
  /** Workflow file under `.github/workflows/` of `repository` (or of `jobWorkflowRepository` for a reusable workflow). */
  workflowFile: z.string().min(1).default('deploy.yml'),
  workflowName: z.string().min(1).default('deploy'),
  /** `OWNER/REPO@REF` of a reusable workflow the job calls; default the calling workflow itself. */
  jobWorkflow: z.string().min(1).optional(),
  actor: z.string().min(1).default('octocat'),
  actorId: z.string().regex(/^\d+$/).default('583231'),
  runId: z.string().regex(/^\d+$/).default('12345678901'),
  runNumber: z.string().regex(/^\d+$/).default('42'),
  runAttempt: z.string().regex(/^\d+$/).default('1'),
  runnerEnvironment: z.enum(['github-hosted', 'self-hosted']).default('github-hosted'),
  /** The `audience` the job asks for; default GitHub's, the repository owner's URL. */
  audience: z.string().min(1).optional(),
});
export type GitHubActionsJob = z.input<typeof GitHubActionsJob>;

/** GitHub's token lifetime: the token is for an immediate exchange. */
export const GITHUB_TOKEN_LIFETIME_SECONDS = 300;

/** Claims GitHub's discovery document lists. */
export const GITHUB_CLAIMS_SUPPORTED = [
  'sub',
  'aud',
  'exp',
  'iat',
  'iss',
  'jti',
  'nbf',
  'ref',
  'sha',
  'repository',
  'repository_id',
  'repository_owner',
  'repository_owner_id',
  'enterprise',
  'enterprise_id',
  'run_id',
  'run_number',
  'run_attempt',
  'actor',
  'actor_id',
  'workflow',
  'workflow_ref',
  'workflow_sha',
  'head_ref',
  'base_ref',
  'event_name',
  'ref_type',
  'ref_protected',
  'environment',
  'environment_node_id',
  'job_workflow_ref',
  'job_workflow_sha',
  'repository_visibility',
  'runner_environment',
  'issuer_scope',
] as const;

/** The claims (minus `iss`/`jti`/`iat`/`nbf`/`exp`) of the token GitHub issues to `input`'s job. */
export function gitHubActionsClaims(input: GitHubActionsJob): Record<string, unknown> {
  const job = GitHubActionsJob.parse(input);
  const [owner] = job.repository.split('/');
  const refType = job.ref.startsWith('refs/tags/') ? 'tag' : 'branch';
  const pullRequest = job.eventName === 'pull_request' || job.eventName === 'pull_request_target';
  // GitHub's default subject: environment first, then pull_request, then the ref.
  const context =
    job.environment !== undefined
      ? `environment:${job.environment}`
      : pullRequest
        ? 'pull_request'
        : `ref:${job.ref}`;
  const workflowRef = `${job.repository}/.github/workflows/${job.workflowFile}@${job.ref}`;
  return {
    sub: `repo:${job.repository}:${context}`,
    aud: job.audience ?? `https://github.com/${owner}`,
    ref: job.ref,
    sha: job.sha,
    repository: job.repository,
    repository_owner: owner,
    repository_owner_id: job.repositoryOwnerId,
    repository_id: job.repositoryId,
    repository_visibility: job.repositoryVisibility,
    run_id: job.runId,
    run_number: job.runNumber,
    run_attempt: job.runAttempt,
    actor: job.actor,
    actor_id: job.actorId,
    workflow: job.workflowName,
    workflow_ref: workflowRef,
    workflow_sha: job.sha,
    job_workflow_ref: job.jobWorkflow ?? workflowRef,
    job_workflow_sha: job.sha,
    head_ref: pullRequest ? 'feature' : '',
    base_ref: pullRequest ? 'main' : '',
    event_name: job.eventName,
    ref_type: refType,
    ref_protected: String(!pullRequest && job.ref === 'refs/heads/main'),
    ...(job.environment === undefined ? {} : { environment: job.environment }),
    runner_environment: job.runnerEnvironment,
  };
}
