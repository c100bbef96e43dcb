/**
 * The policy's break-glass `deny` section, compiled: callers (an issuer, narrowed by subject, email
 * and claims; or an OAuth client), target service accounts, and fingerprints of issued tokens.
 * Checked before any rule and before the token cache, so a denied caller gets nothing at all.
 */
import { compileClaim } from './claim-matcher.js';
import { compileGlob, type GlobOptions, type Matcher } from './glob.js';
import type { PolicyDocument } from './policy-schema.js';

/** Who is asking, as the deny list sees it (the policy's caller, without importing its module). */
export type DenyCaller =
  | { kind: 'client'; clientId: string }
  | {
      kind: 'id_token' | 'google_access_token';
      issuer: string;
      subject: string;
      email?: string;
      claims: Readonly<Record<string, unknown>>;
    };

export type DenyReason = 'CALLER_DENIED' | 'SERVICE_ACCOUNT_DENIED';

export interface DenyList {
  /** Entries in the list (0: nothing is denied). */
  readonly size: number;
  /** The first matching entry, or undefined. `entry` names it for logs (`deny.callers[2]`). */
  check(caller: DenyCaller, serviceAccount: string): { reason: DenyReason; entry: string } | undefined;
  /** True when an issued token with this fingerprint (`sha256:<hex>`) must not be handed out. */
  deniesToken(fingerprint: string): boolean;
  readonly hasTokenFingerprints: boolean;
}

type Deny = NonNullable<PolicyDocument['deny']>;

/** Compiles the section. `glob` compiles a pattern, naming the field in its error. */
export function compileDenyList(
  deny: Deny | undefined,
  glob: (field: string, pattern: string, options?: GlobOptions) => Matcher = (_f, p, o) => compileGlob(p, o),
): DenyList {
  const callers = (deny?.callers ?? []).map((entry, i) =>
    compileDenyCaller(entry, `deny.callers[${i}]`, glob),
  );
  const accounts = (deny?.serviceAccounts ?? []).map((p, i) => ({
    field: `deny.serviceAccounts[${i}]`,
    matches: glob(`deny.serviceAccounts[${i}]`, p, { caseInsensitiveAscii: true }),
  }));
  const fingerprints = new Set(deny?.tokenFingerprints ?? []);
  return {
    size: callers.length + accounts.length + fingerprints.size,
    hasTokenFingerprints: fingerprints.size > 0,
    check(caller, serviceAccount) {
      const byCaller = callers.find((c) => c.matches(caller));
      if (byCaller) return { reason: 'CALLER_DENIED', entry: byCaller.field };
      const byAccount = accounts.find((a) => a.matches(serviceAccount));
      if (byAccount) return { reason: 'SERVICE_ACCOUNT_DENIED', entry: byAccount.field };
      return undefined;
    },
    deniesToken: (fingerprint) => fingerprints.has(fingerprint),
  };
}

function compileDenyCaller(
  entry: Deny['callers'][number],
  field: string,
  glob: (field: string, pattern: string, options?: GlobOptions) => Matcher,
): { field: string; matches(caller: DenyCaller): boolean } {
  if ('client' in entry) {
    return { field, matches: (c) => c.kind === 'client' && c.clientId === entry.client };
  }
  const checks: Array<(c: Extract<DenyCaller, { issuer: string }>) => boolean> = [];
  if (entry.subject !== undefined) {
    const subject = glob(`${field}.subject`, entry.subject, { allowDoubleStar: true });
    checks.push((c) => subject(c.subject));
  }
  if (entry.email !== undefined) {
    const email = glob(`${field}.email`, entry.email, { caseInsensitiveAscii: true });
    // Verified or not: a deny entry errs toward refusing.
    checks.push((c) => c.email !== undefined && email(c.email));
  }
  for (const [key, expected] of Object.entries(entry.claims ?? {})) {
    const claim = compileClaim(key, expected, (f, p, o) => glob(f.replace(/^caller\./, `${field}.`), p, o));
    checks.push((c) => claim.matches(c.claims));
  }
  return {
    field,
    matches: (c) => c.kind !== 'client' && c.issuer === entry.issuer && checks.every((check) => check(c)),
  };
}
