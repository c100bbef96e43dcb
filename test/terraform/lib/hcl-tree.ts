/**
 * Loads Terraform HCL (from disk or from in-memory snippets) as hcl2json JSON, and walks it.
 * No provider is needed: the policy tests judge the configuration as written.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { parse } from '@cdktf/hcl2json';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Body = Record<string, Json>;

export interface TfFile {
  /** Path relative to the tree root, POSIX separators, e.g. `modules/iam/main.tf`. */
  readonly path: string;
  /** Directory of the file relative to the root (a module or example). */
  readonly dir: string;
  readonly json: Body;
}

export interface TfTree {
  readonly files: readonly TfFile[];
  /** Every file name (any extension), by directory relative to the root (`.` for the root). */
  readonly dirs: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface TfResource {
  readonly file: TfFile;
  readonly type: string;
  readonly name: string;
  readonly body: Body;
}

/** A rule's finding: which rule, where, and what is wrong. */
export interface Violation {
  readonly rule: string;
  readonly where: string;
  readonly message: string;
}

/** Builds a tree from `{ 'modules/x/main.tf': 'hcl text', 'modules/x/README.md': '' }`. */
export async function treeFromSources(sources: Readonly<Record<string, string>>): Promise<TfTree> {
  const files: TfFile[] = [];
  const dirs = new Map<string, Set<string>>();
  for (const [path, text] of Object.entries(sources)) {
    const dir = posix.dirname(path);
    if (!dirs.has(dir)) dirs.set(dir, new Set());
    dirs.get(dir)!.add(posix.basename(path));
    if (path.endsWith('.tf')) files.push({ path, dir, json: (await parse(path, text)) as Body });
  }
  return { files, dirs };
}

/** Reads every file under `root` (skipping `.terraform` and `.build`) into a tree. */
export async function loadTree(root: string): Promise<TfTree> {
  const sources: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name === '.terraform' || entry.name === '.build') continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else sources[relative(root, full).split(sep).join('/')] = entry.name.endsWith('.tf') ? await readFile(full, 'utf8') : '';
    }
  };
  await walk(root);
  return treeFromSources(sources);
}

const isBody = (value: Json | undefined): value is Body => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every `resource "type" "name"` in the tree, optionally of one type or matching a pattern. */
export function resources(tree: TfTree, type?: string | RegExp): TfResource[] {
  const found: TfResource[] = [];
  for (const file of tree.files) {
    const all = file.json.resource;
    if (!isBody(all)) continue;
    for (const [t, byName] of Object.entries(all)) {
      if (type !== undefined && (typeof type === 'string' ? t !== type : !type.test(t))) continue;
      if (!isBody(byName)) continue;
      for (const [name, bodies] of Object.entries(byName)) {
        for (const body of Array.isArray(bodies) ? bodies : []) if (isBody(body)) found.push({ file, type: t, name, body });
      }
    }
  }
  return found;
}

/** Nested blocks named `name` in a body, including the content of `dynamic "name"` blocks. */
export function blocks(body: Body, name: string): Body[] {
  const direct = body[name];
  const out: Body[] = Array.isArray(direct) ? direct.filter(isBody) : [];
  const dynamic = body.dynamic;
  if (isBody(dynamic)) {
    const dyn = dynamic[name];
    for (const d of Array.isArray(dyn) ? dyn.filter(isBody) : []) {
      const content = d.content;
      if (Array.isArray(content)) out.push(...content.filter(isBody));
    }
  }
  return out;
}

/** The blocks at a path of block names, e.g. `path(body, 'http_target', 'oidc_token')`. */
export function path(body: Body, ...names: string[]): Body[] {
  return names.reduce<Body[]>((bodies, name) => bodies.flatMap((b) => blocks(b, name)), [body]);
}

/** `variable "name"` bodies of one directory. */
export function variables(tree: TfTree, dir: string): Map<string, Body> {
  const out = new Map<string, Body>();
  for (const file of tree.files.filter((f) => f.dir === dir)) {
    const vars = file.json.variable;
    if (!isBody(vars)) continue;
    for (const [name, bodies] of Object.entries(vars)) {
      const body = Array.isArray(bodies) ? bodies.find(isBody) : undefined;
      if (body) out.set(name, body);
    }
  }
  return out;
}

/** `locals` of one directory, merged. */
export function locals(tree: TfTree, dir: string): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const file of tree.files.filter((f) => f.dir === dir)) {
    for (const block of Array.isArray(file.json.locals) ? file.json.locals.filter(isBody) : []) {
      for (const [k, v] of Object.entries(block)) out.set(k, v);
    }
  }
  return out;
}

/** Text of a value: strings as they are, anything else as JSON (for pattern checks). */
export function text(value: Json | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Every string inside a value, recursively. */
export function strings(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (isBody(value)) return Object.values(value).flatMap(strings);
  return [];
}

/**
 * The string list a value stands for: a literal list, or an expression whose `local.X`
 * references are resolved within `dir` and whose quoted literals are collected.
 */
export function resolveStringList(tree: TfTree, dir: string, value: Json | undefined, depth = 0): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => resolveStringList(tree, dir, v, depth + 1));
  if (typeof value !== 'string' || depth > 8) return [];
  if (!value.startsWith('${')) return [value];
  const out = [...value.matchAll(/"([^"$]*)"/g)].map((m) => m[1]);
  const defs = locals(tree, dir);
  for (const m of value.matchAll(/\blocal\.([A-Za-z0-9_]+)/g)) out.push(...resolveStringList(tree, dir, defs.get(m[1]), depth + 1));
  return out;
}

export const where = (r: TfResource): string => `${r.file.path}: ${r.type}.${r.name}`;
