/**
 * What Terraform grants each function's runtime identity, read from the HCL, compared with
 * what `shared/permission-manifest.ts` says the code calls.
 */
import type { FunctionName, GoogleCall, Scope } from '../../../shared/permission-manifest.js';
import { permissionsByScope } from '../../../shared/permission-manifest.js';
import type { TfTree } from './hcl-tree.js';
import type { TfResource } from './hcl-tree.js';
import { blocks, locals, resources, strings, text, variables, where } from './hcl-tree.js';
import { customRolePermissions } from './rules-iam.js';

/** The module that alone may grant anything to the runtime identities. */
export const IAM_MODULE_DIR = 'modules/iam';

/** How each function's runtime identity is written in the HCL. */
const IDENTITY: Record<FunctionName, RegExp> = {
  token: /google_service_account\.token\b|\btoken_service_account_(email|member)\b/,
  rotate: /google_service_account\.rotator\b|\brotator_service_account_(email|member)\b/,
};

/** The scope each member resource type grants at. */
const SCOPE_OF: Record<string, Scope> = {
  google_project_iam_member: 'project',
  google_secret_manager_secret_iam_member: 'secret',
  google_service_account_iam_member: 'serviceAccount',
  google_kms_crypto_key_iam_member: 'cryptoKey',
};

/**
 * Whether a condition's `resource.name == "X"` names one Firestore database: X is a literal
 * `projects/P/databases/D`, a local whose value is built that way, or a variable whose validation
 * requires that form.
 */
function namesOneDatabase(tree: TfTree, r: TfResource, expression: string): boolean {
  const target = /^resource\.name == "([^"]+)"$/.exec(expression)?.[1];
  if (target === undefined) return false;
  if (/^projects\/[a-z][a-z0-9-]+\/databases\/[a-z][a-z0-9-]+$/.test(target)) return true;
  const ref = /^\$\{(var|local)\.([A-Za-z0-9_]+)\}$/.exec(target);
  if (!ref) return false;
  if (ref[1] === 'local') return /^projects\/\$\{[^}]+\}\/databases\/\$\{[^}]+\}$/.test(text(locals(tree, r.file.dir).get(ref[2])));
  const conditions = blocks(variables(tree, r.file.dir).get(ref[2]) ?? {}, 'validation').map((v) => text(v.condition));
  return conditions.some((c) => c.includes('^projects/[^/]+/databases/'));
}

/**
 * The scope a grant is made at. A project grant whose one condition confines it to one
 * Firestore database is `database` scoped (Firestore has no narrower IAM); any other project
 * grant, conditioned or not, counts as project wide.
 */
function scopeOf(tree: TfTree, r: TfResource): Scope | undefined {
  if (r.type !== 'google_project_iam_member') return SCOPE_OF[r.type];
  const conditions = blocks(r.body, 'condition');
  return conditions.length === 1 && namesOneDatabase(tree, r, text(conditions[0].expression)) ? 'database' : 'project';
}

export type Granted = Record<FunctionName, Record<Scope, Set<string>>>;

const empty = (): Record<Scope, Set<string>> => ({ project: new Set(), secret: new Set(), serviceAccount: new Set(), cryptoKey: new Set(), database: new Set() });

/** Reads the grants to the runtime identities; `problems` collects grants of a shape we refuse. */
export function grantsToRuntimeIdentities(tree: TfTree): { granted: Granted; problems: string[] } {
  const granted: Granted = { token: empty(), rotate: empty() };
  const problems: string[] = [];
  for (const r of resources(tree, /_iam_(member|binding|policy)$/)) {
    const members = [...strings(r.body.member), ...strings(r.body.members), ...strings(r.body.policy_data)].join(' ');
    for (const fn of Object.keys(IDENTITY) as FunctionName[]) {
      if (!IDENTITY[fn].test(members)) continue;
      const scope = scopeOf(tree, r);
      if (r.file.dir !== IAM_MODULE_DIR) {
        problems.push(`${where(r)}: grants to the ${fn} identity outside ${IAM_MODULE_DIR}`);
        continue;
      }
      if (!scope) {
        problems.push(`${where(r)}: ${r.type} is not a scope the ${fn} identity may be granted on`);
        continue;
      }
      const permissions = customRolePermissions(tree, r);
      if (!permissions) {
        problems.push(`${where(r)}: the ${fn} identity holds ${text(r.body.role)}; runtime identities hold custom roles only`);
        continue;
      }
      permissions.forEach((p) => granted[fn][scope].add(p));
    }
  }
  return { granted, problems };
}

/**
 * Every mismatch between the manifest and Terraform: a call whose permission is not granted at
 * its scope, a permission granted that no call needs, or a grant of a refused shape.
 */
export function compareManifest(manifest: Readonly<Record<FunctionName, readonly GoogleCall[]>>, tree: TfTree): string[] {
  const { granted, problems } = grantsToRuntimeIdentities(tree);
  for (const fn of Object.keys(manifest) as FunctionName[]) {
    const needed = permissionsByScope(manifest[fn]);
    for (const scope of Object.keys(needed) as Scope[]) {
      for (const p of needed[scope]) {
        if (!granted[fn][scope].has(p)) {
          const calls = manifest[fn].filter((c) => c.permission === p && c.on === scope).map((c) => c.method);
          problems.push(`${fn}: ${p} on ${scope} is needed by ${calls.join(', ')} but not granted`);
        }
      }
      for (const p of granted[fn][scope]) {
        if (!needed[scope].includes(p)) problems.push(`${fn}: ${p} is granted on ${scope} but no call in the manifest needs it`);
      }
    }
  }
  return problems;
}
