import type { ServerResponse } from 'node:http';
import type { EmulatorState } from '../state/emulator-state.js';
import type { HttpDeps } from './deps.js';
import { verifyJwtBearerAssertion } from './jwt-bearer.js';
import { NO_STORE, sendOAuthError, sendOAuthFailure } from './oauth-error.js';
import { authorizationCodeGrant, refreshTokenGrant } from './oauth-user-token.js';
import { mediaType, readBody, sendJson } from './respond.js';
import type { Route } from './router.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export { sendOAuthError } from './oauth-error.js';

/**
 * `POST /token` (endpoint `oauth.token`): Google's OAuth token endpoint. Grants: jwt-bearer
 * (service accounts), `authorization_code` and `refresh_token` (users, `oauth-user-token.ts`).
 */
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
        if (grantType === JWT_BEARER_GRANT) {
          await jwtBearerGrant(state, res, form, nowMs);
          return;
        }
        if (grantType === 'authorization_code' || grantType === 'refresh_token') {
          const grant = grantType === 'authorization_code' ? authorizationCodeGrant : refreshTokenGrant;
          const outcome = await grant(state, req, form, nowMs);
          if ('error' in outcome) sendOAuthFailure(res, outcome);
          else sendJson(res, 200, outcome.body, NO_STORE);
          return;
        }
        sendOAuthError(res, 400, 'unsupported_grant_type', `Invalid grant_type: ${grantType.slice(0, 200)}`);
      },
    },
  ];
}

/** The jwt-bearer grant: a service account's signed assertion for an access token or an ID token. */
async function jwtBearerGrant(
  state: EmulatorState,
  res: ServerResponse,
  form: URLSearchParams,
  nowMs: number,
): Promise<void> {
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
}
