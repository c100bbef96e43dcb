/**
 * `GET /v1/consent/callback?state=…&code=…` (or `error=…`): Google sends the browser back here.
 * In order, each failure ends the flow with a page and stores nothing:
 * 1. the flow cookie opens (sealed by us, not expired) and the `state` parameter equals its state
 *    (constant time) — otherwise this is not a flow this browser started (CSRF / login CSRF);
 * 2. the IAP user now is the one who started it (a cookie carried to another user's browser fails);
 * 3. `error=access_denied` → "not granted";
 * 4. the code is exchanged with the flow's PKCE verifier (a replayed code → Google's `invalid_grant`);
 * 5. the ID token verifies (id-token.ts) with the flow's nonce, and its `sub` is the IAP user's
 *    Google id: IAP says `accounts.google.com:<id>`, Google's ID token says `<id>` — the same
 *    account, so nobody stores a refresh token of an account they control under another user;
 * 6. a refresh token came back (we ask with `prompt=consent`, so one always should).
 * Then the grant is saved (granted scopes = the token response's `scope`), the cookie cleared and
 * the browser sent (303) to the flow's `return_to`. Codes, tokens, the verifier and the cookie are
 * never logged.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { AbortedError, TvsError } from '../../shared/errors.js';
import { describe } from '../../shared/google-error.js';
import { CodeExchangeFailed, exchangeCode, revokeAtGoogle } from './code-exchange.js';
import { cookiesSecure, type ConsentDeps } from './consent-deps.js';
import { clearedFlowCookie, openFlow, readCookie, STATE_COOKIE } from './consent-cookie.js';
import { redirect, sendErrorPage } from './html.js';
import type { IapUser } from './iap-user.js';
import { IdTokenRejected } from './id-token.js';

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Identity scopes as Google reports them in a token response (and their short request names). */
const STORED_IDENTITY_SCOPES = new Set([
  'openid',
  'email',
  'profile',
  'https://www.googleapis.com/auth/userinfo.email',
  'https://www.googleapis.com/auth/userinfo.profile',
]);
export async function finishFlow(
  deps: ConsentDeps,
  res: ServerResponse,
  user: IapUser,
  params: URLSearchParams,
  cookieHeader: string | undefined,
): Promise<void> {
  const { config, log } = deps;
  const clear = { 'set-cookie': clearedFlowCookie(cookiesSecure(config)) };
  const refuse = (status: number, reason: string, title: string, message: string) => {
    log('WARNING', 'consent callback refused', { event: 'consent_refused', reason, user: user.googleSub });
    sendErrorPage(res, status, title, message, clear);
  };
  const flow = openFlow(deps.keys.cookieKey, readCookie(cookieHeader, STATE_COOKIE), deps.now());
  if ('rejected' in flow)
    return refuse(
      400,
      `FLOW_${flow.rejected}`,
      'Sign-in not recognised',
      'This sign-in is not one this browser started, or it has expired. Start again from your access page.',
    );
  const state = params.get('state');
  if (state === null || !sameText(state, flow.state))
    return refuse(
      400,
      'STATE_MISMATCH',
      'Sign-in not recognised',
      'This sign-in is not one this browser started. Start again from your access page.',
    );
  if (user.iapSub !== flow.iapSub)
    return refuse(
      403,
      'IAP_USER_CHANGED',
      'Sign-in not recognised',
      'This sign-in was started by another user.',
    );
  const error = params.get('error');
  if (error !== null) {
    if (error === 'access_denied') {
      log('INFO', 'consent not granted by the user', { event: 'consent_denied', user: user.googleSub });
      return sendErrorPage(
        res,
        200,
        'Access not granted',
        'You did not grant access. Nothing was stored.',
        clear,
      );
    }
    return refuse(
      400,
      'GOOGLE_ERROR',
      'Access not granted',
      'Google did not grant access. Nothing was stored.',
    );
  }
  const code = params.get('code');
  if (!code)
    return refuse(400, 'NO_CODE', 'Access not granted', 'Google sent no authorization. Nothing was stored.');

  let tokens;
  try {
    tokens = await exchangeCode({
      tokenUrl: config.tokenUrl,
      clientId: config.clientId,
      clientSecret: deps.clientSecret,
      redirectUri: config.redirectUri,
      code,
      verifier: flow.verifier,
      ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
    });
  } catch (err) {
    if (!(err instanceof CodeExchangeFailed)) throw err;
    log('WARNING', 'code exchange failed', {
      event: 'consent_refused',
      reason: `CODE_EXCHANGE_${err.kind.toUpperCase()}`,
      detail: err.detail,
      user: user.googleSub,
    });
    return sendErrorPage(
      res,
      err.kind === 'rejected' ? 400 : 503,
      'Access not stored',
      err.kind === 'rejected'
        ? 'Google refused this authorization (it may have been used already). Start again.'
        : 'Google could not be reached. Try again in a moment.',
      clear,
    );
  }
  if (!tokens.idToken)
    return refuse(
      400,
      'NO_ID_TOKEN',
      'Access not stored',
      'Google did not say who signed in. Nothing was stored.',
    );
  let signedIn;
  try {
    signedIn = await deps.verifyIdToken(tokens.idToken, flow.nonce);
  } catch (err) {
    if (!(err instanceof IdTokenRejected)) throw err;
    return refuse(
      400,
      `ID_TOKEN_${err.reason}`,
      'Access not stored',
      err.reason === 'EMAIL_NOT_VERIFIED'
        ? 'The Google account has no verified email address. Nothing was stored.'
        : 'Google’s answer could not be verified. Nothing was stored.',
    );
  }
  if (signedIn.sub !== user.googleSub)
    return refuse(
      403,
      'ACCOUNT_MISMATCH',
      'Access not stored',
      'You consented with another Google account than the one you are signed in with. Nothing was stored.',
    );
  if (!tokens.refreshToken)
    return refuse(
      502,
      'NO_REFRESH_TOKEN',
      'Access not stored',
      'Google returned no long-lived access. Nothing was stored; start again.',
    );
  // Only what this service offers is kept: Google reports every scope of the grant, including one
  // the user added to the authorization URL by hand or granted this client in another flow
  // (include_granted_scopes). Identity scopes come back under Google's long names.
  const granted = tokens.scope.split(/\s+/).filter(Boolean);
  const kept = granted.filter((s) => config.allowedScopes.includes(s) || STORED_IDENTITY_SCOPES.has(s));
  if (!kept.some((s) => config.allowedScopes.includes(s)))
    return refuse(502, 'NO_SCOPES', 'Access not stored', 'Google granted no access. Nothing was stored.');
  if (kept.length < granted.length)
    log('WARNING', 'consent granted scopes this service does not offer; they are not stored', {
      event: 'consent_scopes_dropped',
      user: user.googleSub,
      dropped: granted.filter((s) => !kept.includes(s)).slice(0, 20),
    });
  const scopes = kept;

  try {
    const saved = await deps.grants.save({
      sub: signedIn.sub,
      email: signedIn.email,
      clientId: config.clientId,
      scopes,
      refreshToken: tokens.refreshToken,
    });
    log('INFO', 'consent stored', { event: 'consent_stored', user: saved.sub, scopes: saved.scopes });
  } catch (err) {
    if (err instanceof AbortedError && err.reason === 'USER_GRANT_REVOKED_DURING_SAVE') {
      // The user revoked meanwhile: the token we hold must not outlive that decision.
      const revoked = await revokeAtGoogle(config.revokeUrl, tokens.refreshToken, deps.fetchImpl);
      log('WARNING', 'consent raced a revocation; token revoked at Google', {
        event: 'consent_refused',
        reason: 'REVOKED_DURING_SAVE',
        revokedAtGoogle: revoked,
        user: user.googleSub,
      });
      return sendErrorPage(
        res,
        409,
        'Access not stored',
        'Your access was revoked while it was being stored. Start again if you want to grant it.',
        clear,
      );
    }
    log('ERROR', 'consent could not be stored', {
      event: 'consent_store_failed',
      error: describe(err),
      user: user.googleSub,
    });
    const unavailable = err instanceof TvsError && err.code === 'UNAVAILABLE';
    return sendErrorPage(
      res,
      unavailable ? 503 : 500,
      'Access not stored',
      'Your access could not be stored. Try again in a moment.',
      clear,
    );
  }
  redirect(res, 303, flow.returnTo, clear);
}
