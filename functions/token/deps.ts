/** The token handler's dependencies and the small helpers every route shares. */
import type { AuditEntry, AuditLog } from '../../shared/audit-log.js';
import type { Minter } from '../../shared/minting/minter.js';
import type { RequestContext } from './http/request-context.js';
import type { AcceptedAudiences } from './policy/accepted-audiences.js';
import type { ClientAuthenticator } from './oauth/client-authenticator.js';
import type { PolicyCaller } from './policy/compile-policy.js';
import type { PolicyProvider } from './policy/policy-provider.js';

/** A verified caller, as the authentication module returns it. */
export interface VerifiedCaller {
  kind: string;
  issuer: string;
  subject: string;
  email?: string;
  emailVerified?: boolean;
  claims: Readonly<Record<string, unknown>>;
}

export interface TokenAppDeps {
  authenticate(authorization: string | undefined): Promise<VerifiedCaller>;
  /** Verifies an RFC 8693 subject token (an OIDC JWT from a configured issuer). */
  verifySubjectToken(token: string): Promise<VerifiedCaller>;
  policy: PolicyProvider;
  /** Audiences accepted in callers' tokens: never minted as ID-token audiences. */
  acceptedAudiences: AcceptedAudiences;
  /** OAuth client_credentials: throttled scrypt verification of client secrets. */
  clientAuth: ClientAuthenticator;
  minter: Minter;
  audit: AuditLog;
  projectId?: string;
  now?: () => number;
}

export function toPolicyCaller(caller: VerifiedCaller): PolicyCaller {
  return {
    kind: 'oidc',
    credential: caller.kind === 'google_access_token' ? 'access_token' : 'id_token',
    issuer: caller.issuer,
    subject: caller.subject,
    email: caller.email,
    emailVerified: caller.emailVerified,
    claims: caller.claims,
  };
}

export function auditCaller(caller: VerifiedCaller | undefined): AuditEntry['caller'] {
  return caller && { kind: caller.kind, issuer: caller.issuer, subject: caller.subject, email: caller.email };
}

/** Writes the request's one audit entry, with latency and the HTTP request summary. */
export function writeAudit(
  audit: AuditLog,
  ctx: RequestContext,
  nowMs: number,
  entry: Omit<AuditEntry, 'requestId' | 'latencyMs'>,
): void {
  const latencyMs = nowMs - ctx.startedAtMs;
  audit.write({ ...entry, requestId: ctx.requestId, latencyMs }, { trace: ctx.trace });
}
