/**
 * A rule's `caller`, compiled: an OAuth client by id, or an OIDC identity by issuer, subject or
 * verified email (globs) and claims. Shared by the SA rules, the user-token rules and the grant
 * admins, so every section of the policy matches callers the same way.
 */
import type { PolicyDocument } from './policy-schema.js';
import { compileClaim } from './claim-matcher.js';
import type { GlobOptions, Matcher } from './glob.js';
import type { ClientCaller, PolicyCaller } from './compile-policy.js';

/**
 * How a caller fares against one rule: `match`, `unrelated` (another issuer, credential kind or
 * a client), or `differs` with the caller fields that did not match, in rule order.
 */
export type CallerMatch =
  { kind: 'match' } | { kind: 'unrelated' } | { kind: 'differs'; fields: string[]; of: number };

export const MATCH: CallerMatch = { kind: 'match' };
export const UNRELATED: CallerMatch = { kind: 'unrelated' };

/**
 * Compiles `caller`; `glob` compiles a pattern (throwing the policy error naming `field`), and
 * `unknownClient` is thrown for a client the policy does not list.
 */
export function compileCallerMatcher(
  doc: Pick<PolicyDocument, 'clients'>,
  caller: PolicyDocument['rules'][number]['caller'],
  glob: (field: string, pattern: string, options?: GlobOptions) => Matcher,
  unknownClient: (clientId: string) => Error,
): (c: PolicyCaller) => CallerMatch {
  if ('client' in caller) {
    if (!Object.hasOwn(doc.clients, caller.client)) throw unknownClient(caller.client);
    return (c) => (c.kind === 'client' && c.clientId === caller.client ? MATCH : UNRELATED);
  }
  const checks: Array<{ field: string; matches: (c: Exclude<PolicyCaller, ClientCaller>) => boolean }> = [];
  if (caller.subject !== undefined) {
    const subject = glob('caller.subject', caller.subject, { allowDoubleStar: true });
    checks.push({ field: 'subject', matches: (c) => subject(c.subject) });
  }
  if (caller.email !== undefined) {
    const email = glob('caller.email', caller.email, { caseInsensitiveAscii: true });
    // An email only counts when the issuer verified it.
    checks.push({
      field: 'email',
      matches: (c) => c.email !== undefined && c.emailVerified === true && email(c.email),
    });
  }
  for (const [key, expected] of Object.entries(caller.claims ?? {})) {
    const claim = compileClaim(key, expected, glob);
    checks.push({ field: `claims.${key}`, matches: (c) => claim.matches(c.claims) });
  }
  const credentials = new Set(caller.credentials ?? ['id_token']);
  return (c) => {
    if (c.kind === 'client' || c.issuer !== caller.issuer) return UNRELATED;
    // Access tokens are not bound to this service's audience: a rule must opt in to them.
    if (!credentials.has(c.kind === 'google_access_token' ? 'access_token' : 'id_token')) return UNRELATED;
    const fields = checks.filter((check) => !check.matches(c)).map((check) => check.field);
    return fields.length === 0 ? MATCH : { kind: 'differs', fields, of: checks.length };
  };
}
