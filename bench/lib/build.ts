/**
 * Compiles what the bench serves: the product with `tsc -p tsconfig.build.json` (= `npm run build`,
 * into `dist/`), the deployed bundles (= `npm run bundle`, into `dist/bundle/`) and the bench's
 * fixtures and children (transpiled into `dist/bench/`), so the token function and the
 * hello-world baseline are all plain JavaScript served by the same functions-framework binary.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { WARM_COMPILE_CACHE } from '../../scripts/bundle/build-bundle.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TOKEN_SOURCE = join(ROOT, 'dist/functions/token/index.js');
/** The token function as deployed: its bundle directory (package.json `main` = the bundle). */
export const TOKEN_BUNDLE_SOURCE = join(ROOT, 'dist/bundle/token');
export const FIXTURES_OUT = join(ROOT, 'dist/bench/fixtures');
export const CHILDREN_OUT = join(ROOT, 'dist/bench/children');
/** The `functions-framework` bin (the package's exports hide it, so resolve it next to the main entry). */
export const FUNCTIONS_FRAMEWORK_MAIN = join(
  dirname(createRequire(import.meta.url).resolve('@google-cloud/functions-framework')),
  'main.js',
);

/** Builds `dist/` (incrementally); type errors are reported but do not stop the bench when the output exists. */
export function buildAll(log: (line: string) => void): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(
      process.execPath,
      [
        tsc,
        '-p',
        join(ROOT, 'tsconfig.build.json'),
        '--incremental',
        '--tsBuildInfoFile',
        join(ROOT, 'dist/.bench.tsbuildinfo'),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (err) {
    const output = String((err as { stdout?: Buffer }).stdout ?? '').trim();
    if (!existsSync(TOKEN_SOURCE)) throw new Error(`npm run build failed:\n${output}`, { cause: err });
    log(
      `warning: tsc reported errors (output was still emitted):\n${output.split('\n').slice(0, 10).join('\n')}`,
    );
  }
  // The deployed artefact, built by the very script the pipeline runs.
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bundle/index.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The bundle's deploy-time `gcp-build` step (its compile cache), as the buildpack runs it: in the
  // bundle's directory, with the Node that serves it, without the bench's own NODE_OPTIONS.
  const { NODE_OPTIONS: _benchLoaders, ...buildEnv } = process.env;
  execFileSync(process.execPath, [WARM_COMPILE_CACHE], {
    cwd: TOKEN_BUNDLE_SOURCE,
    env: buildEnv,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Fixtures (baseline functions) and children (measured processes) run as compiled JS too.
  for (const folder of ['fixtures', 'children']) {
    const source = join(ROOT, 'bench', folder);
    const out = join(ROOT, 'dist/bench', folder);
    mkdirSync(out, { recursive: true });
    for (const file of readdirSync(source).filter((f) => f.endsWith('.ts'))) {
      const { outputText } = ts.transpileModule(readFileSync(join(source, file), 'utf8'), {
        compilerOptions: {
          module: ts.ModuleKind.ESNext,
          target: ts.ScriptTarget.ES2022,
          verbatimModuleSyntax: true,
        },
        fileName: file,
      });
      writeFileSync(join(out, file.replace(/\.ts$/, '.js')), outputText);
      // The same hello-world as an `.mjs` entry, as the bundles are deployed (figure 3f).
      if (folder === 'fixtures' && file === 'hello-function.ts')
        writeFileSync(join(out, 'hello-function.mjs'), outputText);
    }
  }
}
