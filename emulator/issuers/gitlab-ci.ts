import { z } from 'zod';

/**
 * A GitLab CI job's `id_tokens:` entry, as the pipeline determines it. Claim names and formats
 * follow GitLab's "OpenID Connect (OIDC) Authentication Using ID Tokens" page: ids are strings,
 * and so are `ref_protected` and `environment_protected` ("true"/"false").
 */
export const GitLabCiJob = z.strictObject({
  /** `group/sub/project`: nested groups allowed. */
  projectPath: z.string().regex(/^[^/:\s]+(?:\/[^/:\s]+)+$/),
  projectId: z.string().regex(/^\d+$/).default('4242'),
  namespaceId: z.string().regex(/^\d+$/).default('72'),
  projectVisibility: z.enum(['public', 'internal', 'private']).default('private'),
  /** Branch or tag name (not a `refs/...` path). */
  ref: z.string().min(1).default('main'),
  refType: z.enum(['branch', 'tag']).default('branch'),
  refProtected: z.boolean().default(true),
  environment: z.string().min(1).optional(),
  environmentProtected: z.boolean().default(false),
  deploymentTier: z.enum(['production', 'staging', 'testing', 'development', 'other']).optional(),
  pipelineSource: z.string().min(1).default('push'),
  pipelineId: z.string().regex(/^\d+$/).default('1212'),
  jobId: z.string().regex(/^\d+$/).default('5656'),
  userId: z.string().regex(/^\d+$/).default('42'),
  userLogin: z.string().min(1).default('ci-user'),
  userEmail: z.string().min(1).default('ci-user@example.com'),
  userAccessLevel: z.enum(['guest', 'reporter', 'developer', 'maintainer', 'owner']).default('maintainer'),
  runnerId: z.number().int().nonnegative().default(1),
  runnerEnvironment: z.enum(['gitlab-hosted', 'self-hosted']).default('self-hosted'),
  sha: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .default('714a629c0b401fdce83e847fc9589983fc6f46bc'),
  /** `id_tokens: NAME: aud:`, one string or a list. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** GitLab's tokens live as long as the job's timeout (default one hour). */
  lifetimeSeconds: z.number().int().min(60).max(86_400).default(3600),
});
export type GitLabCiJob = z.input<typeof GitLabCiJob>;

export const GITLAB_CLAIMS_SUPPORTED = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'namespace_id',
  'namespace_path',
  'project_id',
  'project_path',
  'user_id',
  'user_login',
  'user_email',
  'user_access_level',
  'pipeline_id',
  'pipeline_source',
  'job_id',
  'ref',
  'ref_type',
  'ref_path',
  'ref_protected',
  'environment',
  'environment_protected',
  'deployment_tier',
  'environment_action',
  'runner_id',
  'runner_environment',
  'sha',
  'project_visibility',
  'ci_config_ref_uri',
  'ci_config_sha',
] as const;

/** The claims (minus `iss`/`jti`/`iat`/`nbf`/`exp`) and lifetime of the token GitLab issues to `input`'s job. */
export function gitLabCiClaims(input: GitLabCiJob): {
  claims: Record<string, unknown>;
  lifetimeSeconds: number;
} {
  const job = GitLabCiJob.parse(input);
  const namespacePath = job.projectPath.slice(0, job.projectPath.lastIndexOf('/'));
  const refPath = `${job.refType === 'tag' ? 'refs/tags/' : 'refs/heads/'}${job.ref}`;
  return {
    lifetimeSeconds: job.lifetimeSeconds,
    claims: {
      sub: `project_path:${job.projectPath}:ref_type:${job.refType}:ref:${job.ref}`,
      aud: job.audience,
      namespace_id: job.namespaceId,
      namespace_path: namespacePath,
      project_id: job.projectId,
      project_path: job.projectPath,
      user_id: job.userId,
      user_login: job.userLogin,
      user_email: job.userEmail,
      user_access_level: job.userAccessLevel,
      pipeline_id: job.pipelineId,
      pipeline_source: job.pipelineSource,
      job_id: job.jobId,
      ref: job.ref,
      ref_type: job.refType,
      ref_path: refPath,
      ref_protected: String(job.refProtected),
      ...(job.environment === undefined
        ? {}
        : {
            environment: job.environment,
            environment_protected: String(job.environmentProtected),
            ...(job.deploymentTier === undefined ? {} : { deployment_tier: job.deploymentTier }),
            environment_action: 'start',
          }),
      runner_id: job.runnerId,
      runner_environment: job.runnerEnvironment,
      sha: job.sha,
      project_visibility: job.projectVisibility,
      ci_config_ref_uri: `gitlab.example.com/${job.projectPath}//.gitlab-ci.yml@${refPath}`,
      ci_config_sha: job.sha,
    },
  };
}
