/**
 * Bundles each Cloud Functions source with esbuild: one ESM file per function (tree-shaken, with a
 * linked source map) plus the package.json and package-lock.json the Node.js buildpack installs.
 * functions-framework stays external: its CLI (the buildpack's start command) loads the bundle,
 * and the function must register with that same copy of the framework.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { cjsDynamicImports } from './cjs-dynamic-imports.js';
import { prunedLockfile } from './prune-lockfile.js';
import { zodEnglishOnly } from './zod-english-only.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE_ROOT = join(ROOT, 'dist/bundle');

/** Deployed source directories: the entry module of each, and the targets it registers. */
export const BUNDLED_FUNCTIONS = {
  token: { entry: 'functions/token/deployed-entry.ts', targets: ['token'] },
  rotate: { entry: 'functions/rotate/deployed-entry.ts', targets: ['rotate', 'rotateOnEvent'] },
  consent: { entry: 'functions/consent/deployed-entry.ts', targets: ['consent'] },
} as const;
export type BundledFunction = keyof typeof BUNDLED_FUNCTIONS;

/**
 * Every module of a bundle ends in `.mjs`, the entry (`package.json` `main`) included. The
 * extension is what tells functions-framework's loader the entry is an ES module; for a `.js`
 * entry it imports `read-package-up` (with normalize-package-data, spdx-correct and their license
 * tables) to read the nearest package.json's `type`, ~45–60 ms of every cold start. See
 * docs/performance.md ("3a Cold start").
 */
export const MODULE_EXTENSION = '.mjs';
export const ENTRY_FILE = `index${MODULE_EXTENSION}`;

/** The deploy-time step that fills the bundle's compile cache (shared/compile-cache.ts). */
export const WARM_COMPILE_CACHE = 'warm-compile-cache.mjs';

/** Left to the buildpack's `npm ci`: the framework whose CLI serves the function. */
export const RUNTIME_DEPENDENCIES = ['@google-cloud/functions-framework'] as const;

// CommonJS code inside an ESM bundle (google-gax, grpc-js, protobufjs) still calls require() for
// Node built-ins and reads __dirname; ESM has neither, so the bundle defines them.
const BANNER = [
  "import { createRequire as __tvsCreateRequire } from 'node:module';",
  "import { dirname as __tvsDirname } from 'node:path';",
  "import { fileURLToPath as __tvsFileURLToPath } from 'node:url';",
  'const require = __tvsCreateRequire(import.meta.url);',
  'const __filename = __tvsFileURLToPath(import.meta.url);',
  'const __dirname = __tvsDirname(__filename);',
].join('\n');

interface RootPackage {
  version: string;
  engines: Record<string, string>;
}

export interface BundleResult {
  name: BundledFunction;
  /**
   * The directory to deploy: index.mjs and chunks/ with source maps, package.json (whose
   * `gcp-build` runs warm-compile-cache.mjs at deploy), package-lock.json.
   */
  dir: string;
  metafile: Metafile;
}

/** Builds `<outRoot>/<name>/` for one function; replaces what was there. */
export async function bundleFunction(
  name: BundledFunction,
  outRoot: string = BUNDLE_ROOT,
): Promise<BundleResult> {
  const dir = join(outRoot, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const { metafile } = await build({
    absWorkingDir: ROOT,
    entryPoints: { index: BUNDLED_FUNCTIONS[name].entry },
    outdir: dir,
    bundle: true,
    // What the code imports dynamically (the Google clients, gRPC, the audit entry builder) goes
    // into chunks/ that are read and compiled only when first used, after the server listens.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    outExtension: { '.js': MODULE_EXTENSION },
    plugins: [cjsDynamicImports(), zodEnglishOnly()],
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    external: [...RUNTIME_DEPENDENCIES],
    banner: { js: BANNER },
    sourcemap: 'linked',
    // Whitespace and syntax only: identifiers keep their names, so errors and classes named by
    // their constructor (`new.target.name`, jose's `this.constructor.name`) read as written
    // without esbuild's `keepNames`, whose `__name(fn, "…")` call on every function and class
    // definition cost cold start ~500 KB of allocations and ran again for every closure created
    // on the request path.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: false,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  writeFileSync(join(outRoot, `${name}.meta.json`), JSON.stringify(metafile));

  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as RootPackage;
  const lock = prunedLockfile(
    JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')),
    `tvs-${name}`,
    RUNTIME_DEPENDENCIES,
  );
  const pkg = {
    name: `tvs-${name}`,
    version: root.version,
    private: true,
    type: 'module',
    main: ENTRY_FILE,
    engines: root.engines,
    // The buildpack runs `gcp-build` after `npm ci`: it fills the bundle's compile cache.
    scripts: { 'gcp-build': `node ${WARM_COMPILE_CACHE}` },
    dependencies: lock.packages[''].dependencies,
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  copyFileSync(join(ROOT, 'scripts/bundle', WARM_COMPILE_CACHE), join(dir, WARM_COMPILE_CACHE));
  writeFileSync(
    join(dir, 'package-lock.json'),
    `${JSON.stringify({ ...lock, version: root.version }, null, 2)}\n`,
  );
  return { name, dir, metafile };
}

/** Builds every function's directory under `outRoot`. */
export async function bundleAll(outRoot: string = BUNDLE_ROOT): Promise<BundleResult[]> {
  const names = Object.keys(BUNDLED_FUNCTIONS) as BundledFunction[];
  return Promise.all(names.map((name) => bundleFunction(name, outRoot)));
}
