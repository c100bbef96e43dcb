/**
 * What both user routes share: the feature switch, the caller, the policy's user sections with the
 * break-glass caller deny list, and the one audit entry per decision naming the caller and the user
 * (never a token).
 */
import type { ServerResponse } from 'node:http';
import type { AuditEntry } from '../../shared/audit-log.js';
import { FailedPreconditionError, PermissionDeniedError } from '../../shared/errors.js';
import { describe } from '../../shared/google-error.js';
import type { CallerIdentity } from './auth/types.js';
import { auditCaller, failureFields, writeAudit } from './decision-audit.js';
import { callerAuthorization } from './http/credential-headers.js';
import type { FunctionRequest, RequestContext } from './http/request-context.js';
import { sendGoogleError } from './http/respond.js';
import type { CompiledUserPolicy } from './policy/user-token-rules.js';
import type { TokenServices } from './token-services.js';
import type { UserTokenService } from './user-grants/user-token-service.js';

/** Answered when TVS_USER_CONSENT_CLIENT_ID is unset: the route exists, this deployment has it off. */
export function userFeaturesOff(): FailedPreconditionError {
  return new FailedPreconditionError('User-delegated tokens are not enabled in this deployment.', {
    reason: 'USER_TOKENS_NOT_ENABLED',
    httpStatus: 501,
  });
}

/** A caller on the break-glass list gets nothing here either. */
export function checkCallerNotDenied(
  policy: {
    deny: { check: (c: CallerIdentity, sa: string) => { reason: string; entry: string } | undefined };
  },
  caller: CallerIdentity,
): void {
  const denied = policy.deny.check(caller, '');
  if (denied?.reason === 'CALLER_DENIED')
    throw new PermissionDeniedError('The caller is not allowed to obtain tokens from this service.', {
      reason: 'CALLER_DENIED',
      detail: `policy ${denied.entry}`,
    });
}

/**
 * Judges a user route's caller: first without the user's email, then — when a rule that admits the
 * caller names users by email — once more with the grant's email, which `email()` reads only then.
 * Without a grant (no email) the first answer stands.
 */
export async function decideForUser<D extends { allowed: boolean; needsEmail?: boolean }>(
  decide: (email?: string) => D,
  email: () => Promise<string | undefined>,
): Promise<D> {
  const first = decide();
  if (first.allowed || !first.needsEmail) return first;
  const found = await email();
  return found === undefined ? first : decide(found);
}

export interface UserCall {
  caller?: CallerIdentity;
  target: NonNullable<AuditEntry['target']>;
}

/**
 * Runs one user route: authenticates, hands the caller, the service and the policy's user sections
 * to `handle`, and writes the audit entry of the outcome (`handle` returns the granted entry's
 * fields). Every failure is answered in Google's error model and audited as denied or error.
 */
export async function runUserRoute(
  deps: TokenServices,
  req: FunctionRequest,
  res: ServerResponse,
  ctx: RequestContext,
  action: string,
  sub: string,
  handle: (
    caller: CallerIdentity,
    service: UserTokenService,
    users: CompiledUserPolicy,
    call: UserCall,
  ) => Promise<Omit<AuditEntry, 'requestId' | 'latencyMs' | 'action' | 'caller' | 'target'>>,
): Promise<void> {
  const now = deps.now ?? Date.now;
  const call: UserCall = { target: { user: { sub: sub.slice(0, 300) } } };
  try {
    if (!deps.userTokens) throw userFeaturesOff();
    const caller = await deps.authenticate(callerAuthorization(req));
    call.caller = caller;
    const [service, policy] = await Promise.all([deps.userTokens(), deps.policy.currentForRequest()]);
    checkCallerNotDenied(policy, caller);
    const users = policy.users;
    if (!users) throw userFeaturesOff();
    const outcome = await handle(caller, service, users, call);
    writeAudit(deps.audit, ctx, now(), {
      ...outcome,
      action,
      caller: auditCaller(caller),
      target: call.target,
    });
  } catch (err) {
    const sent = sendGoogleError(res, err);
    const decision = sent.httpStatus >= 500 && sent.httpStatus !== 501 ? 'error' : 'denied';
    writeAudit(deps.audit, ctx, now(), {
      decision,
      reason: sent.error.reason,
      action,
      httpStatus: sent.httpStatus,
      caller: auditCaller(call.caller),
      target: call.target,
      ...failureFields(err, decision),
      detail: sent.error.detail ?? (sent.error.cause ? describe(sent.error.cause) : undefined),
    });
  }
}

/** The refusal of a caller no rule admits for this user: the same whether or not the user has a grant. */
export function userTokenNotAllowed(detail?: string): PermissionDeniedError {
  return new PermissionDeniedError(
    "The caller is not allowed to obtain this user's tokens for these scopes.",
    {
      reason: 'USER_TOKEN_NOT_ALLOWED',
      ...(detail ? { detail } : {}),
    },
  );
}
