/**
 * Evaluates the subset of the Cloud Logging query language our sinks, metrics and alerts use,
 * against a stored LogEntry (as JSON): `AND`, `OR`, `NOT` (and `-`), implicit AND by adjacency,
 * parentheses, comparisons `=`, `!=`, `:` (has), `:*` (present), `<`, `<=`, `>`, `>=` (ordered), value groups
 * `field=(a OR b)`, quoted or bare values, and `log_id("...")`.
 *
 * Semantics followed (Logging query language reference): `NOT` binds tightest, then `OR`, then
 * `AND` — so `a AND b OR c` is `a AND (b OR c)`; a comparison on a missing field is false;
 * `=` is exact; `:` is a case-insensitive substring match on strings (exact on numbers);
 * `log_id("x")` matches `logName` ending in `/logs/` + the URL-encoded id; an ordered comparison
 * compares numbers numerically and `severity` by LogSeverity rank (DEFAULT < DEBUG < INFO < NOTICE <
 * WARNING < ERROR < CRITICAL < ALERT < EMERGENCY), and is false on a missing field. How Cloud
 * Logging orders a number against a string value is not documented as far as we found: an ordered
 * comparison on a string field (other than severity) throws. Anything outside this
 * subset throws rather than being guessed.
 */

export type Entry = Record<string, unknown>;
export type Predicate = (entry: Entry) => boolean;

type Token = { kind: 'word' | 'string' | 'op' | 'paren'; text: string };

