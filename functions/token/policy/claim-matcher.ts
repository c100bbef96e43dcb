/**
 * A rule's claim constraints, compiled: where the claim is (a top-level name or a JSON pointer)
 * and what it must be (a pattern, any of several patterns, or a JSON boolean).
 */
import type { GlobOptions, Matcher } from './glob.js';
import { parseClaimPointer } from './policy-schema.js';

/**
 * A list claim longer than this never matches: the work per request stays bounded whatever the
 * token holds (the token's size is bounded too, by the authenticator).
 */
export const MAX_LIST_CLAIM_ELEMENTS = 1000;

export interface ClaimMatcher {
  /** The claim key as the policy wrote it (`ref` or `/kubernetes.io/namespace`), for audit details. */
  key: string;
  matches(claims: Readonly<Record<string, unknown>>): boolean;
}

/**
 * Compiles one `claims` entry. `glob` compiles a pattern and names the field in its error.
 * A string or list expected value matches a string claim, or a list claim with at least one
 * string element, that matches one of the patterns (any-of); a boolean matches only that boolean.
 */
export function compileClaim(
  key: string,
  expected: string | boolean | readonly string[],
  glob: (field: string, pattern: string, options?: GlobOptions) => Matcher,
): ClaimMatcher {
  const path = key.startsWith('/') ? parseClaimPointer(key) : [key];
  const read = (claims: Readonly<Record<string, unknown>>) => resolve(claims, path);
  if (typeof expected === 'boolean') return { key, matches: (claims) => read(claims) === expected };
  const patterns = typeof expected === 'string' ? [expected] : expected;
  const matchers = patterns.map((p, i) =>
    glob(typeof expected === 'string' ? `caller.claims.${key}` : `caller.claims.${key}[${i}]`, p, {
      allowDoubleStar: true,
    }),
  );
  const matchesString = (value: unknown) => typeof value === 'string' && matchers.some((m) => m(value));
  return {
    key,
    matches: (claims) => {
      const value = read(claims);
      if (typeof value === 'string') return matchesString(value);
      // List-valued claims (groups, audiences) are any-of: one matching element is enough.
      return Array.isArray(value) && value.length <= MAX_LIST_CLAIM_ELEMENTS && value.some(matchesString);
    },
  };
}

/**
 * Follows `path` through own properties of plain JSON objects only: never into a prototype
 * (`__proto__`, `constructor` are refused at compile and are not own properties of a JWT payload
 * anyway), and never through an array (no numeric indexes: an issuer's list order is not a contract).
 */
function resolve(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let current: unknown = claims;
  for (const segment of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    // Stryker disable next-line ConditionalExpression: what a plain object inherits is functions or refused names, never a string or a list
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
