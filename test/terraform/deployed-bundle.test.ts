/**
 * What the example deploys is the bundle `npm run bundle` builds: each function's storage object is
 * the archive of its `*_source_dir`, the pipeline points those at `dist/bundle/<fn>`, and the
 * variables refuse any directory that is not a bundle (checked by Terraform itself where it is
 * installed: the variable blocks alone need no provider).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bundleFunction } from '../../scripts/bundle/build-bundle.js';
import type { Body, TfTree } from './lib/hcl-tree.js';
import { loadTree, resources, text } from './lib/hcl-tree.js';

const TERRAFORM = fileURLToPath(new URL('../../terraform', import.meta.url));
const EXAMPLE = join(TERRAFORM, 'examples/complete');
const CLOUDBUILD = fileURLToPath(new URL('../../cloudbuild.yaml', import.meta.url));
const FUNCTIONS = ['token', 'rotate'] as const;

const hasTerraform = spawnSync('terraform', ['version'], { stdio: 'ignore' }).status === 0;

/** The body of `data "type" "name"` in the example. */
function dataSource(tree: TfTree, type: string, name: string): Body {
  for (const file of tree.files.filter((f) => f.dir === 'examples/complete')) {
    const found = (file.json.data as Record<string, Record<string, Body[]>> | undefined)?.[type]?.[name];
    if (found) return found[0];
  }
  throw new Error(`data "${type}" "${name}" not found`);
}

/** The body of `module "name"` in the example. */
function moduleCall(tree: TfTree, name: string): Body {
  for (const file of tree.files.filter((f) => f.dir === 'examples/complete')) {
    const found = (file.json.module as Record<string, Body[]> | undefined)?.[name];
    if (found) return found[0];
  }
  throw new Error(`module "${name}" not found`);
}

describe('the deployed function sources', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(TERRAFORM);
  });

  it.each([
    ['token', 'token_vendor'],
    ['rotate', 'rotation'],
  ])('%s: the function is built from the archive of var.%s_source_dir', (fn, module) => {
    expect(text(dataSource(tree, 'archive_file', fn).source_dir)).toBe(`\${var.${fn}_source_dir}`);
    const object = resources(tree, 'google_storage_bucket_object').find((r) => r.name === fn)!;
    expect(text(object.body.source)).toBe(`\${data.archive_file.${fn}.output_path}`);
    expect(text(object.body.name)).toContain(`\${data.archive_file.${fn}.output_sha256}`);
    expect(text(moduleCall(tree, module).source_object)).toBe(`\${google_storage_bucket_object.${fn}.name}`);
  });

  it('the pipeline bundles before it plans, and plans with the bundle directories', () => {
    const steps = (parse(readFileSync(CLOUDBUILD, 'utf8')) as { steps: { id: string; args?: string[] }[] })
      .steps;
    const at = (id: string) => steps.findIndex((s) => s.id === id);
    expect(steps[at('package')].args?.join(' ')).toMatch(/^-euc npm run bundle\n/);
    expect(at('package')).toBeLessThan(at('terraform-plan'));
    const plan = steps[at('terraform-plan')].args ?? [];
    for (const fn of FUNCTIONS) expect(plan).toContain(`-var=${fn}_source_dir=/workspace/dist/bundle/${fn}`);
  });

  it('the tfvars example points at the bundle directories', () => {
    const example = readFileSync(join(EXAMPLE, 'terraform.tfvars.example'), 'utf8');
    for (const fn of FUNCTIONS) expect(example).toMatch(new RegExp(`${fn}_source_dir\\s+= "[./]*/dist/bundle/${fn}"`));
  });
});

describe.skipIf(!hasTerraform)('the source-dir variables, validated by terraform', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-tf-bundle-'));
  const bundles = join(dir, 'bundles');

  beforeAll(async () => {
    // The two variable blocks, verbatim, in a root of their own (no provider, so nothing to download).
    const variables = readFileSync(join(EXAMPLE, 'variables.tf'), 'utf8');
    const blocks = FUNCTIONS.map((fn) => {
      const match = new RegExp(`^variable "${fn}_source_dir" \\{[^]*?^\\}$`, 'm').exec(variables);
      if (!match) throw new Error(`variable ${fn}_source_dir not found`);
      return match[0];
    });
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'root', 'main.tf'), `${blocks.join('\n\n')}\n`);
    execFileSync('terraform', ['init', '-input=false', '-backend=false'], { cwd: join(dir, 'root'), stdio: 'ignore' });
    await Promise.all(FUNCTIONS.map((fn) => bundleFunction(fn, bundles)));
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const plan = (vars: Record<string, string>) => {
    const result = spawnSync(
      'terraform',
      ['plan', '-input=false', '-no-color', ...Object.entries(vars).map(([k, v]) => `-var=${k}=${v}`)],
      { cwd: join(dir, 'root'), encoding: 'utf8' },
    );
    return { status: result.status, output: `${result.stdout}${result.stderr}`.replace(/\s+/g, ' ') };
  };

  it('accept the bundles npm run bundle builds', () => {
    const result = plan({ token_source_dir: join(bundles, 'token'), rotate_source_dir: join(bundles, 'rotate') });
    expect(result).toMatchObject({ status: 0 });
  });

  it.each([
    ['the repository itself', () => fileURLToPath(new URL('../..', import.meta.url))],
    ['a directory without a package.json', () => join(dir, 'root')],
    [
      'a bundle whose package.json lists another dependency',
      () => {
        const copy = join(dir, 'extra-dependency');
        cpSync(join(bundles, 'token'), copy, { recursive: true });
        const pkg = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as { dependencies: object };
        pkg.dependencies = { ...pkg.dependencies, zod: '4.0.0' };
        writeFileSync(join(copy, 'package.json'), JSON.stringify(pkg));
        return copy;
      },
    ],
    [
      'the packaged tsc output the pipeline used to deploy (main dist/functions/token/index.js)',
      () => {
        const copy = join(dir, 'tsc-package');
        cpSync(join(bundles, 'token'), copy, { recursive: true });
        const pkg = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as { main: string };
        pkg.main = 'dist/functions/token/index.js';
        writeFileSync(join(copy, 'package.json'), JSON.stringify(pkg));
        return copy;
      },
    ],
  ])('refuse %s', (_what, source) => {
    const result = plan({ token_source_dir: source(), rotate_source_dir: join(bundles, 'rotate') });
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('token_source_dir must be the bundle directory built by `npm run bundle`');
  });
});
