/**
 * Evaluates the small part of Terraform's expression language the filters and the deployment
 * modes in `terraform/` are written in, over hcl2json output: string templates with `${...}`,
 * references to `var.*`, `local.*` and for-loop names, lists, `[for x in list : expr]`, the
 * conditional `c ? a : b` (only the chosen branch is evaluated, as Terraform does), `==`, `!=`,
 * `<`, `<=`, `>`, `>=`, `&&`, `||`, `!`, and the functions `join`, `concat`, `distinct`, `format`
 * (`%s` only), `coalesce`, `split`, `length` and `contains`. Anything else (arithmetic, other
 * functions, references to resources) throws, so an expression written with syntax this
 * evaluator does not know fails its test instead of being judged wrongly.
 */
import type { Json, TfTree } from './hcl-tree.js';
import { locals, variables } from './hcl-tree.js';

export type HclValue = string | number | boolean | null | HclValue[];

export interface HclScope {
  /** `var.NAME` */
  readonly vars: Readonly<Record<string, HclValue>>;
  /** `local.NAME`, evaluated on first use. */
  local(name: string): HclValue;
}

/** A scope for module directory `dir`: given variable values, else their (non-object) defaults; its locals. */
export function moduleScope(tree: TfTree, dir: string, given: Readonly<Record<string, HclValue>>): HclScope {
  const vars: Record<string, HclValue> = {};
  for (const [name, body] of variables(tree, dir)) {
    // Map and object defaults are left without a value: this evaluator has no objects, so a use throws.
    if (body.default !== undefined && !isObject(body.default)) vars[name] = jsonValue(body.default);
  }
  Object.assign(vars, given);
  const defs = locals(tree, dir);
  const cache = new Map<string, HclValue>();
  const scope: HclScope = {
    vars,
    local(name) {
      if (!cache.has(name)) {
        if (!defs.has(name)) throw new Error(`local.${name} is not defined in ${dir}`);
        cache.set(name, evaluateJson(defs.get(name)!, scope));
      }
      return cache.get(name)!;
    },
  };
  return scope;
}

/** The value hcl2json JSON stands for: templates in strings are evaluated, lists element-wise. */
export function evaluateJson(value: Json, scope: HclScope): HclValue {
  if (typeof value === 'string') return evaluateTemplate(value, scope);
  if (Array.isArray(value)) return value.map((v) => evaluateJson(v, scope));
  if (value === null || typeof value !== 'object') return value;
  throw new Error('objects are not supported by this evaluator');
}

/** An hcl2json string: a template whose `${expr}` parts are evaluated; a lone `${expr}` keeps its type. */
export function evaluateTemplate(template: string, scope: HclScope): HclValue {
  const parser = new Parser(template, scope, new Map());
  return parser.template(undefined);
}

const isObject = (value: Json): boolean =>
  (value !== null && typeof value === 'object' && !Array.isArray(value)) || (Array.isArray(value) && value.some(isObject));

function jsonValue(value: Json): HclValue {
  if (Array.isArray(value)) return value.map(jsonValue);
  if (value !== null && typeof value === 'object') throw new Error('object defaults are not supported');
  return value;
}

const FUNCTIONS: Record<string, (args: HclValue[]) => HclValue> = {
  join: ([sep, list]) => asList(list, 'join').map((v) => asString(v, 'join')).join(asString(sep, 'join')),
  concat: (args) => args.flatMap((a) => asList(a, 'concat')),
  distinct: ([list]) => [...new Set(asList(list, 'distinct'))],
  format: ([spec, ...args]) => {
    let i = 0;
    return asString(spec, 'format').replace(/%[s%]/g, (m) => (m === '%%' ? '%' : asString(args[i++], 'format')));
  },
  coalesce: (args) => {
    const found = args.find((a) => a !== null && a !== '');
    if (found === undefined) throw new Error('coalesce: no non-null, non-empty argument');
    return found;
  },
  split: ([sep, value]) => asString(value, 'split').split(asString(sep, 'split')),
  length: ([list]) => (typeof list === 'string' ? [...list].length : asList(list, 'length').length),
  contains: ([list, value]) => asList(list, 'contains').some((v) => equal(v, value)),
};

