/**
 * Parse → compile → check. A policy is judged only after it compiled: every pattern anchored and
 * pre-built, rule names unique, every rule's service accounts configured with one backend.
 */
import type { CallerIdentity } from '../auth/types.js';
import type { AcceptedAudiences } from './accepted-audiences.js';
import {
  dummyClientSecretHash,
  formatClientSecretHash,
  type ClientSecretHash,
} from '../oauth/client-secret-hash.js';
import { compileAccessBoundary, type CompiledAccessBoundary } from './access-boundary.js';
import { compileCallerMatcher, type CallerMatch } from './caller-matcher.js';
import { compileUserPolicy, type CompiledUserPolicy } from './user-token-rules.js';
import { compileDenyList, type DenyList } from './deny-list.js';
import { asciiLower, compileGlob, type GlobOptions, type Matcher } from './glob.js';
import { policySchema, type PolicyDocument, type ServiceAccountEntry } from './policy-schema.js';
import { resolveLimits, type ResolvedLimits } from '../limits/limits-schema.js';

/**
 * Who is asking, as the policy sees it: a verified {@link CallerIdentity} (the fields a rule can
 * match), or an OAuth client. A type of its own only for the client arm, which carries different
 * data: a client id proved by its secret, no issuer, subject or claims.
 */
export type PolicyCaller =
  Pick<CallerIdentity, 'kind' | 'issuer' | 'subject' | 'email' | 'emailVerified' | 'claims'> | ClientCaller;

/** An OAuth client that authenticated with its secret (`client_credentials`). */
export interface ClientCaller {
  kind: 'client';
  clientId: string;
}

/** What is being asked for. */
export type PolicyRequest =
  | { kind: 'access_token'; serviceAccount: string; scopes: readonly string[]; lifetimeSeconds: number }
  | { kind: 'id_token'; serviceAccount: string; audience: string };

export type DenialReason =
  | 'NO_RULE_FOR_CALLER'
  | 'SERVICE_ACCOUNT_NOT_ALLOWED'
  | 'SCOPE_NOT_ALLOWED'
  | 'LIFETIME_EXCEEDS_POLICY'
  | 'AUDIENCE_NOT_ALLOWED';

export type Decision =
  | {
      allowed: true;
      rule: string;
      serviceAccount: (ServiceAccountEntry & { email: string }) | undefined;
      /** Access tokens only: the rule's boundary, rendered with the caller's claims at the mint step. */
      accessBoundary?: CompiledAccessBoundary;
      /** The quotas of the rule that matched, resolved at compile time (absent: the defaults). */
      limits?: ResolvedLimits;
    }
  | {
      allowed: false;
      reason: DenialReason;
      /** The rule that came closest (log-only: never told to the caller). */
      rule?: string;
      /**
       * NO_RULE_FOR_CALLER only: the first caller field of `rule` that differed, as the policy
       * names it (`subject`, `email`, `claims.ref_protected`, `claims./kubernetes.io/namespace`),
       * and how many of its caller fields differed. Field names only, never the token's values.
       */
      differed?: { field: string; count: number };
    };

/** The log-only detail of a denial: the closest rule and, when no rule matched the caller, what differed. */
export function describeDenial(decision: Extract<Decision, { allowed: false }>): string | undefined {
  if (!decision.rule) return undefined;
  const differed = decision.differed;
  if (!differed) return `closest rule: ${decision.rule}`;
  const more = differed.count > 1 ? ` (and ${differed.count - 1} more)` : '';
  return `closest rule: ${decision.rule}; caller ${differed.field} differed${more}`;
}

