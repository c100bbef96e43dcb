/**
 * esbuild plugin: a dynamic `import()` of a CommonJS package keeps its named exports when the
 * bundle is split. With `splitting`, esbuild turns such an import into a chunk whose only export
 * is `default` (the package's `module.exports`), where Node gives named exports as well, so
 * `const { GoogleAuth } = await import('google-auth-library')` would get `undefined`. The plugin
 * puts a small ES module in between that re-exports each property of `module.exports` by name
 * (the names are read by loading the package once at build time), as Node's own import of
 * CommonJS does.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';

const NAMESPACE = 'cjs-dynamic-import';
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Whether the file Node would load is CommonJS (`.cjs`, or `.js` without `"type": "module"` above it). */
function isCommonJs(file: string): boolean {
  if (file.endsWith('.cjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string };
      return pkg.type !== 'module';
    } catch {
      if (dirname(dir) === dir) return true;
    }
  }
}

export function cjsDynamicImports(): Plugin {
  return {
    name: NAMESPACE,
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.kind !== 'dynamic-import' || args.namespace !== 'file') return undefined;
        const resolved = await build.resolve(args.path, {
          kind: 'import-statement',
          resolveDir: args.resolveDir,
        });
        if (resolved.errors.length > 0 || resolved.external || !isCommonJs(resolved.path)) return undefined;
        return { path: args.path, namespace: NAMESPACE, pluginData: { resolveDir: args.resolveDir } };
      });
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => {
        const { resolveDir } = args.pluginData as { resolveDir: string };
        const exported = createRequire(join(resolveDir, 'index.js'))(args.path) as object;
        const names = Object.keys(exported).filter((name) => name !== 'default' && IDENTIFIER.test(name));
        const specifier = JSON.stringify(args.path);
        return {
          resolveDir,
          contents: [
            // require(), not `import cjs from`: esbuild's default import of a module flagged
            // __esModule would be its `default` property, where Node gives `module.exports`.
            `const cjs = require(${specifier});`,
            'export default cjs;',
            ...(names.length > 0 ? [`export const { ${names.join(', ')} } = cjs;`] : []),
          ].join('\n'),
        };
      });
    },
  };
}
