import { describe, expect, it } from 'vitest';
import { treeFromSources } from './lib/hcl-tree.js';
import { RULES } from './lib/policy-rules.js';

/** Runs one rule on an in-memory tree and returns its messages. */
async function check(rule: string, files: Record<string, string>): Promise<string[]> {
  const violations = RULES[rule](await treeFromSources(files));
  for (const v of violations) expect(v.rule).toBe(rule);
  return violations.map((v) => `${v.where}: ${v.message}`);
}

const FN = (serviceConfig: string, buildConfig = 'service_account = var.build_sa') => `
resource "google_cloudfunctions2_function" "f" {
  name = "f"
  build_config {
    entry_point = "token"
    ${buildConfig}
  }
  service_config {
    ${serviceConfig}
  }
}`;

describe('structure rules', () => {
  it.each([
    ['module-layout', { 'modules/x/main.tf': '', 'modules/x/variables.tf': '' }, 'missing outputs.tf'],
    ['module-layout', { 'modules/x/main.tf': '', 'modules/x/variables.tf': '', 'modules/x/outputs.tf': '', 'modules/x/versions.tf': '' }, 'missing README.md'],
    ['variables-typed-described', { 'modules/x/variables.tf': 'variable "a" {\n description = "x"\n}' }, 'has no type'],
    ['variables-typed-described', { 'modules/x/variables.tf': 'variable "a" {\n type = string\n}' }, 'has no description'],
    ['variables-validated', { 'modules/x/variables.tf': 'variable "region" {\n type = string\n description = "r"\n}' }, 'without a validation block'],
    ['variables-validated', { 'modules/x/variables.tf': 'variable "ingress_settings" {\n type = string\n description = "i"\n}' }, 'without a validation block'],
    [
      'versions-pinned',
      { 'modules/x/versions.tf': 'terraform {\n required_version = ">= 1.9.0"\n required_providers {\n google = { source = "hashicorp/google", version = ">= 6.0, < 8.0" }\n }\n}' },
      'required_version needs a lower and an upper bound',
    ],
    [
      'versions-pinned',
      { 'modules/x/versions.tf': 'terraform {\n required_version = ">= 1.9.0, < 2.0.0"\n required_providers {\n google = { source = "hashicorp/google", version = ">= 6.0" }\n }\n}' },
      'provider google version ">= 6.0" is not bounded',
    ],
    ['versions-pinned', { 'modules/x/versions.tf': 'terraform {\n required_version = "~> 1.9"\n}' }, 'google provider not declared'],
  ])('%s fails on a bad snippet (%#)', async (rule, files, message) => {
    expect((await check(rule, files)).join('\n')).toContain(message);
  });
});

