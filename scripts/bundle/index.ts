/**
 * `npm run bundle`: builds the deployable source directory of each function,
 * `dist/bundle/token/`, `dist/bundle/rotate/` and `dist/bundle/consent/` (index.mjs and chunks/ with source maps, package.json,
 * package-lock.json); `dist/bundle/<function>.meta.json` says what went into each bundle.
 */
import { statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bundleAll, ENTRY_FILE, ROOT } from './build-bundle.js';

const started = performance.now();
for (const { dir } of await bundleAll()) {
  const kib = (file: string) => (statSync(join(dir, file)).size / 1024).toFixed(0);
  console.log(
    `${relative(ROOT, dir)}/: ${ENTRY_FILE} ${kib(ENTRY_FILE)} KiB, ${ENTRY_FILE}.map ${kib(`${ENTRY_FILE}.map`)} KiB`,
  );
}
console.log(`bundled in ${(performance.now() - started).toFixed(0)} ms`);
