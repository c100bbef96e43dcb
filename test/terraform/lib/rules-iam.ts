/** Policy rules on IAM: no basic or broad roles, nothing public, no defaults, no key material. */
import type { TfResource, TfTree, Violation } from './hcl-tree.js';
import { blocks, resources, strings, text, variables, where } from './hcl-tree.js';
import { MODES, instances, modeVariables } from './hcl-modes.js';
import { isPublicInvoker, tokenFunction } from './rules-exposure.js';

const IAM_RESOURCE = /_iam_(member|binding|policy)$/;
const ORG_LEVEL = /^google_(project|folder|organization)_iam_/;
const BASIC_ROLES = new Set(['roles/owner', 'roles/editor', 'roles/viewer']);
const POWERFUL_PREDEFINED = new Set([
  'roles/iam.serviceAccountUser',
  'roles/iam.serviceAccountTokenCreator',
  'roles/iam.serviceAccountKeyAdmin',
  'roles/iam.workloadIdentityUser',
]);
/** Permissions that let the holder act as, or mint for, a service account: never project wide. */
const IMPERSONATION = /^iam\.(serviceAccounts\.(actAs|getAccessToken|getOpenIdToken|signBlob|signJwt|implicitDelegation)|serviceAccountKeys\.)/;

/** The permissions of the custom role a grant's `role` expression names, if it names one. */
export function customRolePermissions(tree: TfTree, grant: TfResource): string[] | undefined {
  const ref = /google_project_iam_custom_role\.([A-Za-z0-9_-]+)/.exec(text(grant.body.role));
  if (!ref) return undefined;
  const role = resources(tree, 'google_project_iam_custom_role').find((r) => r.name === ref[1] && r.file.dir === grant.file.dir);
  return role ? strings(role.body.permissions) : undefined;
}

/** No basic role (owner, editor, viewer) anywhere. */
export function noBasicRoles(tree: TfTree): Violation[] {
  return resources(tree, IAM_RESOURCE)
    .filter((r) => BASIC_ROLES.has(text(r.body.role)) || strings(r.body.policy_data).some((s) => /roles\/(owner|editor|viewer)\b/.test(s)))
    .map((r) => ({ rule: 'no-basic-roles', where: where(r), message: `grants the basic role ${text(r.body.role) || 'in policy_data'}` }));
}

/** No project/folder/org-level admin roles, SA user/token creator roles or impersonation permissions. */
export function noBroadProjectRoles(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const r of resources(tree, ORG_LEVEL).filter((x) => IAM_RESOURCE.test(x.type))) {
    const role = text(r.body.role);
    if (/^roles\/.*admin/i.test(role)) out.push({ rule: 'no-broad-project-roles', where: where(r), message: `project-level admin role ${role}` });
    if (POWERFUL_PREDEFINED.has(role)) out.push({ rule: 'no-broad-project-roles', where: where(r), message: `project-level ${role}: grant it on the service account instead` });
    for (const p of customRolePermissions(tree, r) ?? []) {
      if (IMPERSONATION.test(p)) out.push({ rule: 'no-broad-project-roles', where: where(r), message: `project-level grant of ${p}: grant it on each target service account` });
    }
  }
  return out;
}

/** No authoritative IAM (`_iam_binding`, `_iam_policy`): they silently remove others' grants. */
export function noAuthoritativeIam(tree: TfTree): Violation[] {
  return resources(tree, /_iam_(binding|policy)$/).map((r) => ({
    rule: 'no-authoritative-iam',
    where: where(r),
    message: 'authoritative IAM resource; use _iam_member',
  }));
}

/**
 * Why a public grant is not the one allowed exception (allUsers run.invoker on the token
 * function, in public mode only), or `undefined` when it is.
 */
function notThePublicInvoker(tree: TfTree, r: TfResource): string | undefined {
  const fn = tokenFunction(tree, r.file.dir);
  if (!fn || !isPublicInvoker(r, fn)) return 'grants to allUsers / allAuthenticatedUsers';
  if (!modeVariables(tree, r.file.dir)) return 'grants allUsers run.invoker on the token function outside a module with a deployment mode';
  const counts = MODES.map((mode) => instances(tree, r, mode));
  if (counts[0] !== 0 || counts[1] !== 1) return `grants allUsers run.invoker in ${counts[0] !== 0 ? 'internal' : 'public'} mode with count ${JSON.stringify(counts[counts[0] !== 0 ? 0 : 1] ?? text(r.body.count))}; only public mode may, once`;
  return undefined;
}