const equal = (a: HclValue | undefined, b: HclValue | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

function asBool(v: HclValue, where: string): boolean {
  if (typeof v !== 'boolean') throw new Error(`${where}: expected a bool, got ${JSON.stringify(v)}`);
  return v;
}

function asNumber(v: HclValue, where: string): number {
  if (typeof v !== 'number') throw new Error(`${where}: expected a number, got ${JSON.stringify(v)}`);
  return v;
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '<=': (a, b) => a <= b,
  '>=': (a, b) => a >= b,
  '<': (a, b) => a < b,
  '>': (a, b) => a > b,
};

function asList(v: HclValue, where: string): HclValue[] {
  if (!Array.isArray(v)) throw new Error(`${where}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}

function asString(v: HclValue | undefined, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`${where}: expected a string, got ${JSON.stringify(v)}`);
}

class Parser {
  private pos = 0;
  /**
   * While true, the parser only walks the syntax (the branch a conditional did not choose): it
   * reads nothing and calls nothing, and every value is null.
   */
  private dry: boolean;
  constructor(
    private readonly src: string,
    private readonly scope: HclScope,
    private readonly names: ReadonlyMap<string, HclValue>,
    dry = false,
  ) {
    this.dry = dry;
  }

  /** Runs `parse` with evaluation off when `skip` (or already off). */
  private skipping(skip: boolean, parse: () => HclValue): HclValue {
    const before = this.dry;
    this.dry = before || skip;
    try {
      return parse();
    } finally {
      this.dry = before;
    }
  }

  /** Template text up to `end` (a closing quote) or the end of input. */
  template(end: '"' | undefined): HclValue {
    const parts: HclValue[] = [];
    let literal = '';
    while (this.pos < this.src.length) {
      const c = this.src[this.pos];
      if (end !== undefined && c === end) break;
      if (this.src.startsWith('$${', this.pos)) {
        literal += '${';
        this.pos += 3;
      } else if (this.src.startsWith('${', this.pos)) {
        if (literal) parts.push(literal);
        literal = '';
        this.pos += 2;
        parts.push(this.expression());
        this.skipSpace();
        this.expect('}');
      } else if (end !== undefined && c === '\\') {
        const next = this.src[this.pos + 1];
        literal += next === 'n' ? '\n' : next === 't' ? '\t' : next;
        this.pos += 2;
      } else {
        literal += c;
        this.pos += 1;
      }
    }
    if (literal) parts.push(literal);
    if (end === undefined && this.pos < this.src.length) throw new Error(`unexpected ${this.src[this.pos]} in template`);
    if (parts.length === 1 && end === undefined && this.src.startsWith('${') && this.src.endsWith('}')) return parts[0];
    if (this.dry) return null;
    return parts.map((p) => asString(p, 'template')).join('');
  }

  /** `cond ? a : b`, the loosest binding; only the chosen branch is evaluated. */
  private expression(): HclValue {
    const condition = this.binary(0);
    this.skipSpace();
    if (this.src[this.pos] !== '?') return condition;
    this.pos += 1;
    const chosen = this.dry ? undefined : asBool(condition, 'conditional');
    const whenTrue = this.skipping(chosen !== true, () => this.expression());
    this.expect(':');
    const whenFalse = this.skipping(chosen !== false, () => this.expression());
    return this.dry ? null : chosen ? whenTrue : whenFalse;
  }

  /** Binary operators by precedence, loosest first: `||`, `&&`, `==`/`!=`, comparisons. */
  private binary(level: number): HclValue {
    const LEVELS = [['||'], ['&&'], ['==', '!='], ['<=', '>=', '<', '>']];
    if (level === LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      this.skipSpace();
      const op = LEVELS[level].find((o) => this.src.startsWith(o, this.pos) && !(o.length === 1 && this.src[this.pos + 1] === '='));
      if (!op) return left;
      this.pos += op.length;
      const right = this.binary(level + 1);
      if (this.dry) continue;
      if (op === '||' || op === '&&') {
        const [a, b] = [asBool(left, op), asBool(right, op)];
        left = op === '||' ? a || b : a && b;
      } else if (op === '==' || op === '!=') left = equal(left, right) === (op === '==');
      else left = COMPARE[op](asNumber(left, op), asNumber(right, op));
    }
  }

  private unary(): HclValue {
    this.skipSpace();
    if (this.src[this.pos] === '!' && this.src[this.pos + 1] !== '=') {
      this.pos += 1;
      const value = this.unary();
      return this.dry ? null : !asBool(value, '!');
    }
    return this.primary();
  }

  private primary(): HclValue {
    this.skipSpace();
    const c = this.src[this.pos];
    let value: HclValue;
    if (c === '"') {
      this.pos += 1;
      value = this.template('"');
      this.expect('"');
    } else if (c === '[') {
      value = this.listOrFor();
    } else if (c === '(') {
      this.pos += 1;
      value = this.expression();
      this.skipSpace();
      this.expect(')');
    } else if (/[0-9]/.test(c ?? '')) {
      value = Number(this.match(/[0-9]+(\.[0-9]+)?/));
    } else {
      value = this.identifierExpression();
    }
    this.skipSpace();
    if (/^([+\-*/%]|=[^=])/.test(this.src.slice(this.pos))) throw new Error(`operator at "${this.src.slice(this.pos, this.pos + 20)}" is not supported`);
    return value;
  }

  private listOrFor(): HclValue {
    this.expect('[');
    this.skipSpace();
    if (/^for\s/.test(this.src.slice(this.pos))) {
      this.pos += 3;
      this.skipSpace();
      const name = this.match(/[A-Za-z_][A-Za-z0-9_]*/);
      this.skipSpace();
      if (this.match(/in\b/) !== 'in') throw new Error('for: expected "in"');
      const listValue = this.expression();
      const list = this.dry ? [null] : asList(listValue, 'for');
      this.expect(':');
      const bodyStart = this.pos;
      const out: HclValue[] = [];
      let bodyEnd = bodyStart;
      for (const item of list) {
        const inner = new Parser(this.src, this.scope, new Map([...this.names, [name, item]]), this.dry);
        inner.pos = bodyStart;
        out.push(inner.expression());
        bodyEnd = inner.pos;
      }
      if (list.length === 0) throw new Error('for over an empty list: give the test a non-empty one');
      this.pos = bodyEnd;
      this.skipSpace();
      if (/^if\b/.test(this.src.slice(this.pos))) throw new Error('for ... if is not supported');
      this.expect(']');
      return this.dry ? null : out;
    }
    const items: HclValue[] = [];
    while (this.src[this.pos] !== ']') {
      items.push(this.expression());
      this.skipSpace();
      if (this.src[this.pos] === ',') this.pos += 1;
      this.skipSpace();
    }
    this.pos += 1;
    return this.dry ? null : items;
  }

  private identifierExpression(): HclValue {
    const name = this.match(/[A-Za-z_][A-Za-z0-9_-]*/);
    if (name === 'true' || name === 'false') return name === 'true';
    if (name === 'null') return null;
    this.skipSpace();
    if (this.src[this.pos] === '(') {
      const fn = FUNCTIONS[name];
      if (!fn) throw new Error(`function ${name}() is not supported`);
      this.pos += 1;
      const args: HclValue[] = [];
      this.skipSpace();
      while (this.src[this.pos] !== ')') {
        args.push(this.expression());
        this.skipSpace();
        if (this.src[this.pos] === ',') this.pos += 1;
        this.skipSpace();
      }
      this.pos += 1;
      return this.dry ? null : fn(args);
    }
    if (this.names.has(name)) return this.names.get(name)!;
    this.expect('.');
    const attr = this.match(/[A-Za-z_][A-Za-z0-9_-]*/);
    if (this.dry) return null;
    if (name === 'var') {
      if (!(attr in this.scope.vars)) throw new Error(`var.${attr} has no value`);
      return this.scope.vars[attr];
    }
    if (name === 'local') return this.scope.local(attr);
    throw new Error(`reference ${name}.${attr} is not supported`);
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos += 1;
  }

  private expect(c: string): void {
    this.skipSpace();
    if (this.src[this.pos] !== c) throw new Error(`expected ${c} at "${this.src.slice(this.pos, this.pos + 20)}"`);
    this.pos += 1;
  }

  private match(pattern: RegExp): string {
    const m = new RegExp(`^(?:${pattern.source})`).exec(this.src.slice(this.pos));
    if (!m) throw new Error(`unexpected "${this.src.slice(this.pos, this.pos + 20)}"`);
    this.pos += m[0].length;
    return m[0];
  }
}
