/**
 * `GET /o/oauth2/v2/auth` (endpoint `oauth.authorize`): Google's authorization endpoint
 * (`https://accounts.google.com/o/oauth2/v2/auth`) without a UI. Who signs in and what they answer
 * comes from, in order: the next queued consent answer (`POST /__admin/oauth/consent`), else the
 * user `login_hint` names (approves everything requested), else the first seeded user (likewise).
 *
 * On approval: 302 to `redirect_uri?state=…&code=…&scope=…&authuser=0&prompt=consent|none`
 * (Google's parameters, e.g. github.com/atinux/nuxt-auth-utils#440: `…&scope=…&authuser=0&prompt=consent`;
 * `prompt=none` when no consent screen was needed). On denial: 302 with `error=access_denied&state=…`.
 */
import type { ServerResponse } from 'node:http';
import type { OAuthUser } from '../state/oauth-users.js';
import type { EmulatorState } from '../state/emulator-state.js';
import { canonicalScopes, IDENTITY_SCOPES, redirectScopeParameter } from '../state/user-scopes.js';
import type { HttpDeps } from './deps.js';
import {
  parseAuthorizationRequest,
  type AuthorizationError,
  type AuthorizationRequest,
} from './oauth-authorize-request.js';
import type { Route } from './router.js';

const NO_STORE = 'no-cache, no-store, max-age=0, must-revalidate';

export function oauthAuthorizeRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      // The v2 path google-auth-library uses, and the older one Google still serves.
      path: /^\/o\/oauth2(?:\/v2)?\/auth$/,
      endpoint: 'oauth.authorize',
      faultResponder: (ctx, status, headers) =>
        sendErrorPage(
          ctx.res,
          { status, error: 'server_error', description: 'Something went wrong.' },
          headers,
        ),
      handle({ req, res, url }) {
        if (req.method !== 'GET') {
          sendErrorPage(
            res,
            {
              status: 400,
              error: 'invalid_request',
              description: `Method ${req.method ?? ''} not allowed; use GET.`,
            },
            { Allow: 'GET' },
          );
          return;
        }
        const request = parseAuthorizationRequest(state, url.searchParams);
        if ('error' in request) {
          sendErrorPage(res, request);
          return;
        }
        answer(state, res, request);
      },
    },
  ];
}

function answer(state: EmulatorState, res: ServerResponse, request: AuthorizationRequest): void {
  const { client } = request;
  // prompt=none: no screen may be shown, so nobody can answer; the signed-in user's earlier grant decides.
  const scripted = request.prompt.has('none') ? undefined : state.consent.take(client.clientId);
  const hint = scripted?.user ?? request.loginHint;
  const user = hint === null ? state.oauthUsers.first() : state.oauthUsers.find(hint);
  if (!user) {
    // Google would show its sign-in page here; the emulator has none (emulator-only error).
    sendErrorPage(res, {
      status: 400,
      error: 'invalid_request',
      description:
        hint === null
          ? 'The emulator has no user to sign in: seed oauthUsers or POST /__admin/oauth/users.'
          : `No emulated user matches ${hint} (login_hint or queued consent answer).`,
    });
    return;
  }
  const existing = state.userGrants.current(client.clientId, user.sub);
  if (request.prompt.has('none')) {
    if (!existing || request.scopes.some((s) => !existing.scopes.has(s))) {
      // OpenID Connect Core §3.1.2.6; Google documents that prompt=none fails without prior consent.
      redirect(res, request, [['error', 'consent_required']]);
      return;
    }
    approve(state, res, request, user, request.scopes, false);
    return;
  }
  if (scripted?.decision === 'deny') {
    redirect(res, request, [['error', 'access_denied']]);
    return;
  }
  const only = scripted?.scopes ? new Set(canonicalScopes(scripted.scopes)) : undefined;
  const granted = only ? request.scopes.filter((s) => IDENTITY_SCOPES.has(s) || only.has(s)) : request.scopes;
  if (granted.length === 0) {
    redirect(res, request, [['error', 'access_denied']]);
    return;
  }
  const consentShown =
    request.prompt.has('consent') || !existing || granted.some((s) => !existing.scopes.has(s));
  approve(state, res, request, user, granted, consentShown);
}

function approve(
  state: EmulatorState,
  res: ServerResponse,
  request: AuthorizationRequest,
  user: OAuthUser,
  granted: readonly string[],
  consentShown: boolean,
): void {
  const grant = state.userGrants.grant(request.client.clientId, user.sub, granted);
  // Incremental authorization: the new token also covers everything granted before.
  const scopes = request.includeGrantedScopes ? [...grant.scopes] : [...granted];
  const code = state.userGrants.issueCode({
    clientId: request.client.clientId,
    redirectUri: request.redirectUri,
    sub: user.sub,
    grantId: grant.id,
    scopes,
    accessType: request.accessType,
    // Google returns a refresh token for offline access only when the user saw the consent screen.
    issueRefreshToken: request.accessType === 'offline' && consentShown,
    ...(request.challenge ? { challenge: request.challenge } : {}),
    ...(request.nonce === null ? {} : { nonce: request.nonce }),
  });
  redirect(res, request, [
    ['code', code.value],
    ['scope', redirectScopeParameter(request.requested, scopes)],
    ['authuser', '0'],
    ['prompt', consentShown ? 'consent' : 'none'],
  ]);
}

/** 302 to the redirect URI with `state` first, then `params` (added to any query it has). */
function redirect(res: ServerResponse, request: AuthorizationRequest, params: [string, string][]): void {
  const target = new URL(request.redirectUri);
  if (request.state !== null) target.searchParams.append('state', request.state);
  for (const [name, value] of params) target.searchParams.append(name, value);
  res.writeHead(302, { Location: target.toString(), 'Cache-Control': NO_STORE, 'Content-Length': 0 });
  res.end();
}

/** Google's error page, reduced to what a test can read: `Error <status>: <error>` and the details. */
export function sendErrorPage(
  res: ServerResponse,
  failure: AuthorizationError,
  headers: Record<string, string> = {},
): void {
  const heading = `Error ${failure.status}: ${failure.error}`;
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(heading)}</title></head>
<body><h1>Access blocked: Authorization Error</h1>
<p id="error-description">${escapeHtml(failure.description)}</p>
<p id="error-code">${escapeHtml(heading)}</p></body></html>
`;
  res.writeHead(failure.status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': NO_STORE,
    ...headers,
  });
  res.end(html);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
