/**
 * Simulated organization policy constraints the emulated IAM enforces.
 * `constraints/iam.disableServiceAccountKeyCreation` blocks key creation for every account
 * (`keyCreationDisabled`) or only for the listed emails (`keyCreationDisabledFor`).
 */
export interface OrgPolicy {
  keyCreationDisabled: boolean;
  /** Lower-case service-account emails for which key creation is blocked. */
  readonly keyCreationDisabledFor: Set<string>;
}

export function createOrgPolicy(): OrgPolicy {
  return { keyCreationDisabled: false, keyCreationDisabledFor: new Set() };
}

/** True when the policy blocks creating a key for `email`. */
export function keyCreationBlocked(policy: OrgPolicy, email: string): boolean {
  return policy.keyCreationDisabled || policy.keyCreationDisabledFor.has(email.toLowerCase());
}
