/**
 * `GET /v1/consent/start?scopes=A B&return_to=URL`: the IAP user starts Google's authorization-code
 * flow. Checks first (nothing is set before they pass): every scope asked for is one the service
 * offers (`TVS_CONSENT_SCOPES`; `openid` and `email` are always added, to verify who consented),
 * and `return_to` passes return-to.ts. Then a fresh 256-bit `state`, PKCE verifier (S256) and OIDC
 * `nonce` are sealed into the flow cookie with the IAP user and a 10-minute expiry, and the browser
 * is sent (302) to Google with:
 * - `access_type=offline`: we want a refresh token;
 * - `prompt=consent`: Google returns a refresh token only when the consent screen was shown
 *   (a user who consented before would otherwise come back without one, and there would be
 *   nothing to store); it also shows the user exactly what they grant;
 * - `include_granted_scopes=true`: incremental authorization, the new token covers earlier grants;
 * - `login_hint`: the IAP user's email, so the account picker starts at the right account (the
 *   callback still verifies it is that account).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { cookiesSecure, type ConsentDeps } from './consent-deps.js';
import { FLOW_LIFETIME_MS, flowCookie, sealFlow } from './consent-cookie.js';
import { sendErrorPage, redirect } from './html.js';
import type { IapUser } from './iap-user.js';
import { checkReturnTo } from './return-to.js';

export const IDENTITY_SCOPES = ['openid', 'email'] as const;
const MAX_SCOPES = 50;

const random = () => randomBytes(32).toString('base64url');

/** All `scopes` parameters, split on white space. */
export function requestedScopes(params: URLSearchParams): string[] {
  return [...new Set(params.getAll('scopes').flatMap((v) => v.split(/\s+/).filter(Boolean)))];
}

export function startFlow(
  deps: ConsentDeps,
  res: ServerResponse,
  user: IapUser,
  params: URLSearchParams,
): void {
  const { config } = deps;
  const scopes = requestedScopes(params);
  const offered = new Set<string>([...config.allowedScopes, ...IDENTITY_SCOPES]);
  const refused = scopes.filter((s) => !offered.has(s));
  if (scopes.length === 0 || scopes.length > MAX_SCOPES || refused.length > 0) {
    deps.log('WARNING', 'consent start refused: scopes not offered', {
      event: 'consent_start_refused',
      reason: 'SCOPE_NOT_OFFERED',
      refusedScopes: refused.slice(0, 10).map((s) => s.slice(0, 200)),
    });
    return sendErrorPage(
      res,
      400,
      'Access not requested',
      scopes.length === 0
        ? 'No scopes were asked for.'
        : 'This service does not ask for some of the access that was requested.',
    );
  }
  const rawReturn = params.get('return_to');
  const returnTo =
    rawReturn === null
      ? `${config.selfOrigin}/v1/consent`
      : checkReturnTo(rawReturn, config.selfOrigin, config.returnToOrigins);
  if (returnTo === undefined) {
    deps.log('WARNING', 'consent start refused: return_to not allowed', {
      event: 'consent_start_refused',
      reason: 'RETURN_TO_NOT_ALLOWED',
    });
    return sendErrorPage(
      res,
      400,
      'Access not requested',
      'The page to return to is not one this service may send you to.',
    );
  }
  const verifier = random();
  const state = random();
  const nonce = random();
  const sealed = sealFlow(deps.keys.cookieKey, {
    state,
    verifier,
    nonce,
    scopes,
    returnTo,
    iapSub: user.iapSub,
    exp: deps.now() + FLOW_LIFETIME_MS,
  });
  const scope = [...new Set<string>([...IDENTITY_SCOPES, ...scopes])].join(' ');
  const target = new URL(config.authUrl);
  for (const [name, value] of [
    ['client_id', config.clientId],
    ['redirect_uri', config.redirectUri],
    ['response_type', 'code'],
    ['scope', scope],
    ['state', state],
    ['code_challenge', createHash('sha256').update(verifier).digest('base64url')],
    ['code_challenge_method', 'S256'],
    ['nonce', nonce],
    ['access_type', 'offline'],
    ['include_granted_scopes', 'true'],
    ['prompt', 'consent'],
    ['login_hint', user.email],
  ])
    target.searchParams.set(name, value);
  deps.log('INFO', 'consent flow started', { event: 'consent_started', user: user.googleSub, scopes });
  redirect(res, 302, target.toString(), { 'set-cookie': flowCookie(sealed, cookiesSecure(config)) });
}
