/**
 * The `token` HTTP handler: routes each request to its handler, and answers unknown paths (404),
 * wrong methods (405) and the health check itself. Dependencies are passed in;
 * `create-token-function.ts` wires the real ones.
 */
import type { ServerResponse } from 'node:http';
import { InvalidArgumentError, NotFoundError } from '../../shared/errors.js';
import { runWithRequestTrace, type RequestTraceSlot } from '../../shared/ops-log.js';
import { requestContext, type FunctionRequest } from './http/request-context.js';
import { sendGoogleError, sendJson } from './http/respond.js';
import { matchRoute } from './http/route.js';
import { generateAccessToken, generateIdToken } from './iam-credentials.js';
import { handleOAuthToken } from './oauth-token.js';
import { handlePolicyNotification } from './policy-notify.js';
import type { TokenServices } from './token-services.js';
import { revokeUserGrant } from './user-grant-admin.js';
import { generateUserAccessToken } from './user-tokens.js';

/** Returns a promise only when the request could not be answered synchronously. */
export type TokenHandler = (req: FunctionRequest, res: ServerResponse) => Promise<void> | undefined;

/** Creates the handler functions-framework invokes for every request. */
export function createTokenHandler(deps: TokenServices): TokenHandler {
  const now = deps.now ?? Date.now;
  return (req, res) => {
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
    // Issue 16: ops lines written while handling this request carry its trace; emptied when the
    // response ends (at once when it was answered synchronously), so work the request started in
    // the background (a refresh-ahead) does not log under its trace later.
    const slot: RequestTraceSlot = ctx.spanId
      ? { trace: { trace: ctx.trace!, spanId: ctx.spanId, sampled: ctx.traceSampled === true } }
      : {};
    const pending = runWithRequestTrace(slot, () => dispatch(route, req, res, ctx));
    if (pending === undefined) slot.trace = undefined;
    else res.once('close', () => (slot.trace = undefined));
    return pending;
  };

  function dispatch(
    route: Exclude<ReturnType<typeof matchRoute>, { error: unknown }>['route'],
    req: FunctionRequest,
    res: ServerResponse,
    ctx: ReturnType<typeof requestContext>,
  ): Promise<void> | undefined {
    switch (route.kind) {
      case 'oauthToken':
        return handleOAuthToken(deps, req, res, ctx);
      case 'generateAccessToken':
        return generateAccessToken(deps, req, res, ctx, route.serviceAccount);
      case 'generateIdToken':
        return generateIdToken(deps, req, res, ctx, route.serviceAccount);
      case 'policyNotify':
        return handlePolicyNotification(deps, req, res, ctx);
      // Imported statically: loading them lazily split the start path into three times as many
      // chunks and cost ~10 ms of cold start (docs/performance.md); their service starts lazily.
      case 'userGenerateAccessToken':
        return generateUserAccessToken(deps, req, res, ctx, route.sub);
      case 'userRevokeGrant':
        return revokeUserGrant(deps, req, res, ctx, route.sub);
      default:
        return undefined;
    }
  }
}
