/**
 * Anchored glob patterns for policy fields. `*` matches one or more characters inside a single
 * segment: never `/`, `.`, `@`, `:`, `?`, `#` or whitespace, so a pattern cannot reach across
 * path segments, domain labels or the local/domain parts of an email. Everything else is literal.
 */
export type Matcher = (value: string) => boolean;

const SEGMENT = '[^/.@:?#\\s]+';

/** Compiles `pattern` into an anchored matcher. `caseInsensitiveAscii` folds A-Z only (never Unicode). */
export function compileGlob(pattern: string, options: { caseInsensitiveAscii?: boolean } = {}): Matcher {
  if (pattern.length === 0) throw new TypeError('empty pattern');
  const fold = options.caseInsensitiveAscii ? asciiLower : (s: string) => s;
  const normalized = fold(pattern);
  if (!normalized.includes('*')) return (value) => fold(value) === normalized;
  if (normalized.includes('**')) throw new TypeError('"**" is not supported: "*" matches within one segment');
  const source = normalized.split('*').map(escapeRegExp).join(SEGMENT);
  const regex = new RegExp(`^${source}$`, 'u');
  return (value) => regex.test(fold(value));
}

/** Lower-cases ASCII letters only: `toLowerCase()` would fold look-alikes such as U+212A KELVIN SIGN into `k`. */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function escapeRegExp(literal: string): string {
  return literal.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