describe('IAM rules', () => {
  it.each([
    ['no-basic-roles', 'resource "google_project_iam_member" "m" {\n role = "roles/editor"\n member = "user:a@b.c"\n}', 'basic role roles/editor'],
    ['no-basic-roles', 'resource "google_secret_manager_secret_iam_member" "m" {\n role = "roles/viewer"\n member = "user:a@b.c"\n}', 'basic role roles/viewer'],
    ['no-broad-project-roles', 'resource "google_project_iam_member" "m" {\n role = "roles/secretmanager.admin"\n member = "user:a@b.c"\n}', 'project-level admin role'],
    ['no-broad-project-roles', 'resource "google_project_iam_member" "m" {\n role = "roles/iam.serviceAccountTokenCreator"\n member = "user:a@b.c"\n}', 'project-level roles/iam.serviceAccountTokenCreator'],
    ['no-broad-project-roles', 'resource "google_project_iam_member" "m" {\n role = "roles/iam.serviceAccountUser"\n member = "user:a@b.c"\n}', 'project-level roles/iam.serviceAccountUser'],
    [
      'no-broad-project-roles',
      'resource "google_project_iam_custom_role" "r" {\n role_id = "r"\n permissions = ["iam.serviceAccounts.getAccessToken"]\n}\nresource "google_project_iam_member" "m" {\n role = google_project_iam_custom_role.r.name\n member = "user:a@b.c"\n}',
      'project-level grant of iam.serviceAccounts.getAccessToken',
    ],
    [
      'no-broad-project-roles',
      'resource "google_project_iam_custom_role" "r" {\n role_id = "r"\n permissions = ["iam.serviceAccountKeys.create"]\n}\nresource "google_project_iam_member" "m" {\n role = google_project_iam_custom_role.r.name\n member = "user:a@b.c"\n}',
      'project-level grant of iam.serviceAccountKeys.create',
    ],
    ['no-authoritative-iam', 'resource "google_project_iam_binding" "b" {\n role = "roles/run.invoker"\n members = ["user:a@b.c"]\n}', 'authoritative IAM resource'],
    ['no-authoritative-iam', 'resource "google_secret_manager_secret_iam_policy" "p" {\n policy_data = "{}"\n}', 'authoritative IAM resource'],
    ['no-public-principals', 'resource "google_cloud_run_v2_service_iam_member" "m" {\n role = "roles/run.invoker"\n member = "allUsers"\n}', 'allUsers'],
    ['no-public-principals', 'resource "google_cloud_run_v2_service_iam_member" "m" {\n role = "roles/run.invoker"\n member = "allAuthenticatedUsers"\n}', 'allUsers / allAuthenticatedUsers'],
    [
      'no-public-principals',
      'variable "invokers" {\n type = list(string)\n description = "x"\n}\nresource "google_cloud_run_v2_service_iam_member" "m" {\n for_each = toset(var.invokers)\n role = "roles/run.invoker"\n member = each.value\n}',
      'does not refuse allUsers',
    ],
    ['no-default-service-accounts', FN('ingress_settings = "ALLOW_INTERNAL_ONLY"'), 'service_config.service_account_email unset'],
    ['no-default-service-accounts', FN('service_account_email = var.sa', ''), 'build_config.service_account unset'],
    ['no-default-service-accounts', FN('service_account_email = "123456-compute@developer.gserviceaccount.com"'), 'names a default service account'],
    ['no-default-service-accounts', 'resource "google_cloudfunctions_function" "old" {\n name = "f"\n}', '1st-gen function'],
    ['no-key-material-in-state', 'resource "google_service_account_key" "k" {\n service_account_id = "x"\n}', 'google_service_account_key puts key material'],
    ['no-key-material-in-state', 'resource "google_secret_manager_secret_version" "v" {\n secret = "s"\n secret_data = "hunter2"\n}', 'sets secret_data'],
    ['no-key-material-in-state', 'resource "google_apikeys_key" "k" {\n name = "k"\n}', 'google_apikeys_key puts key material'],
    ['no-key-material-in-state', 'data "google_secret_manager_secret_version" "v" {\n secret = "s"\n}', 'stores it in state'],
  ])('%s fails on a bad snippet (%#)', async (rule, hcl, message) => {
    expect((await check(rule, { 'modules/x/main.tf': hcl })).join('\n')).toContain(message);
  });

  it('accepts caller-supplied invokers from a variable whose validation refuses public principals', async () => {
    const hcl = `variable "invokers" {
  type        = list(string)
  description = "x"
  validation {
    condition     = !contains(var.invokers, "allUsers") && !contains(var.invokers, "allAuthenticatedUsers")
    error_message = "no public principals"
  }
}
resource "google_cloud_run_v2_service_iam_member" "m" {
  for_each = toset(var.invokers)
  role     = "roles/run.invoker"
  member   = each.value
}`;
    expect(await check('no-public-principals', { 'modules/x/main.tf': hcl })).toEqual([]);
  });

  it('accepts impersonation permissions granted on a service account rather than the project', async () => {
    const hcl = `resource "google_project_iam_custom_role" "r" {
  role_id     = "r"
  permissions = ["iam.serviceAccounts.getAccessToken"]
}
resource "google_service_account_iam_member" "m" {
  service_account_id = "projects/p/serviceAccounts/t@p.iam.gserviceaccount.com"
  role               = google_project_iam_custom_role.r.name
  member             = "serviceAccount:x@p.iam.gserviceaccount.com"
}`;
    expect(await check('no-broad-project-roles', { 'modules/x/main.tf': hcl })).toEqual([]);
  });
});
