/** The one audit entry each decision writes, whichever route made it. */
import { fingerprintOf, type AuditEntry, type AuditLog } from '../../shared/audit-log.js';
import { mintOf, upstreamOf } from '../../shared/minting/mint-info.js';
import type { Grant } from './decide.js';
import type { RequestContext } from './http/request-context.js';
import type { PolicyCaller } from './policy/compile-policy.js';

/**
 * The token function's entry: the shared fields, plus `serverlessAuthorizationHeader: true` when
 * the request carried Cloud Run's `X-Serverless-Authorization` (never its value; absent otherwise).
 */
export type TokenAuditEntry = AuditEntry & { serverlessAuthorizationHeader?: true };

/** The caller as the audit entry names it: never its claims. */
export function auditCaller(caller: PolicyCaller | undefined): AuditEntry['caller'] {
  if (caller === undefined) return undefined;
  if (caller.kind === 'client') return { kind: 'client', clientId: caller.clientId };
  return { kind: caller.kind, issuer: caller.issuer, subject: caller.subject, email: caller.email };
}

/** Writes the request's one audit entry, with latency and the HTTP request summary. */
export function writeAudit(
  audit: AuditLog,
  ctx: RequestContext,
  nowMs: number,
  entry: Omit<AuditEntry, 'requestId' | 'latencyMs'>,
): void {
  const latencyMs = nowMs - ctx.startedAtMs;
  const full: TokenAuditEntry = { ...entry, requestId: ctx.requestId, latencyMs };
  if (ctx.serverlessAuthorization) full.serverlessAuthorizationHeader = true;
  audit.write(full, { trace: ctx.trace, spanId: ctx.spanId, traceSampled: ctx.traceSampled });
}

/** The entry of a granted request: the rule that allowed it and the token's fingerprint, never the token. */
export function grantedEntry(
  action: string,
  caller: PolicyCaller,
  target: AuditEntry['target'],
  grant: Grant,
): Omit<AuditEntry, 'requestId' | 'latencyMs'> {
  return {
    decision: 'granted',
    reason: 'GRANTED',
    action,
    httpStatus: 200,
    caller: auditCaller(caller),
    target: grant.accessBoundary ? { ...target, accessBoundary: grant.accessBoundary } : target,
    rule: grant.rule,
    cacheHit: grant.minted.cacheHit,
    tokenFingerprint: fingerprintOf(grant.minted),
    ...(grant.minted.mint ? { mint: grant.minted.mint } : {}),
  };
}

/** Issue 16: the `mint` a failed request made and, on an `error`, the `upstream` that caused it. */
export function failureFields(
  err: unknown,
  decision: 'error' | 'denied',
): Pick<AuditEntry, 'mint' | 'upstream'> {
  const mint = mintOf(err);
  const upstream = decision === 'error' ? upstreamOf(err) : undefined;
  return { ...(mint ? { mint } : {}), ...(upstream ? { upstream } : {}) };
}
