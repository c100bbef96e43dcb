/** Every HCL policy rule, by name. */
import type { TfTree, Violation } from './hcl-tree.js';
import { moduleLayout, variablesTypedAndDescribed, variablesValidated, versionsPinned } from './rules-structure.js';
import { noAuthoritativeIam, noBasicRoles, noBroadProjectRoles, noDefaultServiceAccounts, noKeyMaterialInState, noPublicPrincipals } from './rules-iam.js';
import { exposureVariables, internalMode, onlyTokenExposed, publicMode } from './rules-exposure.js';
import { functionsOnSupportedRuntime } from './rules-node-runtime.js';
import { perimeterRules } from './rules-perimeter.js';
import { auditLogging, functionIngressInternal, graceExceedsTokenLifetime, managedSecretsRotate, perimeterCoversServices, schedulerUsesOidc } from './rules-runtime.js';

export type Rule = (tree: TfTree) => Violation[];

export const RULES: Readonly<Record<string, Rule>> = {
  'module-layout': moduleLayout,
  'variables-typed-described': variablesTypedAndDescribed,
  'variables-validated': variablesValidated,
  'versions-pinned': versionsPinned,
  'no-basic-roles': noBasicRoles,
  'no-broad-project-roles': noBroadProjectRoles,
  'no-authoritative-iam': noAuthoritativeIam,
  'no-public-principals': noPublicPrincipals,
  'no-default-service-accounts': noDefaultServiceAccounts,
  'no-key-material-in-state': noKeyMaterialInState,
  'function-ingress-internal': functionIngressInternal,
  'scheduler-uses-oidc': schedulerUsesOidc,
  'managed-secrets-rotate': managedSecretsRotate,
  'grace-exceeds-token-lifetime': graceExceedsTokenLifetime,
  'perimeter-covers-services': perimeterCoversServices,
  'perimeter-rules': perimeterRules,
  'audit-logging': auditLogging,
  'functions-supported-runtime': functionsOnSupportedRuntime,
  'exposure-variables': exposureVariables,
  'internal-mode': internalMode,
  'public-mode': publicMode,
  'only-token-exposed': onlyTokenExposed,
};

/** Runs every rule on a tree. */
export function checkAll(tree: TfTree): Violation[] {
  return Object.values(RULES).flatMap((rule) => rule(tree));
}