export interface CompiledPolicy {
  readonly version: 1;
  readonly ruleCount: number;
  /** The configured target SA, or undefined when the policy does not know it. */
  serviceAccount(email: string): (ServiceAccountEntry & { email: string }) | undefined;
  /** A client's parsed secret hash, or undefined for an unknown client. */
  clientSecretHash(clientId: string): ClientSecretHash | undefined;
  /** Verified instead for unknown client ids (same parameters as the clients'); never authenticates anyone. */
  readonly dummyClientSecretHash: ClientSecretHash;
  /** The break-glass `deny` section: checked before the rules and the token cache. */
  readonly deny: DenyList;
  /** Deny by default: allowed only if ONE rule matches the caller and covers the whole request. */
  authorize(caller: PolicyCaller, request: PolicyRequest): Decision;
  /** `userTokenRules` and `userGrantAdmins` (user-token-rules.ts). */
  readonly users?: CompiledUserPolicy;
}

/** A policy that does not parse or compile; the message names the rule and field. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

interface CompiledRule {
  name: string;
  matchCaller(caller: PolicyCaller): CallerMatch;
  serviceAccounts: Matcher[];
  scopes: Matcher[];
  audiences: Matcher[];
  maxLifetimeSeconds: number;
  accessBoundary?: CompiledAccessBoundary;
  limits: ResolvedLimits;
}

export interface CompileOptions {
  /** Audiences this service accepts from callers: no rule may mint ID tokens for one of them. */
  acceptedAudiences?: AcceptedAudiences;
}

/** Parses and compiles a policy document (already JSON-decoded). Throws `PolicyError`. */
export function compilePolicy(input: unknown, options: CompileOptions = {}): CompiledPolicy {
  const reserved = findReservedKey(input, []);
  if (reserved)
    throw new PolicyError(`Invalid policy:\n  ${describePath(input, reserved)}: is a reserved name`);
  const parsed = policySchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${describePath(input, issue.path)}: ${issue.message}`);
    throw new PolicyError(`Invalid policy:\n  ${lines.join('\n  ')}`);
  }
  const doc = parsed.data;
  const rules = doc.rules.map((rule, index) => compileRule(doc, rule, index, options));
  const names = new Set<string>();
  for (const rule of rules) {
    if (names.has(rule.name))
      throw new PolicyError(`Invalid policy:\n  rules[name=${rule.name}]: duplicate rule name`);
    names.add(rule.name);
  }

  const deny = compileDenyList(doc.deny, (field, pattern, globOptions) => {
    try {
      return compileGlob(pattern, globOptions);
    } catch (err) {
      throw new PolicyError(`Invalid policy:\n  ${field}: ${(err as Error).message}`);
    }
  });
  const accounts = new Map(
    Object.entries(doc.serviceAccounts).map(([email, entry]) => [email, { ...entry, email }]),
  );
  return {
    version: 1,
    ruleCount: rules.length,
    serviceAccount: (email) => accounts.get(asciiLower(email)),
    clientSecretHash: (clientId) =>
      Object.hasOwn(doc.clients, clientId) ? doc.clients[clientId].secretHash : undefined,
    dummyClientSecretHash: compileClientSecrets(doc),
    deny,
    authorize: (caller, request) =>
      authorize(rules, caller, request, (email) => accounts.get(asciiLower(email))),
    users: compileUserPolicy(
      doc,
      (where, message) => new PolicyError(`Invalid policy:\n  ${where}: ${message}`),
    ),
  };
}

function compileRule(
  doc: PolicyDocument,
  rule: PolicyDocument['rules'][number],
  index: number,
  options: CompileOptions,
): CompiledRule {
  const where = `rules[${index}] (name=${rule.name})`;
  const glob = (field: string, pattern: string, globOptions: GlobOptions = {}): Matcher => {
    try {
      return compileGlob(pattern, globOptions);
    } catch (err) {
      throw new PolicyError(`Invalid policy:\n  ${where}.${field}: ${(err as Error).message}`);
    }
  };

  const serviceAccounts = rule.serviceAccounts.map((p, i) =>
    glob(`serviceAccounts[${i}]`, p, { caseInsensitiveAscii: true }),
  );
  const configured = Object.entries(doc.serviceAccounts).filter(([email]) =>
    serviceAccounts.some((m) => m(email)),
  );
  for (const [i, p] of rule.serviceAccounts.entries()) {
    if (!p.includes('*') && !Object.hasOwn(doc.serviceAccounts, p)) {
      throw new PolicyError(
        `Invalid policy:\n  ${where}.serviceAccounts[${i}]: ${p} is not listed under "serviceAccounts"`,
      );
    }
  }
  const backends = new Set(configured.map(([, entry]) => entry.backend));
  if (rule.backend === undefined && backends.size > 1) {
    throw new PolicyError(
      `Invalid policy:\n  ${where}.backend: the rule's service accounts use both "key" and "keyless"; set "backend": "any" to allow that explicitly`,
    );
  }
  if (
    (rule.backend === 'key' || rule.backend === 'keyless') &&
    [...backends].some((b) => b !== rule.backend)
  ) {
    throw new PolicyError(
      `Invalid policy:\n  ${where}.backend: the rule says "${rule.backend}" but a matching service account uses another backend`,
    );
  }
  if (
    rule.scopes &&
    rule.maxLifetimeSeconds < 3600 &&
    configured.some(([, entry]) => entry.backend === 'key')
  ) {
    throw new PolicyError(
      `Invalid policy:\n  ${where}.maxLifetimeSeconds: tokens minted from a key live 3600 s; a shorter maximum needs keyless service accounts`,
    );
  }
  if (!rule.scopes && !rule.idTokenAudiences) {
    throw new PolicyError(`Invalid policy:\n  ${where}: grant "scopes", "idTokenAudiences" or both`);
  }

  const matchCaller = compileCallerMatcher(
    doc,
    rule.caller,
    glob,
    (client) =>
      new PolicyError(`Invalid policy:\n  ${where}.caller.client: ${client} is not listed under "clients"`),
  );

  const audiences = (rule.idTokenAudiences ?? []).map((p, i) => glob(`idTokenAudiences[${i}]`, p));
  for (const [i, p] of (rule.idTokenAudiences ?? []).entries()) {
    // An ID token for an audience we accept would be accepted back here as the target SA.
    const self = options.acceptedAudiences?.matchedByPattern(p);
    if (self !== undefined) {
      throw new PolicyError(
        `Invalid policy:\n  ${where}.idTokenAudiences[${i}]: ${JSON.stringify(p)} matches ${JSON.stringify(self)}, an audience this service accepts from callers; an ID token for it would be accepted back as a caller credential`,
      );
    }
  }

  return {
    name: rule.name,
    matchCaller,
    serviceAccounts,
    scopes: (rule.scopes ?? []).map((p, i) => glob(`scopes[${i}]`, p)),
    audiences,
    maxLifetimeSeconds: rule.maxLifetimeSeconds,
    ...compileRuleBoundary(rule, where),
    limits: resolveLimits(doc.limits, rule.limits),
  };
}

