/**
 * `GET|POST /oauth2/v3/userinfo` (endpoint `oauth.userinfo`): Google's OpenID Connect userinfo
 * (`https://www.googleapis.com/oauth2/v3/userinfo`) for a user's access token (`Authorization:
 * Bearer` or `access_token=`). Claims follow the token's scopes: `sub` always, `email` and
 * `email_verified` with the email scope, `name` with the profile scope (when the account has one).
 * A missing, unknown, expired or revoked token — or one without an identity scope (the emulator's
 * choice; Google's answer there is unverified) — is 401
 * `{"error":"invalid_request","error_description":"Invalid Credentials"}`
 * (github.com/pimplesushant/laravelsocialiteapi#1).
 */
import type { HttpDeps } from './deps.js';
import { bearerToken } from './bearer-auth.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';
import { IDENTITY_SCOPES, USERINFO_EMAIL, USERINFO_PROFILE } from '../state/user-scopes.js';

const INVALID = { error: 'invalid_request', error_description: 'Invalid Credentials' } as const;
const CHALLENGE = {
  'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
};

export function oauthUserinfoRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/oauth2\/v3\/userinfo$/,
      endpoint: 'oauth.userinfo',
      handle({ req, res, url }) {
        if (req.method !== 'GET' && req.method !== 'POST') {
          sendJson(res, 405, INVALID, { Allow: 'GET, POST' });
          return;
        }
        const value = bearerToken(req) ?? url.searchParams.get('access_token');
        const token = value ? state.tokens.active(value) : undefined;
        const user = token?.user ? state.oauthUsers.get(token.user.sub) : undefined;
        if (!token || !user || !token.scopes.some((s) => IDENTITY_SCOPES.has(s))) {
          sendJson(res, 401, INVALID, CHALLENGE);
          return;
        }
        sendJson(res, 200, {
          sub: user.sub,
          ...(token.scopes.includes(USERINFO_PROFILE) && user.name !== '' ? { name: user.name } : {}),
          ...(token.scopes.includes(USERINFO_EMAIL)
            ? { email: user.email, email_verified: user.emailVerified }
            : {}),
        });
      },
    },
  ];
}
