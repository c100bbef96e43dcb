/**
 * esbuild plugin: zod's `locales` namespaces (`z.locales`, `z.core.locales`) keep only `en`. zod 4 re-exports
 * every locale
 * (about 40 languages, ~260 KiB minified, over a third of the token function's start-up code)
 * through `z.locales` (classic and mini alike), which tree-shaking cannot drop. Our code uses
 * only `en` (classic zod installs it; shared/zod.ts installs it for zod/mini), so the others are
 * dead weight on every cold start. If code ever calls `z.config(z.locales.xx())`, the bundle test's
 * start fails loudly (a call of undefined) rather than silently.
 */
import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';

export function zodEnglishOnly(): Plugin {
  return {
    name: 'zod-english-only',
    setup(build) {
      build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
        if (
          !/[\\/]zod[\\/]v4[\\/](classic[\\/]external|mini[\\/]external|core[\\/]index)\.js$/.test(
            args.importer,
          )
        )
          return undefined;
        return {
          path: join(dirname(args.importer), '../locales/index.js'),
          namespace: 'zod-english-only',
        };
      });
      build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
        resolveDir: dirname(args.path),
        contents: "export { default as en } from './en.js';",
      }));
    },
  };
}
