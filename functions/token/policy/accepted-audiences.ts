/**
 * The audiences this service accepts in callers' ID tokens (its own URLs and each external
 * issuer's audiences). An ID token minted for one of them would be accepted back as a caller
 * credential, so the service must never mint one: `includes` is checked on every ID-token
 * request, `matchedByPattern` on every policy rule when the policy compiles.
 */
import { asciiLower, compileGlob } from './glob.js';

const DEFAULT_PORTS: Record<string, string> = { https: '443', http: '80' };
/** scheme :// authority path rest(query and fragment), for http(s) URLs written out in full. */
const URL_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/s;

/**
 * Normalises an http(s) audience: scheme and host lower-cased (ASCII), a default or empty port
 * and a host's trailing dot dropped, one trailing `/` of the path dropped. Path, query and
 * fragment keep their case. Anything else (another scheme, user info, a bare client id) is
 * returned unchanged, so it is compared exactly. Works on glob patterns too (`*` is kept).
 */
export function normalizeAudience(value: string): string {
  const m = URL_PARTS.exec(value);
  if (!m) return value;
  const scheme = asciiLower(m[1]);
  const defaultPort = DEFAULT_PORTS[scheme];
  const [, , authority, path, rest] = m;
  if (defaultPort === undefined || authority.includes('@')) return value;
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/s.exec(authority);
  if (!hostPort) return value;
  const host = asciiLower(hostPort[1]).replace(/(?<=[^.])\.$/, '');
  let port = hostPort[2] ?? '';
  if (/^\d+$/.test(port)) port = port.replace(/^0+(?=\d)/, '');
  if (port === defaultPort) port = '';
  const trimmedPath = path.endsWith('/') ? path.slice(0, -1) : path;
  return `${scheme}://${host}${port ? `:${port}` : ''}${trimmedPath}${rest}`;
}

export interface AcceptedAudiences {
  /** The audiences as configured. */
  readonly values: readonly string[];
  /** True when `audience` equals an accepted audience after `normalizeAudience`. */
  includes(audience: string): boolean;
  /** The first accepted audience that the policy glob `pattern` matches in some equivalent spelling. */
  matchedByPattern(pattern: string): string | undefined;
}

/** Builds the set of accepted audiences once, at cold start. */
export function acceptedAudiences(values: readonly string[]): AcceptedAudiences {
  const normalized = new Set(values.map(normalizeAudience));
  // Each accepted audience's normalised form and spellings, worked out once for every pattern.
  let forms: Array<{ audience: string; normalized: string; spellings: string[] }> | undefined;
  return {
    values: [...values],
    includes: (audience) => normalized.has(normalizeAudience(audience)),
    matchedByPattern(pattern) {
      // A glob is matched against the literal requested audience, so try the spellings a
      // request could use for each accepted audience, and the pattern itself normalised.
      forms ??= values.map((audience) => {
        const n = normalizeAudience(audience);
        return { audience, normalized: n, spellings: spellings(audience, n) };
      });
      const raw = compileGlob(pattern);
      const folded = compileGlob(normalizeAudience(pattern));
      return forms.find((form) => folded(form.normalized) || form.spellings.some(raw))?.audience;
    },
  };
}

/** Equivalent spellings of an accepted audience: as configured, normalised, with `/`, with the default port. */
function spellings(audience: string, normalized: string): string[] {
  const out = [audience, normalized, `${normalized}/`];
  const m = URL_PARTS.exec(normalized);
  const defaultPort = m ? DEFAULT_PORTS[m[1]] : undefined;
  if (m && defaultPort && !/:\d+$/.test(m[2])) {
    const withPort = `${m[1]}://${m[2]}:${defaultPort}${m[3]}${m[4]}`;
    out.push(withPort, `${withPort}/`);
  }
  return out;
}
