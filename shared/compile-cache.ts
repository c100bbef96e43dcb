/**
 * Node's on-disk compile cache (V8 code cache, `module.enableCompileCache`, Node ≥ 22.1) for a
 * deployed bundle. The bundle's `gcp-build` script, which the Cloud Run functions Node.js buildpack
 * runs at deploy, fills `<bundle>/.compile-cache` by compiling the bundle once
 * (scripts/bundle/warm-compile-cache.mjs); every instance then starts from that cache instead of
 * parsing and compiling the bundle again. On a Node without the API this is a no-op; a cache
 * written by another Node or V8 version is rejected by Node's own checks and the code compiles
 * from source as it would without it.
 */
import nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';

/** The cache directory's name, next to the bundle's entry. */
export const COMPILE_CACHE_DIR = '.compile-cache';

type EnableCompileCache = (directory: string) => unknown;

/** Turns the compile cache on for modules loaded from now on; `entryUrl` is the bundle entry's `import.meta.url`. */
export function enableBundleCompileCache(entryUrl: string): void {
  const enable = (nodeModule as unknown as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (typeof enable !== 'function') return;
  enable(fileURLToPath(new URL(`./${COMPILE_CACHE_DIR}/`, entryUrl)));
}
