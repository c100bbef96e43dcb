/**
 * Anchored glob patterns for policy fields. `*` matches one or more characters inside a single
 * segment: never `/`, `.`, `@`, `:`, `?`, `#` or whitespace, so a pattern cannot reach across
 * path segments, domain labels or the local/domain parts of an email. Everything else is literal.
 */
export type Matcher = (value: string) => boolean;

/** Characters a `*` never matches. */
const SEPARATORS = new Set(['/', '.', '@', ':', '?', '#']);
const isSegmentChar = (c: string) => !SEPARATORS.has(c) && !/\s/u.test(c);

/**
 * Compiles `pattern` into an anchored matcher. `caseInsensitiveAscii` folds A-Z only (never Unicode).
 * Matching simulates the pattern as a small automaton over the input, in O(input × pattern)
 * time: no backtracking, so a hostile value cannot stall the event loop (a regex like
 * `a-[^.]+-[^.]+@x` is quadratic or worse on `a-a-a-a-…`).
 */
export function compileGlob(pattern: string, options: { caseInsensitiveAscii?: boolean } = {}): Matcher {
  if (pattern.length === 0) throw new TypeError('empty pattern');
  const fold = options.caseInsensitiveAscii ? asciiLower : (s: string) => s;
  const normalized = fold(pattern);
  if (!normalized.includes('*')) return (value) => fold(value) === normalized;
  if (normalized.includes('**')) throw new TypeError('"**" is not supported: "*" matches within one segment');
  const tokens = [...normalized];
  return (value) => matchTokens(tokens, [...fold(value)]);
}

/** State j = "the first j pattern tokens are matched"; a `*` consumes one or more segment characters. */
function matchTokens(tokens: readonly string[], input: readonly string[]): boolean {
  const m = tokens.length;
  let current = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  current[0] = 1;
  for (const c of input) {
    next.fill(0);
    const segmentChar = isSegmentChar(c);
    let any = false;
    for (let j = 0; j <= m; j++) {
      if (!current[j]) continue;
      const token = tokens[j];
      if (j < m && (token === '*' ? segmentChar : token === c)) {
        next[j + 1] = 1;
        any = true;
      }
      // Reached through a `*` that already consumed a character: it may consume more.
      if (j > 0 && tokens[j - 1] === '*' && segmentChar) {
        next[j] = 1;
        any = true;
      }
    }
    if (!any) return false;
    [current, next] = [next, current];
  }
  return current[m] === 1;
}

/** Lower-cases ASCII letters only: `toLowerCase()` would fold look-alikes such as U+212A KELVIN SIGN into `k`. */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
