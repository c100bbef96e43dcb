/**
 * `POST /v1/users/{sub}:generateAccessToken` `{"scope": [...]}` → `{accessToken, expireTime}`: a
 * user's access token for a caller the policy's `userTokenRules` admit, for scopes within both the
 * rule and the user's consent. Order of checks (each refusal audited once):
 *
 * 1. the caller is authenticated, `{sub}` is a Google account id, the body is strict;
 * 2. the policy: a caller no rule admits for this user and these scopes → 403 USER_TOKEN_NOT_ALLOWED.
 *    A rule naming users by email is judged with the grant's email; a user without a grant is then
 *    refused in the same words (no oracle of who consented);
 * 3. quotas per caller (as the SA routes) and per user (429);
 * 4. the grant: none → 404 USER_GRANT_NOT_FOUND; tombstoned → 400 USER_GRANT_REVOKED; a scope the
 *    user did not consent to → 403 SCOPE_NOT_CONSENTED;
 * 5. the cached token, or one refresh at Google shared by concurrent requests.
 */
import type { ServerResponse } from 'node:http';
import { fingerprintOf } from '../../shared/audit-log.js';
import { readBody, type FunctionRequest, type RequestContext } from './http/request-context.js';
import { sendJson } from './http/respond.js';
import { parseJsonBody } from './http/request-schemas.js';
import { parseUserSub, userAccessTokenBody } from './http/user-request-schemas.js';
import { rfc3339 } from './iam-credentials.js';
import type { TokenServices } from './token-services.js';
import { decideForUser, runUserRoute, userTokenNotAllowed } from './user-route-context.js';

/** Quota rule names of user token rules: never the same key as an SA rule of the same name. */
export const USER_RULE_QUOTA_PREFIX = 'user-token:';

export function generateUserAccessToken(
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
    'generateUserAccessToken',
    rawSub,
    async (caller, service, users, call) => {
      const sub = parseUserSub(rawSub);
      const { scope: scopes } = parseJsonBody(readBody(req, 'application/json'), userAccessTokenBody);
      call.target.scopes = scopes;

      const decision = await decideForUser(
        (email) => users.authorizeToken(caller, sub, scopes, email),
        // The grant's email (a cached token remembers it), read without opening the refresh token:
        // a caller the policy then refuses costs one Firestore read.
        async () =>
          service.cache.peek(service.cacheKey(sub, scopes))?.email ?? (await service.grantEmail(sub)),
      );
      if (!decision.allowed) throw userTokenNotAllowed(decision.detail);

      const rule = decision.rule;
      const key = service.cacheKey(sub, scopes);
      const quotaRule = `${USER_RULE_QUOTA_PREFIX}${rule}`;
      const quotaKey = deps.limits?.admitRequest(caller, quotaRule, decision.limits);
      service.admitUser(sub, rule, decision.userLimits, key);
      if (quotaKey !== undefined) deps.limits?.admitMint(quotaKey, quotaRule, decision.limits, key);

      const { value, hit } = await service.accessToken(sub, scopes);
      call.target.user = { sub, email: value.email };
      sendJson(res, 200, { accessToken: value.token, expireTime: rfc3339(value.expiresAtMs) });
      return {
        decision: 'granted',
        reason: 'GRANTED',
        httpStatus: 200,
        rule,
        cacheHit: hit,
        tokenFingerprint: fingerprintOf(value),
      };
    },
  );
}