/**
 * No allUsers/allAuthenticatedUsers but one grant: run.invoker to allUsers on the token function,
 * existing in public mode only; caller-supplied members come from a variable that refuses them.
 */
export function noPublicPrincipals(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  let exceptions = 0;
  for (const r of resources(tree, IAM_RESOURCE)) {
    const members = [...strings(r.body.member), ...strings(r.body.members)];
    if (members.some((m) => /allUsers|allAuthenticatedUsers/.test(m))) {
      const why = notThePublicInvoker(tree, r);
      if (why !== undefined) out.push({ rule: 'no-public-principals', where: where(r), message: why });
      else if (++exceptions > 1) out.push({ rule: 'no-public-principals', where: where(r), message: 'a second public invoker grant: the tree holds at most one' });
    }
    if (members.some((m) => /^\$\{(each\.value|var\.[A-Za-z0-9_]+)\}$/.test(m))) {
      const sources = [...`${text(r.body.for_each)} ${members.join(' ')}`.matchAll(/\bvar\.([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      const vars = variables(tree, r.file.dir);
      const guarded = sources.length > 0 && sources.every((name) => {
        const conditions = blocks(vars.get(name) ?? {}, 'validation').map((v) => text(v.condition)).join(' ');
        return conditions.includes('allUsers') && conditions.includes('allAuthenticatedUsers');
      });
      if (!guarded) out.push({ rule: 'no-public-principals', where: where(r), message: 'caller-supplied member from a variable that does not refuse allUsers/allAuthenticatedUsers' });
    }
  }
  return out;
}

const DEFAULT_SA = /-compute@developer\.gserviceaccount\.com|@appspot\.gserviceaccount\.com|@cloudbuild\.gserviceaccount\.com/;

/** No default compute / App Engine / Cloud Build account; every function names its run and build identity. */
export function noDefaultServiceAccounts(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const file of tree.files) {
    if (strings(file.json).some((s) => DEFAULT_SA.test(s))) out.push({ rule: 'no-default-service-accounts', where: file.path, message: 'names a default service account' });
  }
  for (const r of resources(tree, 'google_cloudfunctions2_function')) {
    if (!blocks(r.body, 'service_config').some((s) => text(s.service_account_email) !== '')) {
      out.push({ rule: 'no-default-service-accounts', where: where(r), message: 'service_config.service_account_email unset: the function would run as the default compute account' });
    }
    if (!blocks(r.body, 'build_config').some((b) => text(b.service_account) !== '')) {
      out.push({ rule: 'no-default-service-accounts', where: where(r), message: 'build_config.service_account unset: the build would run as a default account' });
    }
  }
  for (const r of resources(tree, 'google_cloudfunctions_function')) {
    out.push({ rule: 'no-default-service-accounts', where: where(r), message: '1st-gen function: use google_cloudfunctions2_function' });
  }
  return out;
}

const KEY_RESOURCES = new Set(['google_service_account_key', 'google_secret_manager_secret_version', 'google_secret_manager_regional_secret_version', 'google_apikeys_key']);
const KEY_ATTRIBUTES = new Set(['secret_data', 'secret_data_wo', 'private_key', 'key_string']);

/** No resource or attribute that would put key material into Terraform state. */
export function noKeyMaterialInState(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const r of resources(tree)) {
    if (KEY_RESOURCES.has(r.type)) out.push({ rule: 'no-key-material-in-state', where: where(r), message: `${r.type} puts key material into state` });
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (typeof value === 'object' && value !== null) {
        for (const [k, v] of Object.entries(value)) {
          if (KEY_ATTRIBUTES.has(k)) out.push({ rule: 'no-key-material-in-state', where: where(r), message: `sets ${k}` });
          walk(v);
        }
      }
    };
    walk(r.body);
  }
  for (const file of tree.files) {
    const data = file.json.data;
    for (const type of typeof data === 'object' && data !== null && !Array.isArray(data) ? Object.keys(data) : []) {
      if (KEY_RESOURCES.has(type) || type === 'google_secret_manager_secret_version_access') {
        out.push({ rule: 'no-key-material-in-state', where: `${file.path}: data.${type}`, message: 'reading a secret or key through Terraform stores it in state' });
      }
    }
  }
  return out;
}