/** Compiles `filter` to a predicate over stored entries. */
export function compileFilter(filter: string): Predicate {
  const tokens = tokenize(filter);
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const isWord = (t: Token | undefined, w: string) => t?.kind === 'word' && t.text === w;

  const andExpr = (): Predicate => {
    const parts = [orExpr()];
    for (;;) {
      const t = peek();
      if (t === undefined || (t.kind === 'paren' && t.text === ')')) break;
      if (isWord(t, 'AND')) i += 1;
      parts.push(orExpr());
    }
    return parts.length === 1 ? parts[0] : (e) => parts.every((p) => p(e));
  };
  const orExpr = (): Predicate => {
    const parts = [unary()];
    while (isWord(peek(), 'OR')) {
      i += 1;
      parts.push(unary());
    }
    return parts.length === 1 ? parts[0] : (e) => parts.some((p) => p(e));
  };
  const unary = (): Predicate => {
    const t = peek();
    if (isWord(t, 'NOT') || (t?.kind === 'op' && t.text === '-')) {
      i += 1;
      const inner = unary();
      return (e) => !inner(e);
    }
    return primary();
  };
  const primary = (): Predicate => {
    const t = tokens[i++];
    if (t === undefined) throw new Error('filter ends early');
    if (t.kind === 'paren' && t.text === '(') {
      const inner = andExpr();
      expectParen(')');
      return inner;
    }
    if (t.kind === 'word' && t.text === 'log_id') {
      expectParen('(');
      const id = tokens[i++];
      if (id?.kind !== 'string') throw new Error('log_id needs a quoted log id');
      expectParen(')');
      const suffix = `/logs/${encodeURIComponent(id.text)}`;
      return (e) => typeof e.logName === 'string' && e.logName.endsWith(suffix);
    }
    if (t.kind !== 'word') throw new Error(`expected a field, got ${t.text}`);
    const op = tokens[i++];
    const path = fieldPath(t.text);
    if (op?.kind === 'op' && ORDERED.has(op.text)) {
      const values = valueExpr();
      const ordered = (e: Entry) => {
        const actual = lookup(e, path);
        return actual !== undefined && values((v) => compareOrdered(path, actual, op.text, v));
      };
      return ordered;
    }
    if (op?.kind !== 'op' || !['=', '!=', ':'].includes(op.text)) throw new Error(`unsupported comparison after ${t.text}: ${op?.text ?? 'end'} (global restrictions are not supported)`);
    if (op.text === ':' && peek()?.kind === 'op' && peek()!.text === '*') {
      i += 1;
      return (e) => lookup(e, path) !== undefined;
    }
    const values = valueExpr();
    const compare = op.text === ':' ? has : equals;
    const matches = (e: Entry) => {
      const actual = lookup(e, path);
      return actual !== undefined && values((v) => compare(actual, v));
    };
    return op.text === '!=' ? (e) => lookup(e, path) !== undefined && !matches(e) : matches;
  };
  /** A value or a parenthesised OR/AND group of values: returns "does test() hold for it". */
  const valueExpr = (): ((test: (v: string) => boolean) => boolean) => {
    const t = tokens[i++];
    if (t === undefined) throw new Error('comparison without a value');
    if (t.kind === 'string' || t.kind === 'word') return (test) => test(t.text);
    // A negative number: `-` followed by a numeric word.
    if (t.kind === 'op' && t.text === '-' && peek()?.kind === 'word' && /^[0-9.]+$/.test(peek()!.text)) {
      const n = `-${tokens[i++].text}`;
      return (test) => test(n);
    }
    if (t.kind === 'paren' && t.text === '(') {
      const alternatives = [valueExpr()];
      let joiner: 'OR' | 'AND' | undefined;
      while (isWord(peek(), 'OR') || isWord(peek(), 'AND')) {
        const j = tokens[i++].text as 'OR' | 'AND';
        if (joiner !== undefined && joiner !== j) throw new Error('mixed AND/OR in a value group is not supported');
        joiner = j;
        alternatives.push(valueExpr());
      }
      expectParen(')');
      return joiner === 'AND' ? (test) => alternatives.every((a) => a(test)) : (test) => alternatives.some((a) => a(test));
    }
    throw new Error(`unexpected ${t.text} as a value`);
  };
  const expectParen = (p: string) => {
    const t = tokens[i++];
    if (t?.kind !== 'paren' || t.text !== p) throw new Error(`expected ${p}, got ${t?.text ?? 'end'}`);
  };

  const predicate = andExpr();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i].text}`);
  return predicate;
}

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < filter.length) {
    const c = filter[pos];
    if (/\s/.test(c)) {
      pos += 1;
    } else if (c === '"') {
      let text = '';
      pos += 1;
      while (pos < filter.length && filter[pos] !== '"') {
        if (filter[pos] === '\\') pos += 1;
        text += filter[pos];
        pos += 1;
      }
      if (filter[pos] !== '"') throw new Error('unterminated string');
      pos += 1;
      tokens.push({ kind: 'string', text });
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: 'paren', text: c });
      pos += 1;
    } else if (filter.startsWith('!=', pos) || filter.startsWith('<=', pos) || filter.startsWith('>=', pos)) {
      tokens.push({ kind: 'op', text: filter.slice(pos, pos + 2) });
      pos += 2;
    } else if (c === '<' || c === '>') {
      tokens.push({ kind: 'op', text: c });
      pos += 1;
    } else if ('=:*-'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      pos += 1;
    } else if (c === '~') {
      throw new Error(`operator ${c} is not supported`);
    } else {
      // A field path (quoted segments allowed: labels."a/b") or a bare value.
      let text = '';
      while (pos < filter.length && !/[\s()=:!<>~]/.test(filter[pos])) {
        if (filter[pos] === '"') {
          const close = filter.indexOf('"', pos + 1);
          if (close < 0) throw new Error('unterminated quoted path segment');
          text += filter.slice(pos, close + 1);
          pos = close + 1;
        } else {
          text += filter[pos];
          pos += 1;
        }
      }
      tokens.push({ kind: 'word', text });
    }
  }
  return tokens;
}

function fieldPath(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|([^."]+)/g)].map((m) => m[1] ?? m[2]);
}

function lookup(entry: Entry, path: readonly string[]): unknown {
  let value: unknown = entry;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !(key in value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function equals(actual: unknown, expected: string): boolean {
  if (typeof actual === 'number') return actual === Number(expected);
  if (typeof actual === 'boolean') return String(actual) === expected;
  return typeof actual === 'string' && actual === expected;
}

function has(actual: unknown, expected: string): boolean {
  if (Array.isArray(actual)) return actual.some((a) => has(a, expected));
  if (typeof actual === 'string') return actual.toLowerCase().includes(expected.toLowerCase());
  return equals(actual, expected);
}

const ORDERED = new Set(['<', '<=', '>', '>=']);
const SEVERITIES = ['DEFAULT', 'DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL', 'ALERT', 'EMERGENCY'];

function rank(path: readonly string[], value: unknown): number {
  if (path.length === 1 && path[0] === 'severity' && typeof value === 'string') {
    const r = SEVERITIES.indexOf(value.toUpperCase());
    if (r < 0) throw new Error(`unknown severity ${value}`);
    return r;
  }
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw new Error(`ordered comparison on ${path.join('.')} with a non-numeric value ${JSON.stringify(value)} is not supported`);
}

function compareOrdered(path: readonly string[], actual: unknown, op: string, expected: string): boolean {
  if (!(path.length === 1 && path[0] === 'severity') && typeof actual !== 'number') {
    throw new Error(`ordered comparison on the non-number ${path.join('.')}=${JSON.stringify(actual)} is not supported`);
  }
  const a = rank(path, actual);
  const b = rank(path, expected);
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}
