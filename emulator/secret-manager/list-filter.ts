/**
 * The subset of Google's list filter language (AIP-160, https://cloud.google.com/secret-manager/docs/filtering)
 * that ListSecrets and ListSecretVersions need: restrictions `field<op>value` with `=`, `!=`, `:`,
 * `<`, `<=`, `>`, `>=`; `AND` (or whitespace), `OR` (binds tighter than AND, as AIP-160 says),
 * `NOT` / `-`, and parentheses. `:` means "has": `labels.env:*` (key present), `name:abc`
 * (substring, `*` wildcards allowed). A syntax error or an unknown field is INVALID_ARGUMENT.
 */
import { invalidArgument } from './secret-manager-error.js';

/** A flattened view of one resource: snake_case paths to strings, Dates, arrays or maps. */
export type FilterValue = string | Date | undefined | FilterValue[] | { [key: string]: FilterValue };
export type FilterDoc = Record<string, FilterValue>;
export type FilterPredicate = (doc: FilterDoc) => boolean;

type Comparator = '=' | '!=' | ':' | '<' | '<=' | '>' | '>=';

class Parser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly fields: ReadonlySet<string>,
  ) {}

  parse(): FilterPredicate {
    const expr = this.expression();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected [${this.text.slice(this.pos)}]`);
    return expr;
  }

  private fail(why: string): never {
    throw invalidArgument(`Invalid filter [${this.text}]: ${why}.`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private peekKeyword(word: string): boolean {
    this.skipSpace();
    const rest = this.text.slice(this.pos);
    return rest.startsWith(word) && (rest.length === word.length || /[\s(]/.test(rest[word.length]));
  }

  private expression(): FilterPredicate {
    const parts = [this.factor()];
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length || this.text[this.pos] === ')') break;
      if (this.peekKeyword('AND')) this.pos += 3;
      parts.push(this.factor()); // whitespace alone is an implicit AND
    }
    return parts.length === 1 ? parts[0] : (doc) => parts.every((p) => p(doc));
  }

  private factor(): FilterPredicate {
    const parts = [this.term()];
    while (this.peekKeyword('OR')) {
      this.pos += 2;
      parts.push(this.term());
    }
    return parts.length === 1 ? parts[0] : (doc) => parts.some((p) => p(doc));
  }

  private term(): FilterPredicate {
    this.skipSpace();
    let negate = false;
    if (this.peekKeyword('NOT')) {
      this.pos += 3;
      negate = true;
    } else if (this.text[this.pos] === '-') {
      this.pos += 1;
      negate = true;
    }
    const inner = this.simple();
    return negate ? (doc) => !inner(doc) : inner;
  }

  private simple(): FilterPredicate {
    this.skipSpace();
    if (this.text[this.pos] === '(') {
      this.pos++;
      const inner = this.expression();
      this.skipSpace();
      if (this.text[this.pos] !== ')') this.fail('missing )');
      this.pos++;
      return inner;
    }
    const path = this.readWhile(/[A-Za-z0-9_.-]/);
    if (!path) this.fail(`expected a field at position ${this.pos}`);
    const root = path.split('.')[0];
    if (!this.fields.has(root)) this.fail(`unknown field [${path}]`);
    this.skipSpace();
    const comparator = this.comparator();
    const value = this.value();
    return compile(path.split('.'), comparator, value);
  }

  private comparator(): Comparator {
    for (const op of ['<=', '>=', '!=', '=', ':', '<', '>'] as const) {
      if (this.text.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    return this.fail(`expected a comparator at position ${this.pos}`);
  }

  private value(): string {
    this.skipSpace();
    const quote = this.text[this.pos];
    if (quote === '"' || quote === "'") {
      const end = this.text.indexOf(quote, this.pos + 1);
      if (end < 0) this.fail('unterminated string');
      const value = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return value;
    }
    const value = this.readWhile(/[^\s()]/);
    if (!value) this.fail(`expected a value at position ${this.pos}`);
    return value;
  }

  private readWhile(allowed: RegExp): string {
    const start = this.pos;
    while (this.pos < this.text.length && allowed.test(this.text[this.pos])) this.pos++;
    return this.text.slice(start, this.pos);
  }
}

function globToRegExp(pattern: string, anchored: boolean): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(anchored ? `^${body}$` : body);
}

function lookup(value: FilterValue, path: string[]): FilterValue[] {
  if (path.length === 0) return [value];
  if (value === undefined || typeof value === 'string' || value instanceof Date) return [];
  if (Array.isArray(value)) return value.flatMap((v) => lookup(v, path));
  return lookup(value[path[0]], path.slice(1));
}

function compareScalar(actual: string | Date, comparator: Comparator, expected: string): boolean {
  if (comparator === ':') {
    if (actual instanceof Date) return actual.getTime() === Date.parse(expected);
    return globToRegExp(expected, false).test(actual);
  }
  let order: number;
  if (actual instanceof Date) {
    const when = Date.parse(expected);
    if (Number.isNaN(when))
      throw invalidArgument(`Invalid filter value [${expected}]: expected an RFC 3339 time.`);
    order = Math.sign(actual.getTime() - when);
  } else {
    order = actual === expected ? 0 : actual < expected ? -1 : 1;
    if (comparator === '=' && expected.includes('*'))
      order = globToRegExp(expected, true).test(actual) ? 0 : 1;
  }
  switch (comparator) {
    case '=':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

function compile(path: string[], comparator: Comparator, expected: string): FilterPredicate {
  return (doc) => {
    const found = lookup(doc as FilterValue, path).filter((v) => v !== undefined);
    if (comparator === ':' && expected === '*') return found.length > 0;
    if (comparator === '!=' && found.length === 0) return true;
    return found.some((value) => {
      if (typeof value === 'string' || value instanceof Date)
        return compareScalar(value, comparator, expected);
      if (Array.isArray(value))
        return value.some((v) => typeof v === 'string' && compareScalar(v, comparator, expected));
      // A map with `:` asks whether it has the key (`labels:env`).
      return comparator === ':' && value !== undefined && expected in value;
    });
  };
}

/**
 * Compiles `filter` into a predicate; `fields` are the top-level field names it may use.
 * An empty filter matches everything.
 */
export function compileFilter(filter: string, fields: ReadonlySet<string>): FilterPredicate {
  if (filter.trim() === '') return () => true;
  return new Parser(filter, fields).parse();
}
