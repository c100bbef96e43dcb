/**
 * functions-framework parses every body with express body-parser before our handler runs, with a
 * 1 GiB limit, and answers a malformed JSON body with an HTML page. A security boundary must do
 * better: this guard wraps the body-parser instance functions-framework uses so that bodies are
 * capped at `limitBytes` while they are read, and parse failures reach our handler (as
 * `req.bodyError`) to be answered in Google's error model. It must be installed before
 * functions-framework builds its server, i.e. when the function module is imported.
 */
import { createRequire } from 'node:module';

type Middleware = (req: { bodyError?: string }, res: unknown, next: (err?: unknown) => void) => void;
type Factory = (options?: Record<string, unknown>) => Middleware;

const PARSERS = ['json', 'text', 'urlencoded', 'raw'] as const;
const GUARDED = Symbol.for('token-vending.body-parser-guard');

/** Idempotently installs the guard on the body-parser that functions-framework resolves. */
export function installBodyParserGuard(limitBytes: number): void {
  const require = createRequire(import.meta.url);
  const frameworkEntry = require.resolve('@google-cloud/functions-framework');
  const bodyParser = createRequire(frameworkEntry)('body-parser') as Record<string, Factory> & {
    [GUARDED]?: boolean;
  };
  if (bodyParser[GUARDED]) return;
  for (const name of PARSERS) {
    const original = bodyParser[name];
    if (typeof original !== 'function')
      throw new TypeError(`body-parser.${name} is missing: functions-framework changed; revisit the guard`);
    bodyParser[name] = (options = {}) => {
      const parse = original({ ...options, limit: limitBytes });
      return (req, res, next) =>
        parse(req, res, (err?: unknown) => {
          if (err === undefined || err === null) return next();
          const type = (err as { type?: unknown }).type;
          req.bodyError = typeof type === 'string' ? type : 'entity.parse.failed';
          next();
        });
    };
  }
  bodyParser[GUARDED] = true;
}
