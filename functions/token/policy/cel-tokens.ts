/**
 * A tokenizer for CEL (Common Expression Language) as far as string literals are concerned: it
 * finds every string and bytes literal (quoted, triple-quoted, raw) and comment, so the policy
 * compiler can prove a placeholder sits inside a string literal, and the renderer can escape a claim
 * value so that it stays one. Outside literals it only splits coarsely (identifiers, numbers,
 * operators); it is not a parser and does not judge whether an expression is valid CEL.
 *
 * Lexical rules followed (cel-spec `doc/langdef.md`, "Syntax"): `STRING_LIT ::= [rR]? ( " ~("|NL)* "
 * | ' ~('|NL)* ' | """ ~"""* """ | ''' ~'''* ''' )`, `BYTES_LIT ::= [bB] STRING_LIT`, escapes
 * `\[abfnrtv"'\\?`]`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`, `\[0-3][0-7][0-7]` (not in raw literals),
 * comments `//` to the end of the line, whitespace `[\t\n\f\r ]`.
 */

export type CelTokenKind =
  'string' | 'bytes' | 'ident' | 'quoted_ident' | 'number' | 'punct' | 'space' | 'comment';

export interface CelToken {
  kind: CelTokenKind;
  /** The token's source text (a literal with its prefix and quotes). */
  text: string;
  /** Offsets in the source: [start, end). */
  start: number;
  end: number;
  /** String and bytes literals: raw (no escapes) or not. */
  raw?: boolean;
  /** String and bytes literals: where the content starts and ends (inside the quotes). */
  contentStart?: number;
  contentEnd?: number;
}

export class CelSyntaxError extends Error {
  override readonly name = 'CelSyntaxError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at character ${offset + 1})`);
  }
}

const PUNCT2 = new Set(['==', '!=', '<=', '>=', '&&', '||']);
const PUNCT1 = new Set([...'<>!+-*/%?:.,()[]{}']);
const STRING_PREFIXES = new Set(['r', 'R', 'b', 'B', 'br', 'bR', 'Br', 'BR']);

/** Splits `source` into tokens. Throws {@link CelSyntaxError} on an unterminated literal, a bad escape or a character CEL does not have. */
export function tokenizeCel(source: string): CelToken[] {
  const tokens: CelToken[] = [];
  let i = 0;
  const push = (kind: CelTokenKind, start: number, end: number, extra: Partial<CelToken> = {}) => {
    tokens.push({ kind, text: source.slice(start, end), start, end, ...extra });
    i = end;
  };
  while (i < source.length) {
    const c = source[i];
    if (/[\t\n\f\r ]/.test(c)) {
      let j = i;
      while (j < source.length && /[\t\n\f\r ]/.test(source[j])) j++;
      push('space', i, j);
    } else if (source.startsWith('//', i)) {
      let j = i;
      while (j < source.length && source[j] !== '\n' && source[j] !== '\r') j++;
      push('comment', i, j);
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < source.length && /[A-Za-z0-9_]/.test(source[j])) j++;
      const word = source.slice(i, j);
      if (source[j] === '"' || source[j] === "'") {
        if (!STRING_PREFIXES.has(word)) throw new CelSyntaxError(`"${word}" is not a string prefix`, i);
        const lower = word.toLowerCase();
        const literal = readQuoted(source, i, j, lower.includes('r'));
        push(lower.includes('b') ? 'bytes' : 'string', i, literal.end, literal);
      } else push('ident', i, j);
    } else if (c === '"' || c === "'") {
      const literal = readQuoted(source, i, i, false);
      push('string', i, literal.end, literal);
    } else if (c === '`') {
      const close = source.indexOf('`', i + 1);
      const newline = source.slice(i + 1, close).search(/[\n\r]/);
      if (close < 0 || newline >= 0) throw new CelSyntaxError('unterminated quoted identifier', i);
      push('quoted_ident', i, close + 1);
    } else if (/[0-9]/.test(c)) {
      const m = /^(0[xX][0-9a-fA-F]+|[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?)[uU]?/.exec(source.slice(i))!;
      push('number', i, i + m[0].length);
    } else if (PUNCT2.has(source.slice(i, i + 2))) {
      push('punct', i, i + 2);
    } else if (PUNCT1.has(c)) {
      push('punct', i, i + 1);
    } else {
      throw new CelSyntaxError(`unexpected character ${JSON.stringify(c)}`, i);
    }
  }
  return tokens;
}

/** Reads a quoted literal whose quote starts at `quoteAt` (prefix from `start`). */
function readQuoted(
  source: string,
  start: number,
  quoteAt: number,
  raw: boolean,
): { end: number; raw: boolean; contentStart: number; contentEnd: number } {
  const q = source[quoteAt];
  const triple = source.startsWith(q.repeat(3), quoteAt);
  const close = triple ? q.repeat(3) : q;
  let j = quoteAt + close.length;
  const contentStart = j;
  for (;;) {
    if (j >= source.length) throw new CelSyntaxError('unterminated string literal', start);
    if (source.startsWith(close, j)) return { end: j + close.length, raw, contentStart, contentEnd: j };
    const ch = source[j];
    if (!triple && (ch === '\n' || ch === '\r')) throw new CelSyntaxError('newline in a string literal', j);
    if (ch === '\\' && !raw) j += escapeLength(source, j);
    else j += 1;
  }
}

/** Length of the escape sequence at `at` (which holds the backslash); throws when it is not one CEL knows. */
function escapeLength(source: string, at: number): number {
  const rest = source.slice(at + 1);
  if (/^[abfnrtv"'\\?`]/.test(rest)) return 2;
  if (/^x[0-9a-fA-F]{2}/.test(rest)) return 4;
  if (/^u[0-9a-fA-F]{4}/.test(rest)) return 6;
  if (/^U[0-9a-fA-F]{8}/.test(rest)) return 10;
  if (/^[0-3][0-7][0-7]/.test(rest)) return 4;
  throw new CelSyntaxError('invalid escape sequence in a string literal', at);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '"': '"',
  "'": "'",
  '\\': '\\',
  '?': '?',
  '`': '`',
};

/** The value of a string literal token (its escapes decoded; raw literals as written). */
export function celStringValue(token: CelToken): string {
  if (token.kind !== 'string' || token.contentStart === undefined || token.contentEnd === undefined)
    throw new TypeError('celStringValue: not a string literal token');
  const body = token.text.slice(token.contentStart - token.start, token.contentEnd - token.start);
  if (token.raw) return body;
  let out = '';
  for (let i = 0; i < body.length;) {
    if (body[i] !== '\\') {
      out += body[i++];
      continue;
    }
    const e = body[i + 1];
    if (e in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[e];
      i += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      out += String.fromCodePoint(parseInt(body.slice(i + 2, i + 2 + n), 16));
      i += 2 + n;
    } else {
      out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 4), 8));
      i += 4;
    }
  }
  return out;
}

/**
 * Escapes `value` for the inside of any non-raw CEL string literal (either quote, single or
 * triple): printable ASCII other than `\`, `'` and `"` stays as it is; those three get a
 * backslash; everything else (controls, newlines, non-ASCII) becomes `\uHHHH` or `\UHHHHHHHH`.
 * The result is printable ASCII without a bare quote or backslash, so it can neither end the
 * literal nor start an escape that swallows the closing quote. `value` must be well-formed
 * Unicode (no lone surrogate: CEL has no escape for one); callers check.
 */
export function escapeCelString(value: string): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\' || ch === "'" || ch === '"') out += `\\${ch}`;
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return out;
}
