/**
 * A SMALL SUBSET of CEL, enough for the availability conditions of Credential Access Boundaries
 * that the emulator's Storage check evaluates: `resource.name`, `resource.type`, `resource.service`,
 * string literals (quoted, triple-quoted and raw, with CEL's escapes), `true`/`false`,
 * `.startsWith(…)`, `.endsWith(…)`, `==`, `!=`, `&&`, `||`, `!`, parentheses and `//` comments.
 *
 * Google accepts full CEL here; the emulator REFUSES anything outside this subset when the
 * boundary is exchanged (a deliberate difference: a test can never pass on a condition the
 * emulator did not really evaluate). Written independently of the product's tokenizer
 * (functions/token/policy/cel-tokens.ts) so that one checks the other.
 */

export class CelSubsetError extends Error {
  override readonly name = 'CelSubsetError';
}

type Tok = { t: 'str'; v: string } | { t: 'id'; v: string } | { t: 'op'; v: string };

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '`': '`',
  '?': '?',
};

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (' \t\n\r\f'.includes(c)) {
      i++;
    } else if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (
      c === "'" ||
      c === '"' ||
      ((c === 'r' || c === 'R') && (src[i + 1] === "'" || src[i + 1] === '"'))
    ) {
      const raw = c === 'r' || c === 'R';
      if (raw) i++;
      const q = src[i];
      const close = src.startsWith(q.repeat(3), i) ? q.repeat(3) : q;
      i += close.length;
      let v = '';
      for (;;) {
        if (i >= src.length) throw new CelSubsetError('unterminated string literal');
        if (src.startsWith(close, i)) {
          i += close.length;
          break;
        }
        const ch = src[i];
        if (close.length === 1 && (ch === '\n' || ch === '\r'))
          throw new CelSubsetError('newline in string literal');
        if (ch !== '\\' || raw) {
          v += ch;
          i++;
          continue;
        }
        const e = src[i + 1];
        if (e !== undefined && e in ESCAPES) {
          v += ESCAPES[e];
          i += 2;
          continue;
        }
        const hex = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
        if (hex > 0) {
          const digits = src.slice(i + 2, i + 2 + hex);
          const cp = /^[0-9a-fA-F]+$/.test(digits) && digits.length === hex ? parseInt(digits, 16) : -1;
          if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            throw new CelSubsetError('invalid escape');
          v += String.fromCodePoint(cp);
          i += 2 + hex;
          continue;
        }
        const oct = src.slice(i + 1, i + 4);
        if (!/^[0-3][0-7][0-7]$/.test(oct)) throw new CelSubsetError('invalid escape');
        v += String.fromCodePoint(parseInt(oct, 8));
        i += 4;
      }
      out.push({ t: 'str', v });
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_]/.test(src[j])) j++;
      if (src[j] === "'" || src[j] === '"') throw new CelSubsetError('bytes literals are outside the subset');
      out.push({ t: 'id', v: src.slice(i, j) });
      i = j;
    } else {
      const op =
        ['==', '!=', '&&', '||'].find((o) => src.startsWith(o, i)) ?? ('!().,'.includes(c) ? c : undefined);
      if (!op) throw new CelSubsetError(`${JSON.stringify(c)} is outside the subset`);
      out.push({ t: 'op', v: op });
      i += op.length;
    }
  }
  return out;
}

/** What the condition is evaluated against. */
export interface CelResource {
  name: string;
  type: string;
  service: string;
}

type Node =
  | { k: 'lit'; v: string | boolean }
  | { k: 'field'; f: 'name' | 'type' | 'service' }
  | { k: 'call'; m: 'startsWith' | 'endsWith'; target: Node; arg: Node }
  | { k: 'bin'; op: '==' | '!=' | '&&' | '||'; l: Node; r: Node }
  | { k: 'not'; e: Node };

/** A parsed condition. Throws {@link CelSubsetError} for anything outside the subset. */
export function parseCelSubset(source: string): { evaluate(resource: CelResource): boolean } {
  const toks = lex(source);
  let p = 0;
  const peek = (v: string) => toks[p]?.t === 'op' && toks[p].v === v;
  const expect = (v: string) => {
    if (!peek(v)) throw new CelSubsetError(`expected ${v}`);
    p++;
  };
  const binary = (ops: string[], next: () => Node) => (): Node => {
    let l = next();
    while (ops.some(peek)) {
      const op = toks[p++].v as '==' | '!=' | '&&' | '||';
      l = { k: 'bin', op, l, r: next() };
    }
    return l;
  };
  const term = (): Node => {
    const tok = toks[p++];
    if (!tok) throw new CelSubsetError('unexpected end of expression');
    let node: Node;
    if (tok.t === 'str') node = { k: 'lit', v: tok.v };
    else if (tok.t === 'op' && tok.v === '(') {
      node = or();
      expect(')');
    } else if (tok.t === 'id' && (tok.v === 'true' || tok.v === 'false'))
      node = { k: 'lit', v: tok.v === 'true' };
    else if (tok.t === 'id' && tok.v === 'resource') {
      expect('.');
      const f = toks[p++];
      if (f?.t !== 'id' || !['name', 'type', 'service'].includes(f.v))
        throw new CelSubsetError('only resource.name, resource.type and resource.service are in the subset');
      node = { k: 'field', f: f.v as 'name' | 'type' | 'service' };
    } else throw new CelSubsetError(`${JSON.stringify(tok.v)} is outside the subset`);
    while (peek('.')) {
      p++;
      const m = toks[p++];
      if (m?.t !== 'id' || (m.v !== 'startsWith' && m.v !== 'endsWith'))
        throw new CelSubsetError('only startsWith and endsWith calls are in the subset');
      expect('(');
      const arg = or();
      expect(')');
      node = { k: 'call', m: m.v, target: node, arg };
    }
    return node;
  };
  const unary = (): Node => {
    if (peek('!')) {
      p++;
      return { k: 'not', e: unary() };
    }
    return term();
  };
  const equality = binary(['==', '!='], unary);
  const and = binary(['&&'], equality);
  const or: () => Node = binary(['||'], and);
  const root = or();
  if (p !== toks.length) throw new CelSubsetError('unexpected trailing tokens');
  return { evaluate: (resource) => evaluate(root, resource) === true };
}

/** Evaluates; a type mismatch is an error value, which never grants (CEL's no-such-overload). */
function evaluate(node: Node, r: CelResource): string | boolean | Error {
  switch (node.k) {
    case 'lit':
      return node.v;
    case 'field':
      return r[node.f];
    case 'not': {
      const v = evaluate(node.e, r);
      return typeof v === 'boolean' ? !v : new Error('no such overload');
    }
    case 'call': {
      const t = evaluate(node.target, r);
      const a = evaluate(node.arg, r);
      if (typeof t !== 'string' || typeof a !== 'string') return new Error('no such overload');
      return node.m === 'startsWith' ? t.startsWith(a) : t.endsWith(a);
    }
    case 'bin': {
      const l = evaluate(node.l, r);
      // CEL's && and || are commutative over errors: a definite answer on either side wins.
      if (node.op === '&&' || node.op === '||') {
        const rv = evaluate(node.r, r);
        const decisive = node.op === '||';
        if (l === decisive || rv === decisive) return decisive;
        if (typeof l === 'boolean' && typeof rv === 'boolean') return !decisive;
        return new Error('no such overload');
      }
      const rv = evaluate(node.r, r);
      if (l instanceof Error || rv instanceof Error || typeof l !== typeof rv)
        return new Error('no such overload');
      return node.op === '==' ? l === rv : l !== rv;
    }
  }
}