/** A rule's access boundary: only with `scopes` (it bounds access tokens), and claims only from a caller that has them. */
function compileRuleBoundary(
  rule: PolicyDocument['rules'][number],
  where: string,
): { accessBoundary?: CompiledAccessBoundary } {
  if (!rule.accessBoundary) return {};
  if (!rule.scopes)
    throw new PolicyError(
      `Invalid policy:\n  ${where}.accessBoundary: bounds access tokens only; the rule grants no "scopes"`,
    );
  const accessBoundary = compileAccessBoundary(rule.accessBoundary);
  if (accessBoundary.usesClaims && 'client' in rule.caller)
    throw new PolicyError(
      `Invalid policy:\n  ${where}.accessBoundary: an OAuth client caller has no claims to fill \${claims...} placeholders`,
    );
  return { accessBoundary };
}

/** Refuses two clients with one hash (one secret shared, or a copy-paste); returns the dummy hash. */
function compileClientSecrets(doc: PolicyDocument): ClientSecretHash {
  const seen = new Map<string, string>();
  for (const [id, client] of Object.entries(doc.clients)) {
    const key = formatClientSecretHash(client.secretHash);
    const other = seen.get(key);
    if (other !== undefined)
      throw new PolicyError(
        `Invalid policy:\n  clients.${id}.secretHash: the same hash as client "${other}"; give each client its own secret`,
      );
    seen.set(key, id);
  }
  return dummyClientSecretHash(Object.values(doc.clients).map((c) => c.secretHash));
}

