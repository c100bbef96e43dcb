/**
 * The token function's runtime environment (runtime-environment.json: V8 heap caps, malloc arenas)
 * is deployed with it, and the instance memory must hold the heap cap plus the rest of the process
 * (checked by Terraform itself where it is installed: the variable block alone needs no provider).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTree, locals, resources, text, type TfTree } from './lib/hcl-tree.js';

const TERRAFORM = fileURLToPath(new URL('../../terraform', import.meta.url));
const MODULE = join(TERRAFORM, 'modules/token-vendor');
const hasTerraform = spawnSync('terraform', ['version'], { stdio: 'ignore' }).status === 0;

describe('the token function runtime environment', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(TERRAFORM);
  });

  it('merges runtime-environment.json into the environment variables of the token function', () => {
    const fn = resources(tree, 'google_cloudfunctions2_function').find((r) => r.name === 'token')!;
    const defs = locals(tree, fn.file.dir);
    expect(text(defs.get('runtime_environment'))).toBe(
      '${jsondecode(file("${path.module}/runtime-environment.json"))}',
    );
    expect(text(defs.get('environment'))).toMatch(/^\$\{merge\(\s*local\.runtime_environment,/);
  });

  it('holds only string values, none of them a TVS_* setting of the service', () => {
    const env = JSON.parse(readFileSync(join(MODULE, 'runtime-environment.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(Object.keys(env).sort()).toEqual(['MALLOC_ARENA_MAX', 'NODE_OPTIONS']);
    for (const value of Object.values(env)) expect(typeof value).toBe('string');
  });
});

describe.skipIf(!hasTerraform)('available_memory, validated by terraform', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-tf-memory-'));

  beforeAll(() => {
    // The variable block, verbatim, next to the JSON file it reads.
    const variables = readFileSync(join(MODULE, 'variables.tf'), 'utf8');
    const block = /^variable "available_memory" \{[^]*?^\}$/m.exec(variables);
    if (!block) throw new Error('variable available_memory not found');
    writeFileSync(join(dir, 'main.tf'), `${block[0]}\n`);
    copyFileSync(join(MODULE, 'runtime-environment.json'), join(dir, 'runtime-environment.json'));
    execFileSync('terraform', ['init', '-input=false', '-backend=false'], { cwd: dir, stdio: 'ignore' });
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const plan = (memory: string) => {
    const result = spawnSync('terraform', ['plan', '-input=false', '-no-color', `-var=available_memory=${memory}`], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}`.replace(/\s+/g, ' ') };
  };

  it.each(['512M', '384Mi', '1Gi', '2G'])('accepts %s (the heap cap of 192 MiB plus 192 MiB fit)', (memory) => {
    expect(plan(memory)).toMatchObject({ status: 0 });
  });

  it.each(['256M', '400M', '383Mi'])('refuses %s (less than the heap cap plus 192 MiB)', (memory) => {
    const result = plan(memory);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain(
      'available_memory must hold the V8 heap cap set in runtime-environment.json plus 192 MiB',
    );
  });
});
