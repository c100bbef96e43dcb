/** Policy rule on the functions' Node.js runtime: only runtimes Google still lets us deploy. */
import type { TfTree, Violation } from './hcl-tree.js';
import { blocks, resources, text, variables, where } from './hcl-tree.js';

/**
 * Runtimes a function may be created or updated with. Google's schedule: nodejs20 decommissioned
 * 2026-10-30; nodejs22 deprecated from 2027-04-30; nodejs24 supported until 2028-10-31.
 */
export const SUPPORTED_RUNTIMES: readonly string[] = ['nodejs22', 'nodejs24'];
/** The runtime functions deploy on unless told otherwise: the one we build and test on. */
export const DEFAULT_RUNTIME = 'nodejs24';

/**
 * Every function's `build_config.runtime` is a supported literal, or a variable whose default is
 * {@link DEFAULT_RUNTIME} and whose validation allows supported runtimes only.
 */
export function functionsOnSupportedRuntime(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  const fail = (whereText: string, message: string) => out.push({ rule: 'functions-supported-runtime', where: whereText, message });
  for (const r of resources(tree, 'google_cloudfunctions2_function')) {
    const value = text(blocks(r.body, 'build_config')[0]?.runtime);
    const ref = /^\$\{var\.([A-Za-z0-9_]+)\}$/.exec(value);
    if (!ref) {
      if (!SUPPORTED_RUNTIMES.includes(value)) fail(where(r), `runtime ${value || '(unset)'} is not one of ${SUPPORTED_RUNTIMES.join(', ')}`);
      continue;
    }
    const variable = variables(tree, r.file.dir).get(ref[1]);
    const name = `${r.file.dir}: var.${ref[1]}`;
    if (!variable) {
      fail(name, 'runtime variable is not declared');
      continue;
    }
    if (text(variable.default) !== DEFAULT_RUNTIME) fail(name, `default ${text(variable.default) || '(none)'} is not ${DEFAULT_RUNTIME}`);
    const allowed = blocks(variable, 'validation').flatMap((v) => [...text(v.condition).matchAll(/"(nodejs\d+)"/g)].map((m) => m[1]));
    if (allowed.length === 0) fail(name, 'no validation listing the allowed runtimes');
    const unsupported = allowed.filter((a) => !SUPPORTED_RUNTIMES.includes(a));
    if (unsupported.length > 0) fail(name, `validation allows ${unsupported.join(', ')}: only ${SUPPORTED_RUNTIMES.join(', ')} are deployable and tested`);
  }
  return out;
}
