/**
 * The `token` HTTP handler: routes, the IAM Credentials-compatible endpoints, and exactly one
 * audit entry per decision. Dependencies are passed in; `index.ts` wires the real ones.
 */
import type { ServerResponse } from 'node:http';
import { tokenFingerprint, type AuditEntry } from '../../shared/audit-log.js';
import { NotFoundError, InvalidArgumentError } from '../../shared/errors.js';
import { describe } from '../../shared/google-error.js';
import { decideAndMint } from './decide.js';
import { sendGoogleError, sendJson } from './http/respond.js';
import { header, readBody, requestContext, type FunctionRequest } from './http/request-context.js';
import {
  generateAccessTokenBody,
  generateIdTokenBody,
  MAX_LIFETIME_SECONDS,
  parseJsonBody,
  parseServiceAccountEmail,
} from './http/request-schemas.js';
import { matchRoute } from './http/route.js';
import type { PolicyRequest } from './policy/compile-policy.js';
import { handleOAuthToken } from './oauth-token.js';
import type { CallerIdentity } from './auth/types.js';
import { auditCaller, writeAudit } from './decision-audit.js';
import type { TokenServices } from './token-services.js';

export type TokenHandler = (req: FunctionRequest, res: ServerResponse) => Promise<void>;

/** Creates the handler functions-framework invokes for every request. */
export function createTokenHandler(deps: TokenServices): TokenHandler {
  const now = deps.now ?? Date.now;
  return async (req, res) => {
    const matched = matchRoute(req.method ?? 'GET', req.url ?? '/');
    if ('error' in matched) {
      if (matched.error === 'method_not_allowed') {
        sendGoogleError(
          res,
          new InvalidArgumentError('Method not allowed for this path.', {
            reason: 'METHOD_NOT_ALLOWED',
            httpStatus: 405,
          }),
          { allow: matched.allow },
        );
        return;
      }
      sendGoogleError(
        res,
        new NotFoundError('The requested URL was not found on this server.', { reason: 'PATH_NOT_FOUND' }),
      );
      return;
    }
    const route = matched.route;
    if (route.kind === 'health') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    const ctx = requestContext(req, deps.projectId, now());
    if (route.kind === 'oauthToken') {
      await handleOAuthToken(deps, req, res, ctx);
      return;
    }

    const action = route.kind;
    let caller: CallerIdentity | undefined;
    let target: AuditEntry['target'];
    try {
      caller = await deps.authenticate(header(req, 'authorization'));
      const email = parseServiceAccountEmail(route.serviceAccount);
      let request: PolicyRequest & { includeEmail?: boolean };
      if (action === 'generateAccessToken') {
        const body = parseJsonBody(readBody(req, 'application/json'), generateAccessTokenBody);
        const lifetimeSeconds = body.lifetime ?? MAX_LIFETIME_SECONDS;
        target = { serviceAccount: email, scopes: body.scope, lifetimeSeconds };
        request = { kind: 'access_token', serviceAccount: email, scopes: body.scope, lifetimeSeconds };
      } else {
        const body = parseJsonBody(readBody(req, 'application/json'), generateIdTokenBody);
        target = { serviceAccount: email, audience: body.audience };
        request = {
          kind: 'id_token',
          serviceAccount: email,
          audience: body.audience,
          includeEmail: body.includeEmail,
        };
      }
      const grant = await decideAndMint(deps, caller, request);
      target.backend = grant.backend;
      const { token, expiresAtMs, cacheHit } = grant.minted;
      sendJson(
        res,
        200,
        request.kind === 'access_token'
          ? { accessToken: token, expireTime: rfc3339(expiresAtMs) }
          : { token },
      );
      writeAudit(deps.audit, ctx, now(), {
        decision: 'granted',
        reason: 'GRANTED',
        action,
        httpStatus: 200,
        caller: auditCaller(caller),
        target,
        rule: grant.rule,
        cacheHit,
        tokenFingerprint: tokenFingerprint(token),
      });
    } catch (err) {
      const sent = sendGoogleError(res, err);
      writeAudit(deps.audit, ctx, now(), {
        decision: sent.httpStatus >= 500 ? 'error' : 'denied',
        reason: sent.error.reason,
        action,
        httpStatus: sent.httpStatus,
        caller: auditCaller(caller),
        target,
        detail: sent.error.detail ?? (sent.error.cause ? describe(sent.error.cause) : undefined),
      });
    }
  };
}

/** RFC 3339 in UTC without fractional seconds, as Google's IAM Credentials API answers. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
