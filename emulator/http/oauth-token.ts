import type { ServerResponse } from 'node:http';
import type { HttpDeps } from './deps.js';
import { verifyJwtBearerAssertion } from './jwt-bearer.js';
import { mediaType, readBody, sendJson } from './respond.js';
import type { Route } from './router.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Token responses must never be cached (RFC 6749 §5.1). */
const NO_STORE = { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate', Pragma: 'no-cache' };

/** Sends an RFC 6749 error body. */
export function sendOAuthError(
  res: ServerResponse,
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error, error_description: description }, { ...NO_STORE, ...headers });
}

/** `POST /token` (endpoint `oauth.token`): the jwt-bearer grant of Google's OAuth token endpoint. */
export function oauthTokenRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/token$/,
      endpoint: 'oauth.token',
      async handle({ req, res }) {
        const nowMs = Date.now();
        if (req.method !== 'POST') {
          sendOAuthError(res, 405, 'invalid_request', `Method ${req.method ?? ''} not allowed; use POST.`, {
            Allow: 'POST',
          });
          return;
        }
        if (mediaType(req) !== 'application/x-www-form-urlencoded') {
          sendOAuthError(
            res,
            400,
            'invalid_request',
            'Content-Type must be application/x-www-form-urlencoded.',
          );
          return;
        }
        const form = new URLSearchParams((await readBody(req)).toString('utf8'));
        const grantType = form.get('grant_type') ?? '';
        if (grantType !== JWT_BEARER_GRANT) {
          sendOAuthError(
            res,
            400,
            'unsupported_grant_type',
            `Invalid grant_type: ${grantType.slice(0, 200)}`,
          );
          return;
        }
        const assertion = form.get('assertion');
        if (!assertion) {
          sendOAuthError(res, 400, 'invalid_request', 'Missing required parameter: assertion');
          return;
        }
        const grant = await verifyJwtBearerAssertion(
          { serviceAccounts: state.serviceAccounts, tokenUrl: state.urls.tokenUrl },
          assertion,
          nowMs,
        );
        if (!grant.ok) {
          sendOAuthError(res, grant.status, grant.error, grant.description);
          return;
        }
        if (grant.kind === 'id_token') {
          const idToken = await state.signingKeys.signIdToken({
            audience: grant.audience,
            subject: grant.account,
            nowMs,
          });
          sendJson(res, 200, { id_token: idToken }, NO_STORE);
          return;
        }
        const token = state.tokens.issue({
          email: grant.account.email,
          scopes: grant.scopes,
          keyId: grant.key.keyId,
          issuedBy: 'oauth.token',
          nowMs,
        });
        sendJson(
          res,
          200,
          {
            access_token: token.value,
            expires_in: Math.round((token.expiresAtMs - nowMs) / 1000),
            token_type: 'Bearer',
          },
          NO_STORE,
        );
      },
    },
  ];
}
