/**
 * The deployment modes: a directory that declares an `exposure` variable (`token_exposure` in the
 * example) deploys differently in `internal` and `public` mode. These helpers evaluate the HCL
 * in one mode: which resources exist (`count`), and what an expression is.
 */
import type { HclScope, HclValue } from './hcl-eval.js';
import { evaluateJson, moduleScope } from './hcl-eval.js';
import type { Json, TfResource, TfTree } from './hcl-tree.js';
import { locals, resources, text, variables } from './hcl-tree.js';

export const MODES = ['internal', 'public'] as const;
export type Mode = (typeof MODES)[number];

/** A name such as `exposure` or `token_exposure`: the mode variable of its directory. */
export const EXPOSURE_VARIABLE = /^(?:(.+)_)?exposure$/;

/** What each mode needs besides the mode itself (public mode requires a domain). */
export const SAMPLE_DOMAIN = 'tokens.example.com';

/**
 * Values for required variables (no default) that expressions commonly reach, so that a mode can be
 * evaluated without a tfvars file.
 */
const SAMPLE_VARIABLES: Readonly<Record<string, HclValue>> = {
  project_id: 'acme-tokens',
  region: 'europe-west1',
};

export interface ModeVariables {
  /** The mode variable, e.g. `exposure`. */
  readonly exposure: string;
  /** Its domain variable, e.g. `domain` (same prefix). */
  readonly domain: string;
}

/** The mode and domain variable names of `dir`, if it declares a mode variable. */
export function modeVariables(tree: TfTree, dir: string): ModeVariables | undefined {
  for (const name of variables(tree, dir).keys()) {
    const m = EXPOSURE_VARIABLE.exec(name);
    if (m) return { exposure: name, domain: m[1] ? `${m[1]}_domain` : 'domain' };
  }
  return undefined;
}

/** Directories that declare a mode variable. */
export function modeDirs(tree: TfTree): string[] {
  return [...tree.dirs.keys()].filter((dir) => modeVariables(tree, dir) !== undefined);
}

/**
 * A scope for `dir` in `mode`: the mode variable set (and a sample domain in public mode), sample
 * values for required variables, defaults for the rest, then `given`. A directory without a mode
 * variable gets its defaults (it is the same in both modes).
 */
export function modeScope(tree: TfTree, dir: string, mode: Mode, given: Readonly<Record<string, HclValue>> = {}): HclScope {
  const names = modeVariables(tree, dir);
  const declared = variables(tree, dir);
  const samples = Object.fromEntries(Object.entries(SAMPLE_VARIABLES).filter(([name]) => declared.has(name)));
  const modeValues: Record<string, HclValue> = names ? { [names.exposure]: mode } : {};
  if (names && mode === 'public') modeValues[names.domain] = SAMPLE_DOMAIN;
  return moduleScope(tree, dir, { ...samples, ...modeValues, ...given });
}

/** Evaluates an hcl2json value in a scope; `undefined` when the evaluator cannot (e.g. a resource reference). */
export function tryEvaluate(value: Json | undefined, scope: HclScope): HclValue | undefined {
  if (value === undefined) return undefined;
  try {
    return evaluateJson(value, scope);
  } catch {
    return undefined;
  }
}

/**
 * How many instances of `r` exist in `mode`: its `count` evaluated, 1 without `count`, and
 * `undefined` when `count` cannot be evaluated or `for_each` decides (treated as present).
 */
export function instances(tree: TfTree, r: TfResource, mode: Mode): number | undefined {
  if (r.body.for_each !== undefined) return undefined;
  if (r.body.count === undefined) return 1;
  const n = tryEvaluate(r.body.count, modeScope(tree, r.file.dir, mode));
  return typeof n === 'number' ? n : undefined;
}

/** The resources that exist in `mode` (count not evaluating to 0), optionally of one type. */
export function deployed(tree: TfTree, mode: Mode, type?: string | RegExp): TfResource[] {
  return resources(tree, type).filter((r) => instances(tree, r, mode) !== 0);
}

/** The value of `local.name` in `dir` and `mode`, or `undefined` when it cannot be evaluated. */
export function localIn(tree: TfTree, dir: string, name: string, mode: Mode, given: Readonly<Record<string, HclValue>> = {}): HclValue | undefined {
  if (!locals(tree, dir).has(name)) return undefined;
  try {
    return modeScope(tree, dir, mode, given).local(name);
  } catch {
    return undefined;
  }
}

/** The name of the `X` in a reference `TYPE.X` (or `TYPE.X[0]`) inside a value's text, if any. */
export function referenced(value: Json | undefined, type: string): string | undefined {
  return new RegExp(`\\b${type}\\.([A-Za-z0-9_-]+)\\b`).exec(text(value))?.[1];
}
