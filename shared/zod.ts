/**
 * zod for the token function and shared/: zod's functional build (`zod/mini`), with zod's English
 * issue messages. Classic zod attaches ~40 methods to every schema instance and puts ~200 KiB of
 * code on the cold-start path; mini is the same core (same parsing, issues and JSON Schema) behind
 * plain functions: `z.optional(x)`, `x.check(z.minLength(1))`, `z.pipe(x, z.transform(f))`.
 *
 * Unlike classic zod, mini installs no locale, so without this module every issue without a
 * message of our own would read "Invalid input". Import zod as `import * as z from '…/zod.js'`,
 * never from 'zod/mini' directly (eslint enforces it in functions/ and shared/).
 */
// eslint-disable-next-line no-restricted-imports -- the one place that imports zod/mini
import { config, locales, NEVER, pipe, string, transform } from 'zod/mini';

config(locales.en());

// eslint-disable-next-line no-restricted-imports -- see above
export * from 'zod/mini';

/**
 * A string holding JSON, parsed (an environment variable's value, say); invalid JSON is one custom
 * issue with `message`. Pipe the result into the schema of the parsed value.
 */
export function jsonText(message: string) {
  return pipe(
    string(),
    transform((value: string, ctx) => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        // zod/mini's transforms have no ctx.addIssue: the issue classic zod's would record
        ctx.issues.push({ code: 'custom', message, input: value });
        return NEVER;
      }
    }),
  );
}
