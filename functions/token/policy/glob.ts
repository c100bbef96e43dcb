/**
 * Anchored glob patterns for policy fields. `*` matches one or more characters inside a single
 * segment: never `/`, `.`, `@`, `:`, `?`, `#` or whitespace, so a pattern cannot reach across
 * path segments, domain labels or the local/domain parts of an email. `**` (only where the caller
 * allows it) matches one or more characters that may include `/` and `.`, but never `@`, `:`,
 * `?`, `#` or whitespace: it spans path segments (`group/sub/project`, `refs/heads/release/1.2`)
 * without reaching into the next field of a subject. Everything else is literal.
 */
export type Matcher = (value: string) => boolean;

export interface GlobOptions {
  /** Fold A-Z only (never Unicode). */
  caseInsensitiveAscii?: boolean;
  /** Accept `**`; without it a `**` is an error (emails, service accounts, scopes, audiences). */
  allowDoubleStar?: boolean;
}

/** Characters a `*` never matches. */
const SEPARATORS = new Set(['/', '.', '@', ':', '?', '#']);
const WHITESPACE = /\s/u;
const isSegmentChar = (c: string) => !SEPARATORS.has(c) && !WHITESPACE.test(c);
/** A `**` also matches `/` and `.`. */
const isPathChar = (c: string) => c === '/' || c === '.' || isSegmentChar(c);

const STAR = 0;
const DOUBLE_STAR = 1;
/** A pattern token: a literal character, or one of the two wildcards. */
type Token = string | typeof STAR | typeof DOUBLE_STAR;

/**
 * Compiles `pattern` into an anchored matcher.
 * Matching simulates the pattern as a small automaton over the input, in O(input × pattern)
 * time: no backtracking, so a hostile value cannot stall the event loop (a regex like
 * `a-[^.]+-[^.]+@x` is quadratic or worse on `a-a-a-a-…`).
 */
export function compileGlob(pattern: string, options: GlobOptions = {}): Matcher {
  if (pattern.length === 0) throw new TypeError('empty pattern');
  const fold = options.caseInsensitiveAscii ? asciiLower : (s: string) => s;
  const normalized = fold(pattern);
  // Stryker disable next-line ConditionalExpression,StringLiteral: a shortcut; the automaton gives the same answer for a pattern without a star
  if (!normalized.includes('*')) return (value) => fold(value) === normalized;
  if (normalized.includes('***')) throw new TypeError('"***" is ambiguous: use "*" or "**"');
  if (normalized.includes('**') && !options.allowDoubleStar)
    throw new TypeError('"**" is allowed only in subject and claims patterns');
  const tokens = tokenize(normalized);
  return (value) => matchTokens(tokens, fold(value));
}

function tokenize(pattern: string): Token[] {
  const chars = [...pattern];
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] !== '*') tokens.push(chars[i]);
    else if (chars[i + 1] === '*') {
      tokens.push(DOUBLE_STAR);
      i++;
    } else tokens.push(STAR);
  }
  return tokens;
}

/** Whether `token` consumes the character `c` (`segmentChar`/`pathChar`: what a wildcard may consume). */
function accepts(token: Token | undefined, c: string, segmentChar: boolean, pathChar: boolean): boolean {
  return token === STAR ? segmentChar : token === DOUBLE_STAR ? pathChar : token === c;
}

/**
 * The automaton's two state rows, reused by every match: matching is synchronous, so no two
 * matches interleave, and a policy check allocates nothing per character.
 */
let currentRow = new Uint8Array(64);
let nextRow = new Uint8Array(64);

/**
 * State j = "the first j pattern tokens are matched"; a wildcard consumes one or more characters it
 * allows. `input` is walked by code point, as the pattern was tokenized.
 */
function matchTokens(tokens: readonly Token[], input: string): boolean {
  const m = tokens.length;
  if (currentRow.length < m + 1) {
    currentRow = new Uint8Array(2 * (m + 1));
    nextRow = new Uint8Array(2 * (m + 1));
  }
  let current = currentRow;
  let next = nextRow;
  current.fill(0, 0, m + 1);
  current[0] = 1;
  for (const c of input) {
    next.fill(0, 0, m + 1);
    const segmentChar = isSegmentChar(c);
    const pathChar = isPathChar(c);
    // Past either end of the pattern (`tokens[m]`, `tokens[-1]`) there is no token: it accepts nothing.
    // Stryker disable next-line BooleanLiteral: only the early exit below reads it (speed, not answers)
    let any = false;
    for (let j = 0; j <= m; j++) {
      if (!current[j]) continue;
      if (accepts(tokens[j], c, segmentChar, pathChar)) {
        next[j + 1] = 1;
        any = true;
      }
      // Reached through a wildcard that already consumed a character: it may consume more.
      const previous = tokens[j - 1] as Token | undefined;
      if (typeof previous === 'number' && accepts(previous, c, segmentChar, pathChar)) {
        next[j] = 1;
        any = true;
      }
    }
    // Stryker disable next-line ConditionalExpression: an early exit once no state is alive; the final check gives the same answer
    if (!any) return false;
    const swap = current;
    current = next;
    next = swap;
  }
  return current[m] === 1;
}

/** Lower-cases ASCII letters only: `toLowerCase()` would fold look-alikes such as U+212A KELVIN SIGN into `k`. */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}
