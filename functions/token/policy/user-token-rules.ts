/**
 * The policy's user sections, compiled (issue 19): `userTokenRules` (which callers may have which
 * users' access tokens, for which scopes) and `userGrantAdmins` (who may revoke users' grants).
 *
 * A user is named by `sub:<digits>` (known from the request path) or by an email glob, matched
 * against the email the grant stores (taken from a verified ID token at consent). Deciding by email
 * needs the grant, so a decision may come back `needsEmail`: the caller loads the grant and asks
 * again with its email. A caller no rule admits for the requested scopes is refused before any
 * grant is read, and a caller refused by email is refused in the same words whether or not the
 * user has a grant: the answer is never an oracle of who consented.
 */
import { resolveLimits, type ResolvedLimits } from '../limits/limits-schema.js';
import { compileCallerMatcher } from './caller-matcher.js';
import type { PolicyCaller } from './compile-policy.js';
import { compileGlob, type GlobOptions, type Matcher } from './glob.js';
import type { PolicyDocument } from './policy-schema.js';

/** Per-user quotas (all callers of one rule together, per instance). */
export interface ResolvedUserLimits {
  requestsPerMinute: number;
  mintsPerMinute: number;
}

/** One user's tokens may be asked for 600 times a minute and refreshed at Google 10 times a minute per instance. */
export const DEFAULT_USER_LIMITS: ResolvedUserLimits = Object.freeze({
  requestsPerMinute: 600,
  mintsPerMinute: 10,
});

export type UserDecision =
  | { allowed: true; rule: string; limits: ResolvedLimits; userLimits: ResolvedUserLimits }
  /** `needsEmail`: a rule that admits the caller names users by email; ask again with the grant's email. */
  | { allowed: false; needsEmail: boolean; detail?: string };

export type AdminDecision =
  | { allowed: true; rule: string; reasons: readonly ('USER' | 'ADMIN')[] }
  | { allowed: false; needsEmail: boolean; detail?: string };

export interface CompiledUserPolicy {
  readonly ruleCount: number;
  /** May `caller` have `sub`'s access token for all of `scopes`? `email`: the grant's, once loaded. */
  authorizeToken(caller: PolicyCaller, sub: string, scopes: readonly string[], email?: string): UserDecision;
  /** May `caller` revoke `sub`'s grant? */
  authorizeAdmin(caller: PolicyCaller, sub: string, email?: string): AdminDecision;
}

interface UserMatcher {
  matchesSub(sub: string): boolean;
  /** Undefined when the rule names no user by email. */
  matchesEmail?: (email: string) => boolean;
}

/** Compiles both sections; `fail` builds the policy error for a field path. */
export function compileUserPolicy(
  doc: PolicyDocument,
  fail: (where: string, message: string) => Error,
): CompiledUserPolicy {
  const names = new Set<string>();
  const checkName = (section: string, name: string) => {
    if (names.has(`${section} ${name}`)) throw fail(`${section}[name=${name}]`, 'duplicate rule name');
    names.add(`${section} ${name}`);
  };
  const globFor =
    (where: string) =>
    (field: string, pattern: string, options: GlobOptions = {}) => {
      try {
        return compileGlob(pattern, options);
      } catch (err) {
        throw fail(`${where}.${field}`, (err as Error).message);
      }
    };
  const callerOf = (where: string, caller: PolicyDocument['rules'][number]['caller']) =>
    compileCallerMatcher(doc, caller, globFor(where), (client) =>
      fail(`${where}.caller.client`, `${client} is not listed under "clients"`),
    );

  const tokenRules = doc.userTokenRules.map((rule, index) => {
    const where = `userTokenRules[${index}] (name=${rule.name})`;
    checkName('userTokenRules', rule.name);
    const glob = globFor(where);
    const { perUser, ...perCaller } = rule.limits ?? {};
    return {
      name: rule.name,
      matchCaller: callerOf(where, rule.caller),
      users: compileUsers(rule.users, glob),
      scopes: rule.scopes.map((p, i): Matcher => glob(`scopes[${i}]`, p)),
      limits: resolveLimits(doc.limits, perCaller),
      userLimits: {
        requestsPerMinute: perUser?.requestsPerMinute ?? DEFAULT_USER_LIMITS.requestsPerMinute,
        mintsPerMinute: perUser?.mintsPerMinute ?? DEFAULT_USER_LIMITS.mintsPerMinute,
      },
    };
  });
  const admins = doc.userGrantAdmins.map((admin, index) => {
    const where = `userGrantAdmins[${index}] (name=${admin.name})`;
    checkName('userGrantAdmins', admin.name);
    return {
      name: admin.name,
      reasons: admin.reasons,
      matchCaller: callerOf(where, admin.caller),
      users: admin.users ? compileUsers(admin.users, globFor(where)) : undefined,
    };
  });

  return {
    ruleCount: tokenRules.length,
    authorizeToken(caller, sub, scopes, email) {
      let needsEmail = false;
      let callerMatched = false;
      for (const rule of tokenRules) {
        if (rule.matchCaller(caller).kind !== 'match') continue;
        callerMatched = true;
        if (!scopes.every((scope) => rule.scopes.some((m) => m(scope)))) continue;
        const user = userMatch(rule.users, sub, email);
        if (user === 'needs_email') needsEmail = true;
        if (user !== true) continue;
        return { allowed: true, rule: rule.name, limits: rule.limits, userLimits: rule.userLimits };
      }
      return {
        allowed: false,
        needsEmail,
        detail: callerMatched
          ? 'no user token rule covers this user and these scopes'
          : 'no user token rule for caller',
      };
    },
    authorizeAdmin(caller, sub, email) {
      let needsEmail = false;
      for (const admin of admins) {
        if (admin.matchCaller(caller).kind !== 'match') continue;
        const user = admin.users ? userMatch(admin.users, sub, email) : true;
        if (user === 'needs_email') needsEmail = true;
        if (user === true) return { allowed: true, rule: admin.name, reasons: admin.reasons };
      }
      return { allowed: false, needsEmail, detail: 'no user grant admin entry for caller and user' };
    },
  };
}

function compileUsers(
  patterns: readonly string[],
  glob: (field: string, pattern: string, options?: GlobOptions) => Matcher,
): UserMatcher {
  const subs = new Set(patterns.filter((p) => p.startsWith('sub:')).map((p) => p.slice(4)));
  const emails = patterns
    .map((p, i) => [p, i] as const)
    .filter(([p]) => !p.startsWith('sub:'))
    .map(([p, i]) => glob(`users[${i}]`, p, { caseInsensitiveAscii: true }));
  return {
    matchesSub: (sub) => subs.has(sub),
    ...(emails.length > 0 ? { matchesEmail: (email: string) => emails.some((m) => m(email)) } : {}),
  };
}

/** true: named; false: not; 'needs_email': only an email pattern could name the user and the email is unknown. */
function userMatch(users: UserMatcher, sub: string, email: string | undefined): boolean | 'needs_email' {
  if (users.matchesSub(sub)) return true;
  if (!users.matchesEmail) return false;
  if (email === undefined) return 'needs_email';
  return users.matchesEmail(email);
}
