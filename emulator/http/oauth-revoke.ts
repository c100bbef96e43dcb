/**
 * `POST /revoke` (endpoint `oauth.revoke`): Google's revocation endpoint
 * (`https://oauth2.googleapis.com/revoke`), RFC 7009 shaped. The token comes as `token=` in the
 * query (google-auth-library's `revokeToken`) or the form body.
 *
 * Google ("Using OAuth 2.0 for Web Server Applications", "Revoking a token"): a refresh token or an
 * access token may be revoked; "if the token is an access token and it has a corresponding refresh
 * token, the refresh token will also be revoked", and revoking a token of a combined authorization
 * revokes all of its scopes — so the emulator revokes the user's whole grant to the client. Success
 * is 200; an unknown, expired or already revoked token is 400
 * `{"error":"invalid_token","error_description":"Token expired or revoked"}`. Service-account
 * access tokens cannot be revoked (they live out their hour): the emulator answers them the same
 * 400 and leaves them working (what Google answers for them is unverified). `GET` is 404, as at
 * Google since 2019 (github.com/googleapis/oauth2client#750).
 */
import type { HttpDeps } from './deps.js';
import { NO_STORE, sendOAuthError } from './oauth-error.js';
import { mediaType, readBody, sendGoogleError } from './respond.js';
import type { Route } from './router.js';

export function oauthRevokeRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/revoke$/,
      endpoint: 'oauth.revoke',
      async handle({ req, res, url }) {
        if (req.method !== 'POST') {
          sendGoogleError(res, 404, `The requested URL ${url.pathname} was not found on this server.`);
          return;
        }
        const params = new URLSearchParams(url.searchParams);
        if (mediaType(req) === 'application/x-www-form-urlencoded')
          for (const [name, value] of new URLSearchParams((await readBody(req)).toString('utf8')))
            params.set(name, value);
        const value = params.get('token');
        if (!value) {
          sendOAuthError(res, 400, 'invalid_request', 'Missing required parameter: token');
          return;
        }
        const nowMs = Date.now();
        const refresh = state.userGrants.findRefreshToken(value);
        const access = state.tokens.active(value, nowMs);
        const grantId =
          refresh && !refresh.revoked
            ? refresh.grantId
            : access
              ? state.userGrants.grantOfToken(access)?.id
              : undefined;
        if (grantId === undefined) {
          sendOAuthError(res, 400, 'invalid_token', 'Token expired or revoked');
          return;
        }
        state.userGrants.revokeGrant(grantId);
        res.writeHead(200, { ...NO_STORE, 'Content-Length': 0 });
        res.end();
      },
    },
  ];
}
