// The deployed bundle's `gcp-build` step (the Cloud Run functions Node.js buildpack runs it after
// `npm ci`, with the runtime's Node): compiles the bundle once with Node's compile cache on, so
// instances start from V8's code cache in .compile-cache/ instead of compiling the bundle again.
// It loads every chunk (library code; nothing starts) and then the entry, whose start stops at the
// configuration check because the build has no TVS_* configuration: by then every module on the
// start path has been compiled. Without `module.enableCompileCache` (Node < 22.1) it does nothing.
import nodeModule from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

if (typeof nodeModule.enableCompileCache !== 'function') {
  console.log(`compile cache: not available on Node ${process.version}; nothing to do`);
  process.exit(0);
}
for (const name of Object.keys(process.env)) if (name.startsWith('TVS_')) delete process.env[name];
const directory = fileURLToPath(new URL('./.compile-cache/', import.meta.url));
nodeModule.enableCompileCache(directory);
// The entry is what the package.json names (`main`); the chunks share its extension.
const { main } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const chunks = readdirSync(new URL('./chunks/', import.meta.url)).filter(
  (file) => extname(file) === extname(main),
);
let stopped = 0;
for (const file of [...chunks.map((chunk) => `./chunks/${chunk}`), `./${main}`]) {
  try {
    await import(file);
  } catch {
    stopped += 1; // the function's own start, without configuration
  }
}
nodeModule.flushCompileCache();
console.log(
  `compile cache: ${chunks.length + 1} modules compiled into ${directory} (${stopped} stopped at configuration)`,
);
process.exit(0);
