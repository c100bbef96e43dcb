/**
 * Terraform provider schemas read from the jsii assemblies of the prebuilt cdktf providers
 * (`@cdktf/provider-google` ships the google provider's schema as `.jsii`), and a checker that
 * judges every `resource`, `data` and `provider` block of a tree against them the way
 * `terraform validate` would: known type, known argument and block names where they stand
 * (literal and `dynamic`), required arguments and blocks present.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Body, Json, TfTree, Violation } from './hcl-tree.js';

export interface ArgumentSchema {
  readonly required: boolean;
  /** A list of objects can stand for the argument (a list of maps, or an untyped value). */
  readonly takesObjectList: boolean;
}

export interface NestedBlockSchema {
  readonly required: boolean;
  /** At most one such block (cdktf types it as a single struct, not a list). */
  readonly single: boolean;
  readonly schema: BlockSchema;
}

export interface BlockSchema {
  readonly arguments: ReadonlyMap<string, ArgumentSchema>;
  readonly blocks: ReadonlyMap<string, NestedBlockSchema>;
}

export interface ProviderSchema {
  /** Local name as Terraform implies it from a type prefix, e.g. `google`. */
  readonly name: string;
  /** Provider version the assembly was generated from, e.g. `6.50.0`. */
  readonly version: string;
  readonly provider: BlockSchema;
  readonly resources: ReadonlyMap<string, BlockSchema>;
  readonly dataSources: ReadonlyMap<string, BlockSchema>;
}

interface JsiiType {
  readonly kind: string;
  readonly base?: string;
  readonly datatype?: boolean;
  readonly docs?: JsiiDocs;
  readonly properties?: readonly { name: string; optional?: boolean; type: JsiiTypeRef; docs?: JsiiDocs }[];
  readonly initializer?: { parameters?: readonly { name: string; type: JsiiTypeRef }[] };
}
interface JsiiDocs {
  readonly summary?: string;
  readonly remarks?: string;
  readonly custom?: Record<string, string>;
}
interface JsiiTypeRef {
  readonly fqn?: string;
  readonly primitive?: string;
  readonly collection?: { kind: string; elementtype: JsiiTypeRef };
  readonly union?: { types: readonly JsiiTypeRef[] };
}

