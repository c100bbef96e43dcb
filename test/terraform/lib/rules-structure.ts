/** Policy rules on the shape of the Terraform: module layout, typed variables, pinned versions. */
import type { Body, TfTree, Violation } from './hcl-tree.js';
import { blocks, text, variables } from './hcl-tree.js';

const MODULE_FILES = ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf', 'README.md'];

/** Every module and example directory holds main, variables, outputs, versions and a README. */
export function moduleLayout(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const [dir, names] of tree.dirs) {
    if (!/^(modules|examples)\/[^/]+$/.test(dir)) continue;
    for (const required of MODULE_FILES) {
      if (!names.has(required)) out.push({ rule: 'module-layout', where: dir, message: `missing ${required}` });
    }
  }
  return out;
}

/** Every variable has a type and a description. */
export function variablesTypedAndDescribed(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const dir of tree.dirs.keys()) {
    for (const [name, body] of variables(tree, dir)) {
      for (const field of ['type', 'description']) {
        if (body[field] === undefined || text(body[field]).trim() === '') {
          out.push({ rule: 'variables-typed-described', where: `${dir}: var.${name}`, message: `has no ${field}` });
        }
      }
    }
  }
  return out;
}

/** Variables holding enums, names and identities must be validated. */
const MUST_VALIDATE = /(^|_)(project_id|project_number|region|name_prefix|ingress_settings|runtime|service_account_email|function_name|managed_credentials|invoker_members|caller_identities|exposure|domain)$/;

/** Enum, name-format and identity variables carry `validation` blocks. */
export function variablesValidated(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const dir of tree.dirs.keys()) {
    for (const [name, body] of variables(tree, dir)) {
      if (MUST_VALIDATE.test(name) && blocks(body, 'validation').length === 0) {
        out.push({ rule: 'variables-validated', where: `${dir}: var.${name}`, message: 'enum / name-format variable without a validation block' });
      }
    }
  }
  return out;
}

const bounded = (constraint: string): boolean => /(>=|~>)\s*\d/.test(constraint) && /(<\s*\d|~>)/.test(constraint);

/** `required_version` and every provider version have both a lower and an upper bound. */
export function versionsPinned(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const [dir, names] of tree.dirs) {
    if (!names.has('versions.tf')) continue;
    const file = tree.files.find((f) => f.path === `${dir}/versions.tf`);
    const terraform: Body | undefined = file ? blocks(file.json, 'terraform')[0] : undefined;
    if (!terraform || !bounded(text(terraform.required_version))) {
      out.push({ rule: 'versions-pinned', where: `${dir}/versions.tf`, message: 'required_version needs a lower and an upper bound' });
    }
    const providers = terraform ? blocks(terraform, 'required_providers')[0] ?? {} : {};
    if (!('google' in providers)) out.push({ rule: 'versions-pinned', where: `${dir}/versions.tf`, message: 'google provider not declared' });
    for (const [name, spec] of Object.entries(providers)) {
      const version = typeof spec === 'object' && spec !== null && !Array.isArray(spec) ? text(spec.version) : '';
      if (!bounded(version)) out.push({ rule: 'versions-pinned', where: `${dir}/versions.tf`, message: `provider ${name} version "${version}" is not bounded` });
    }
  }
  return out;
}
