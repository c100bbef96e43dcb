import {
  GITHUB_CLAIMS_SUPPORTED,
  GITHUB_TOKEN_LIFETIME_SECONDS,
  gitHubActionsClaims,
  type GitHubActionsJob,
} from './github-actions.js';
import { GITLAB_CLAIMS_SUPPORTED, gitLabCiClaims, type GitLabCiJob } from './gitlab-ci.js';
import {
  KUBERNETES_CLAIMS_SUPPORTED,
  kubernetesClaims,
  type KubernetesProjectedToken,
} from './kubernetes.js';
import { createOidcIssuer, type OidcIssuer } from './oidc-issuer.js';

/** The emulated CI issuers, by the path segment they are served under (`/issuers/NAME`). */
export const CI_ISSUER_NAMES = ['github-actions', 'gitlab', 'kubernetes'] as const;
export type CiIssuerName = (typeof CI_ISSUER_NAMES)[number];

/**
 * Stand-ins for the OIDC issuers of GitHub Actions, GitLab CI and a Kubernetes cluster outside
 * Google Cloud: each serves discovery and a JWKS under `${httpUrl}/issuers/NAME` (its `iss`) and
 * mints tokens whose claims have the shape the real system documents.
 */
export interface CiIssuers {
  readonly byName: Readonly<Record<CiIssuerName, OidcIssuer>>;
  /** A GitHub Actions job's token (5 minutes). */
  gitHubActions(job: GitHubActionsJob, options?: { nowMs?: number }): Promise<string>;
  /** A GitLab CI job's `id_tokens` token. */
  gitLab(job: GitLabCiJob, options?: { nowMs?: number }): Promise<string>;
  /** A pod's projected service-account token. */
  kubernetes(token: KubernetesProjectedToken, options?: { nowMs?: number }): Promise<string>;
  /** `TVS_OIDC_ISSUERS` entries trusting all three (JWKS found by discovery). */
  tokenServiceConfig(): { issuer: string; algorithms: ['RS256'] }[];
}

/** Creates the three issuers (three RSA keys, generated in parallel) under `${httpUrl}/issuers/`. */
export async function createCiIssuers(httpUrl: string): Promise<CiIssuers> {
  const base = `${httpUrl}/issuers`;
  const [github, gitlab, kubernetes] = await Promise.all([
    createOidcIssuer({
      issuer: `${base}/github-actions`,
      claimsSupported: GITHUB_CLAIMS_SUPPORTED,
      jwksPath: '/.well-known/jwks',
    }),
    createOidcIssuer({
      issuer: `${base}/gitlab`,
      claimsSupported: GITLAB_CLAIMS_SUPPORTED,
      jwksPath: '/oauth/discovery/keys',
      discoveryExtras: { scopes_supported: ['openid'] },
    }),
    // The API server's discovery document is minimal (service-account issuer discovery, KEP-1393).
    createOidcIssuer({
      issuer: `${base}/kubernetes`,
      claimsSupported: KUBERNETES_CLAIMS_SUPPORTED,
      jwksPath: '/openid/v1/jwks',
      kid: 'thumbprint',
    }),
  ]);
  const byName = { 'github-actions': github, gitlab, kubernetes };
  return {
    byName,
    gitHubActions: (job, options = {}) =>
      github.sign(gitHubActionsClaims(job), { lifetimeSeconds: GITHUB_TOKEN_LIFETIME_SECONDS, ...options }),
    gitLab(job, options = {}) {
      const { claims, lifetimeSeconds } = gitLabCiClaims(job);
      return gitlab.sign(claims, { lifetimeSeconds, ...options });
    },
    kubernetes(token, options = {}) {
      const { claims, lifetimeSeconds } = kubernetesClaims(token);
      return kubernetes.sign(claims, { lifetimeSeconds, ...options });
    },
    tokenServiceConfig: () => Object.values(byName).map((i) => ({ issuer: i.issuer, algorithms: ['RS256'] })),
  };
}
