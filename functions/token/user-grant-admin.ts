/**
 * `POST /v1/users/{sub}:revokeGrant` `{"reason": "USER"|"ADMIN"}` (default ADMIN) →
 * `{sub, revoked: true, revokedAtGoogle}`: for callers the policy's `userGrantAdmins` name (the
 * consent function on a user's behalf, operators). Tombstones the grant (the refresh token is
 * erased), drops this instance's cached tokens of the user, and revokes the erased refresh token at
 * Google. Already revoked: 200 with `revokedAtGoogle: false`. No grant: 404 USER_GRANT_NOT_FOUND,
 * told only to an admin allowed for that user; everyone else gets the same 403.
 */
import type { ServerResponse } from 'node:http';
import { NotFoundError, PermissionDeniedError } from '../../shared/errors.js';
import { readBody, type FunctionRequest, type RequestContext } from './http/request-context.js';
import { sendJson } from './http/respond.js';
import { parseJsonBody } from './http/request-schemas.js';
import { parseUserSub, revokeGrantBody } from './http/user-request-schemas.js';
import type { TokenServices } from './token-services.js';
import { decideForUser, runUserRoute } from './user-route-context.js';

export function revokeUserGrant(
  deps: TokenServices,
  req: FunctionRequest,
  res: ServerResponse,
  ctx: RequestContext,
  rawSub: string,
): Promise<void> {
  return runUserRoute(
    deps,
    req,
    res,
    ctx,
    'revokeUserGrant',
    rawSub,
    async (caller, service, users, call) => {
      const sub = parseUserSub(rawSub);
      const { reason } = parseJsonBody(readBody(req, 'application/json'), revokeGrantBody);
      call.target.revokedReason = reason;

      const decision = await decideForUser(
        (email) => users.authorizeAdmin(caller, sub, email),
        async () => {
          const email = await service.grantEmail(sub);
          if (email !== undefined) call.target.user = { sub, email };
          return email;
        },
      );
      if (!decision.allowed)
        throw new PermissionDeniedError("The caller is not allowed to revoke this user's grant.", {
          reason: 'USER_GRANT_REVOKE_NOT_ALLOWED',
          ...(decision.detail ? { detail: decision.detail } : {}),
        });
      // "The user revoked" is recorded (and shown to the user) only for the entries allowed to say so.
      if (!decision.reasons.includes(reason))
        throw new PermissionDeniedError(`The caller may not record a revocation with reason ${reason}.`, {
          reason: 'USER_GRANT_REVOKE_NOT_ALLOWED',
          detail: `userGrantAdmins ${decision.rule} allows reasons ${decision.reasons.join(', ')}`,
        });

      const outcome = await service.revoke(sub, reason);
      if (!outcome.found)
        throw new NotFoundError('The user has not granted access to this service.', {
          reason: 'USER_GRANT_NOT_FOUND',
          detail: `rule ${decision.rule}`,
        });
      call.target.revokedAtGoogle = outcome.revokedAtGoogle;
      sendJson(res, 200, { sub, revoked: true, revokedAtGoogle: outcome.revokedAtGoogle });
      return {
        decision: 'done',
        reason: outcome.revokedAtGoogle ? 'USER_GRANT_REVOKED' : 'USER_GRANT_REVOKED_HERE_ONLY',
        httpStatus: 200,
        rule: decision.rule,
        ...(outcome.googleError ? { detail: `revoke at Google failed: ${outcome.googleError}` } : {}),
      };
    },
  );
}
