/**
 * The `filter` of each instance of a resource in a module, rendered with given variables: a plain
 * resource has one (keyed by its name); a `for_each = local.M` resource whose filter is
 * `local.F[each.key]` has one per key of the map M, each F[key] rendered as a template. Other
 * shapes throw, so a filter written in a way this helper does not know fails its test.
 */
import { evaluateJson, moduleScope, type HclValue } from './hcl-eval.js';
import { locals, type Json, type TfResource, type TfTree } from './hcl-tree.js';

const isMap = (v: Json | undefined): v is { [key: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);

export function instanceFilters(tree: TfTree, r: TfResource, vars: Readonly<Record<string, HclValue>>): Record<string, string> {
  const scope = moduleScope(tree, r.file.dir, vars);
  const asString = (v: HclValue, at: string): string => {
    if (typeof v !== 'string') throw new Error(`${at}: the filter is not a string`);
    return v;
  };
  if (r.body.for_each === undefined) return { [r.name]: asString(evaluateJson(r.body.filter, scope), r.name) };
  const forEach = /^\$\{local\.(\w+)\}$/.exec(typeof r.body.for_each === 'string' ? r.body.for_each : '');
  const filter = /^\$\{local\.(\w+)\[each\.key\]\}$/.exec(typeof r.body.filter === 'string' ? r.body.filter : '');
  if (!forEach || !filter) throw new Error(`${r.type}.${r.name}: for_each/filter shape not supported`);
  const defs = locals(tree, r.file.dir);
  const instances = defs.get(forEach[1]);
  const filters = defs.get(filter[1]);
  if (!isMap(instances) || !isMap(filters)) throw new Error(`${r.type}.${r.name}: local.${forEach[1]} / local.${filter[1]} are not maps`);
  const out: Record<string, string> = {};
  for (const key of Object.keys(instances)) {
    if (filters[key] === undefined) throw new Error(`${r.type}.${r.name}["${key}"]: no local.${filter[1]}["${key}"]`);
    out[key] = asString(evaluateJson(filters[key], scope), `${r.name}["${key}"]`);
  }
  return out;
}