const DENIAL_ORDER: DenialReason[] = [
  'NO_RULE_FOR_CALLER',
  'SERVICE_ACCOUNT_NOT_ALLOWED',
  'SCOPE_NOT_ALLOWED',
  'AUDIENCE_NOT_ALLOWED',
  'LIFETIME_EXCEEDS_POLICY',
];

function authorize(
  rules: CompiledRule[],
  caller: PolicyCaller,
  request: PolicyRequest,
  lookup: (email: string) => (ServiceAccountEntry & { email: string }) | undefined,
): Decision {
  // The denial reported is the one that got furthest: it tells an operator which field to fix.
  let best: Extract<Decision, { allowed: false }> = { allowed: false, reason: 'NO_RULE_FOR_CALLER' };
  const note = (reason: DenialReason, rule: string) => {
    if (DENIAL_ORDER.indexOf(reason) > DENIAL_ORDER.indexOf(best.reason))
      best = { allowed: false, reason, rule };
  };
  // When no rule matches the caller: the rule of the same issuer with the fewest differing
  // fields (then the larger share matched, then policy order), and the first field that differed.
  let closest: { rule: string; fields: string[]; of: number } | undefined;
  for (const rule of rules) {
    const match = rule.matchCaller(caller);
    if (match.kind === 'differs') {
      if (
        !closest ||
        match.fields.length < closest.fields.length ||
        (match.fields.length === closest.fields.length && match.of > closest.of)
      )
        closest = { rule: rule.name, fields: match.fields, of: match.of };
    }
    if (match.kind !== 'match') continue;
    if (!rule.serviceAccounts.some((m) => m(request.serviceAccount))) {
      note('SERVICE_ACCOUNT_NOT_ALLOWED', rule.name);
      continue;
    }
    if (request.kind === 'access_token') {
      if (!request.scopes.every((scope) => rule.scopes.some((m) => m(scope)))) {
        note('SCOPE_NOT_ALLOWED', rule.name);
        continue;
      }
      if (request.lifetimeSeconds > rule.maxLifetimeSeconds) {
        note('LIFETIME_EXCEEDS_POLICY', rule.name);
        continue;
      }
    } else if (!rule.audiences.some((m) => m(request.audience))) {
      note('AUDIENCE_NOT_ALLOWED', rule.name);
      continue;
    }
    return {
      allowed: true,
      rule: rule.name,
      serviceAccount: lookup(request.serviceAccount),
      ...(rule.accessBoundary && request.kind === 'access_token'
        ? { accessBoundary: rule.accessBoundary }
        : {}),
      limits: rule.limits,
    };
  }
  if (best.reason === 'NO_RULE_FOR_CALLER' && closest)
    return {
      allowed: false,
      reason: 'NO_RULE_FOR_CALLER',
      rule: closest.rule,
      differed: { field: closest.fields[0], count: closest.fields.length },
    };
  return best;
}

/**
 * Finds `__proto__`/`constructor`/`prototype` used as a key anywhere in the document. Such keys
 * would be assigned to prototypes by record parsing and silently vanish (a dropped claim
 * constraint widens a rule), so they are refused before parsing.
 */
function findReservedKey(value: unknown, path: PropertyKey[]): PropertyKey[] | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return [...path, key];
    const found = findReservedKey((value as Record<string, unknown>)[key], [
      ...path,
      Array.isArray(value) ? Number(key) : key,
    ]);
    if (found) return found;
  }
  return undefined;
}

/** Renders a zod issue path with the rule's name when it is inside `rules[i]`. */
function describePath(input: unknown, path: PropertyKey[]): string {
  if (path.length === 0) return '(policy)';
  const parts = path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    const name = (input as { rules?: Array<{ name?: unknown }> }).rules?.[path[1]]?.name;
    if (typeof name === 'string')
      return parts.replace(/^rules\[(\d+)\]/, `rules[$1] (name=${name.slice(0, 64)})`);
  }
  return parts;
}
