/**
 * `npm run bundle`: builds the deployable source directory of each function,
 * `dist/bundle/token/`, `dist/bundle/rotate/` and `dist/bundle/consent/` (index.js, index.js.map, package.json,
 * package-lock.json); `dist/bundle/<function>.meta.json` says what went into each bundle.
 */
import { statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bundleAll, ROOT } from './build-bundle.js';

const started = performance.now();
for (const { dir } of await bundleAll()) {
  const kib = (file: string) => (statSync(join(dir, file)).size / 1024).toFixed(0);
  console.log(
    `${relative(ROOT, dir)}/: index.js ${kib('index.js')} KiB, index.js.map ${kib('index.js.map')} KiB`,
  );
}
console.log(`bundled in ${(performance.now() - started).toFixed(0)} ms`);