// cdktf documents every construct class as `Represents a {@link https://registry.terraform.io/providers/
// hashicorp/google/6.50.0/docs/resources/cloud_run_v2_service google_cloud_run_v2_service}`, and every
// config property with `{@link …#ingress CloudRunV2Service#ingress}`: the Terraform names, verbatim.
const TYPE_LINK = /\{@link https:\/\/registry\.terraform\.io\/providers\/\S+ ([a-z0-9_-]+)\}/;
const PROPERTY_LINK = /\{@link https:\/\/registry\.terraform\.io\/providers\/\S+#([A-Za-z0-9_]+) [A-Za-z0-9]+#\1\}/;

const docText = (docs: JsiiDocs | undefined): string =>
  [docs?.summary, docs?.remarks, ...Object.values(docs?.custom ?? {})].join('\n');

/**
 * The Terraform name of a jsii property. A few long docs lose the registry link; those names are
 * plain camelCase whose snake_case form is unambiguous. Digits and cdktf's `…Attribute` renames are
 * not, so the loader fails rather than guess.
 */
function terraformName(owner: string, property: { name: string; docs?: JsiiDocs }): string {
  const linked = PROPERTY_LINK.exec(docText(property.docs));
  if (linked) return linked[1];
  if (/^[a-z]+(?:[A-Z][a-z]+)*$/.test(property.name) && !property.name.endsWith('Attribute')) {
    return property.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  }
  throw new TypeError(`${owner}.${property.name}: no Terraform name in its docs and no unambiguous snake_case form`);
}

/** Reads the `.jsii` assembly of a prebuilt cdktf provider package and indexes its schema. */
export function loadProviderSchema(packageName: string): ProviderSchema {
  const packageJson = createRequire(import.meta.url).resolve(`${packageName}/package.json`);
  const meta = JSON.parse(readFileSync(packageJson, 'utf8')) as { cdktf: { provider: { version: string } } };
  const assembly = JSON.parse(readFileSync(join(dirname(packageJson), '.jsii'), 'utf8')) as {
    types: Record<string, JsiiType>;
  };
  const types = assembly.types;
  const built = new Map<string, BlockSchema>();

  const structOf = (ref: JsiiTypeRef): { fqn: string; single: boolean } | undefined => {
    if (ref.fqn !== undefined && types[ref.fqn]?.datatype === true) return { fqn: ref.fqn, single: true };
    if (ref.collection?.kind === 'array') {
      const inner = structOf(ref.collection.elementtype);
      return inner && { fqn: inner.fqn, single: false };
    }
    for (const member of ref.union?.types ?? []) {
      const inner = structOf(member);
      if (inner) return inner;
    }
    return undefined;
  };
  // hcl2json writes blocks as lists of objects: only a list of maps (or an untyped value) can be one.
  const holdsObjects = (ref: JsiiTypeRef): boolean =>
    ref.collection?.kind === 'map' || ref.primitive === 'any' || ref.primitive === 'json' || (ref.union?.types ?? []).some(holdsObjects);
  const takesObjectList = (ref: JsiiTypeRef): boolean =>
    ref.primitive === 'any' ||
    ref.primitive === 'json' ||
    (ref.collection?.kind === 'array' && holdsObjects(ref.collection.elementtype)) ||
    (ref.union?.types ?? []).some(takesObjectList);

  const block = (fqn: string): BlockSchema => {
    const cached = built.get(fqn);
    if (cached) return cached;
    const args = new Map<string, ArgumentSchema>();
    const blocks = new Map<string, NestedBlockSchema>();
    for (const property of types[fqn].properties ?? []) {
      const name = terraformName(fqn, property);
      const required = property.optional !== true;
      const struct = structOf(property.type);
      if (struct) blocks.set(name, { required, single: struct.single, schema: block(struct.fqn) });
      else args.set(name, { required, takesObjectList: takesObjectList(property.type) });
    }
    const schema = { arguments: args, blocks };
    built.set(fqn, schema);
    return schema;
  };

  let provider: { name: string; schema: BlockSchema } | undefined;
  const resources = new Map<string, BlockSchema>();
  const dataSources = new Map<string, BlockSchema>();
  for (const [fqn, type] of Object.entries(types)) {
    const kind = type.kind === 'class' ? type.base : undefined;
    if (kind !== 'cdktf.TerraformResource' && kind !== 'cdktf.TerraformDataSource' && kind !== 'cdktf.TerraformProvider') continue;
    const name = TYPE_LINK.exec(type.docs?.summary ?? '')?.[1];
    const config = type.initializer?.parameters?.find((p) => p.name === 'config')?.type.fqn;
    if (name === undefined || config === undefined) throw new TypeError(`${fqn}: no Terraform name or config struct`);
    if (kind === 'cdktf.TerraformProvider') provider = { name, schema: block(config) };
    else (kind === 'cdktf.TerraformResource' ? resources : dataSources).set(name, block(config));
  }
  if (!provider) throw new TypeError(`${packageName}: no provider class in its assembly`);
  return { name: provider.name, version: meta.cdktf.provider.version, provider: provider.schema, resources, dataSources };
}

const RULE = 'provider-schema';
const RESOURCE_META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection']);
const DATA_META = new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle']);
const PROVIDER_META = new Set(['alias', 'version']);
const RESOURCE_LIFECYCLE = new Set(['create_before_destroy', 'prevent_destroy', 'ignore_changes', 'replace_triggered_by', 'precondition', 'postcondition']);
const DATA_LIFECYCLE = new Set(['precondition', 'postcondition']);
const DYNAMIC = new Set(['for_each', 'iterator', 'labels', 'content']);

const isBody = (value: Json | undefined): value is Body => typeof value === 'object' && value !== null && !Array.isArray(value);
/** hcl2json writes blocks as a list of bodies; `x = […]` and `x = {…}` are arguments. */
const isBlockList = (value: Json | undefined): value is Body[] => Array.isArray(value) && value.length > 0 && value.every(isBody);
const bodies = (value: Json | undefined): Body[] => (Array.isArray(value) ? value.filter(isBody) : []);
const within = (at: readonly string[]): string => (at.length ? ` in ${at.join('.')}` : '');

/**
 * Checks a block body against its schema, recursing into literal and `dynamic` nested blocks.
 * `meta` names the meta-arguments Terraform itself handles at this level (checked by the caller).
 */
function checkBody(body: Body, schema: BlockSchema, at: readonly string[], meta: ReadonlySet<string>, report: (message: string) => void): void {
  const dynamic = isBody(body.dynamic) ? body.dynamic : {};
  for (const [key, value] of Object.entries(body)) {
    if (meta.has(key)) continue;
    if (key === 'dynamic') {
      for (const [name, list] of Object.entries(dynamic)) {
        const nested = schema.blocks.get(name);
        if (!nested) {
          report(`unsupported dynamic block "${name}"${within(at)}${schema.arguments.has(name) ? ` ("${name}" is an argument)` : ''}`);
          continue;
        }
        for (const d of bodies(list)) {
          for (const k of Object.keys(d)) if (!DYNAMIC.has(k)) report(`unsupported argument "${k}" in dynamic "${name}"${within(at)}`);
          if (!('for_each' in d)) report(`missing required argument "for_each" in dynamic "${name}"${within(at)}`);
          const content = bodies(d.content);
          if (content.length !== 1) report(`dynamic "${name}"${within(at)} needs exactly one content block`);
          for (const c of content) checkBody(c, nested.schema, [...at, name], new Set(), report);
        }
      }
      continue;
    }
    const argument = schema.arguments.get(key);
    if (argument) {
      if (isBlockList(value) && !argument.takesObjectList) report(`"${key}"${within(at)} is an argument, not a block`);
      continue;
    }
    const nested = schema.blocks.get(key);
    if (nested) {
      if (!isBlockList(value)) report(`"${key}"${within(at)} is a block, not an argument`);
      else if (nested.single && value.length > 1) report(`too many "${key}" blocks${within(at)} (at most one)`);
      for (const b of bodies(value)) checkBody(b, nested.schema, [...at, key], new Set(), report);
      continue;
    }
    report(`unsupported ${isBlockList(value) ? 'block type' : 'argument'} "${key}"${within(at)}`);
  }
  for (const [name, argument] of schema.arguments) {
    if (argument.required && !(name in body)) report(`missing required argument "${name}"${within(at)}`);
  }
  for (const [name, nested] of schema.blocks) {
    if (nested.required && !(name in body) && !(name in dynamic)) report(`missing required block "${name}"${within(at)}`);
  }
}

/** The outcome of a schema check: every block judged, every block left unjudged (and why), and what is wrong. */
export interface SchemaCheck {
  readonly checked: readonly string[];
  readonly unchecked: readonly string[];
  readonly violations: readonly Violation[];
}

/**
 * Judges every `resource`, `data` and `provider` block of a tree against the provider schemas.
 * A block whose provider has no schema is a violation unless `unchecked` names that provider with a
 * reason; it is then listed, never skipped silently. `provisioner` and `connection` bodies are not
 * judged (they belong to Terraform, not the provider).
 */
export function checkAgainstSchemas(
  tree: TfTree,
  schemas: readonly ProviderSchema[],
  unchecked: Readonly<Record<string, string>> = {},
): SchemaCheck {
  const byName = new Map(schemas.map((s) => [s.name, s]));
  const checked: string[] = [];
  const skipped: string[] = [];
  const violations: Violation[] = [];

  const judge = (where: string, providerName: string, pick: (s: ProviderSchema) => BlockSchema | undefined, kind: string, body: Body, meta: ReadonlySet<string>, lifecycle?: ReadonlySet<string>): void => {
    const report = (message: string): void => void violations.push({ rule: RULE, where, message });
    const provider = byName.get(providerName);
    if (!provider) {
      if (providerName in unchecked) skipped.push(`${where} (provider ${providerName}: ${unchecked[providerName]})`);
      else report(`no schema for provider "${providerName}" and not listed as unchecked`);
      return;
    }
    checked.push(where);
    const schema = pick(provider);
    if (!schema) return report(`unknown ${kind} for provider ${provider.name} ${provider.version}`);
    checkBody(body, schema, [], meta, report);
    for (const l of lifecycle ? bodies(body.lifecycle) : []) {
      for (const key of Object.keys(l)) if (!lifecycle!.has(key)) report(`unsupported argument "${key}" in lifecycle`);
    }
  };
  const providerOf = (where: string, type: string, body: Body): string => {
    if (body.provider === undefined) return type.split('_')[0];
    const ref = /^\$\{([A-Za-z][A-Za-z0-9_-]*)(?:\.[A-Za-z0-9_-]+)?\}$/.exec(typeof body.provider === 'string' ? body.provider : '');
    if (!ref) violations.push({ rule: RULE, where, message: `provider ${JSON.stringify(body.provider)} is not a provider reference` });
    return ref ? ref[1] : type.split('_')[0];
  };

  for (const file of tree.files) {
    for (const [section, prefix, meta, lifecycle] of [
      ['resource', '', RESOURCE_META, RESOURCE_LIFECYCLE],
      ['data', 'data.', DATA_META, DATA_LIFECYCLE],
    ] as const) {
      const all = file.json[section];
      for (const [type, byLabel] of Object.entries(isBody(all) ? all : {})) {
        for (const [label, list] of Object.entries(isBody(byLabel) ? byLabel : {})) {
          for (const body of bodies(list)) {
            const where = `${file.path}: ${prefix}${type}.${label}`;
            const pick = (s: ProviderSchema): BlockSchema | undefined => (section === 'resource' ? s.resources : s.dataSources).get(type);
            const kind = `${section === 'resource' ? 'resource' : 'data source'} type "${type}"`;
            judge(where, providerOf(where, type, body), pick, kind, body, meta, lifecycle);
          }
        }
      }
    }
    const providers = file.json.provider;
    for (const [name, list] of Object.entries(isBody(providers) ? providers : {})) {
      for (const body of bodies(list)) judge(`${file.path}: provider.${name}`, name, (s) => s.provider, 'provider', body, PROVIDER_META);
    }
  }
  return { checked, unchecked: skipped, violations };
}

const compareVersions = (a: string, b: string): number => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

/** Whether `version` meets a Terraform version constraint such as `>= 6.14.0, < 8.0.0` or `~> 6.14`. */
export function satisfies(version: string, constraint: string): boolean {
  return constraint.split(',').every((part) => {
    const m = /^\s*(>=|<=|!=|~>|>|<|=)?\s*(\d+(?:\.\d+)*)\s*$/.exec(part);
    if (!m) throw new TypeError(`unsupported version constraint "${part.trim()}"`);
    const [, op = '=', bound] = m;
    const c = compareVersions(version, bound);
    if (op === '~>') {
      const parts = bound.split('.').map(Number);
      const upper = parts.length > 1 ? [...parts.slice(0, -2), parts[parts.length - 2] + 1].join('.') : `${parts[0] + 1}`;
      return c >= 0 && compareVersions(version, upper) < 0;
    }
    return { '>=': c >= 0, '<=': c <= 0, '!=': c !== 0, '>': c > 0, '<': c < 0, '=': c === 0 }[op]!;
  });
}
