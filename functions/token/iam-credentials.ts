/**
 * The IAM Credentials-compatible routes, `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`
 * and `:generateIdToken`: a bearer-authenticated caller, a strict JSON body, answers and errors as
 * Google's IAM Service Account Credentials API gives them, and exactly one audit entry per decision.
 */
import type { ServerResponse } from 'node:http';
import type { AuditEntry } from '../../shared/audit-log.js';
import { describe } from '../../shared/google-error.js';
import type { MintResult } from '../../shared/minting/minter.js';
import type { CallerIdentity } from './auth/types.js';
import { decide, type Grant } from './decide.js';
import { auditCaller, failureFields, grantedEntry, writeAudit } from './decision-audit.js';
import { callerAuthorization } from './http/credential-headers.js';
import { readBody, type FunctionRequest, type RequestContext } from './http/request-context.js';
import {
  compiledAccessTokenBody,
  compiledIdTokenBody,
  generateAccessTokenBody,
  generateIdTokenBody,
  MAX_LIFETIME_SECONDS,
  parseJsonBody,
  parseServiceAccountEmail,
} from './http/request-schemas.js';
import { sendGoogleError, sendJson } from './http/respond.js';
import type { PolicyRequest } from './policy/compile-policy.js';
import type { TokenServices } from './token-services.js';

/** `:generateAccessToken`: answers `{ accessToken, expireTime }`. */
export function generateAccessToken(
  deps: TokenServices,
  req: FunctionRequest,
  res: ServerResponse,
  ctx: RequestContext,
  serviceAccount: string,
): Promise<void> | undefined {
  return answer(deps, req, res, ctx, 'generateAccessToken', serviceAccount, readAccessTokenCall);
}

/** `:generateIdToken`: answers `{ token }`. */
export function generateIdToken(
  deps: TokenServices,
  req: FunctionRequest,
  res: ServerResponse,
  ctx: RequestContext,
  serviceAccount: string,
): Promise<void> | undefined {
  return answer(deps, req, res, ctx, 'generateIdToken', serviceAccount, readIdTokenCall);
}

/** One call read from its body: what is audited, what the policy judges, and the answer's shape. */
interface IamCall {
  target: NonNullable<AuditEntry['target']>;
  request: PolicyRequest & { includeEmail?: boolean };
  answer(minted: MintResult): Record<string, string>;
}

function readAccessTokenCall(req: FunctionRequest, email: string): IamCall {
  const body = parseJsonBody(
    readBody(req, 'application/json'),
    generateAccessTokenBody,
    compiledAccessTokenBody,
  );
  const lifetimeSeconds = body.lifetime ?? MAX_LIFETIME_SECONDS;
  return {
    target: { serviceAccount: email, scopes: body.scope, lifetimeSeconds },
    request: { kind: 'access_token', serviceAccount: email, scopes: body.scope, lifetimeSeconds },
    answer: (minted) => ({ accessToken: minted.token, expireTime: rfc3339(minted.expiresAtMs) }),
  };
}

function readIdTokenCall(req: FunctionRequest, email: string): IamCall {
  const body = parseJsonBody(readBody(req, 'application/json'), generateIdTokenBody, compiledIdTokenBody);
  return {
    target: { serviceAccount: email, audience: body.audience },
    request: {
      kind: 'id_token',
      serviceAccount: email,
      audience: body.audience,
      includeEmail: body.includeEmail,
    },
    answer: (minted) => ({ token: minted.token }),
  };
}

/**
 * Authenticates the caller (before reading the body), reads the call, decides and mints, answers,
 * and writes the one audit entry: granted, or denied/error with the status and reason sent.
 * A caller whose token was verified before, judged by a policy that needs no re-read, asking for a
 * cached token, is answered synchronously: no promise on that path (each one costs the per-request
 * async hooks functions-framework installs). Anything that must wait continues as a promise; both
 * paths run the same checks in the same order and write the same entries.
 */
function answer(
  deps: TokenServices,
  req: FunctionRequest,
  res: ServerResponse,
  ctx: RequestContext,
  action: 'generateAccessToken' | 'generateIdToken',
  serviceAccount: string,
  readCall: (req: FunctionRequest, email: string) => IamCall,
): Promise<void> | undefined {
  const now = deps.now ?? Date.now;
  let caller: CallerIdentity | undefined;
  let target: AuditEntry['target'];

  const granted = (call: IamCall, grant: Grant): void => {
    call.target.backend = grant.backend;
    sendJson(res, 200, call.answer(grant.minted));
    writeAudit(deps.audit, ctx, now(), grantedEntry(action, caller!, call.target, grant));
  };
  const failed = (err: unknown): void => {
    const sent = sendGoogleError(res, err);
    writeAudit(deps.audit, ctx, now(), {
      decision: sent.httpStatus >= 500 ? 'error' : 'denied',
      reason: sent.error.reason,
      action,
      httpStatus: sent.httpStatus,
      caller: auditCaller(caller),
      target,
      ...failureFields(err, sent.httpStatus >= 500 ? 'error' : 'denied'),
      detail: sent.error.detail ?? (sent.error.cause ? describe(sent.error.cause) : undefined),
    });
  };
  const readAndDecide = (who: CallerIdentity): { call: IamCall; grant: Grant | Promise<Grant> } => {
    caller = who;
    const call = readCall(req, parseServiceAccountEmail(serviceAccount));
    target = call.target;
    return { call, grant: decide(deps, who, call.request) };
  };

  let authorization: string | undefined;
  try {
    authorization = callerAuthorization(req);
    const known = deps.authenticateCached?.(authorization);
    if (known !== undefined) {
      const { call, grant } = readAndDecide(known);
      if (grant instanceof Promise) return grant.then((g) => granted(call, g)).catch(failed);
      granted(call, grant);
      return undefined;
    }
  } catch (err) {
    failed(err);
    return undefined;
  }
  return (async () => {
    try {
      const { call, grant } = readAndDecide(await deps.authenticate(authorization));
      granted(call, await grant);
    } catch (err) {
      failed(err);
    }
  })();
}

/**
 * RFC 3339 in UTC without fractional seconds, as Google's IAM Credentials API answers. Remembers
 * the last second formatted: cache hits for one token ask for the same instant again and again.
 */
export function rfc3339(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastText = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
    lastSecond = second;
  }
  return lastText;
}
let lastSecond = Number.NaN;
let lastText = '';
