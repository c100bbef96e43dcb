/**
 * `POST /v1/consent/revoke` (form, `csrf=`): the IAP user revokes their grant. Refused (403)
 * unless `Origin` is the consent side's own origin and the CSRF token is this user's (csrf-token.ts).
 * First through the token function (`revokeGrant`, reason USER), which can open the refresh token
 * and revoke it at Google; if that fails, the grant is tombstoned here without opening it (the
 * consent identity cannot decrypt), so this service can no longer use it, and the user is told
 * that revocation at Google is pending. Post/redirect/get: 303 back to the page with a notice.
 */
import type { ServerResponse } from 'node:http';
import { describe } from '../../shared/google-error.js';
import type { ConsentDeps } from './consent-deps.js';
import { checkCsrfToken } from './csrf-token.js';
import type { Notice } from './grant-page.js';
import { redirect, sendErrorPage } from './html.js';
import type { IapUser } from './iap-user.js';

export async function revokeGrant(
  deps: ConsentDeps,
  res: ServerResponse,
  user: IapUser,
  origin: string | undefined,
  form: URLSearchParams,
): Promise<void> {
  const { config, log } = deps;
  const csrfOk = checkCsrfToken(deps.keys.csrfKey, user.iapSub, form.get('csrf'), deps.now());
  if (origin !== config.selfOrigin || !csrfOk) {
    log('WARNING', 'revoke refused', {
      event: 'consent_revoke_refused',
      reason: origin !== config.selfOrigin ? 'ORIGIN_MISMATCH' : 'CSRF_TOKEN_INVALID',
      user: user.googleSub,
    });
    return sendErrorPage(
      res,
      403,
      'Not revoked',
      'This request did not come from your access page. Nothing was changed.',
    );
  }
  const back = (notice: Notice) => redirect(res, 303, `${config.selfOrigin}/v1/consent?notice=${notice}`);
  const outcome = await deps.revokeThroughTokenFunction(user.googleSub);
  if (outcome.ok) {
    log('INFO', 'grant revoked through the token function', {
      event: 'consent_revoked',
      user: user.googleSub,
      revokedAtGoogle: outcome.revokedAtGoogle,
    });
    // The token function erased the grant; if Google could not be reached, say so, as below.
    return back(outcome.revokedAtGoogle ? 'revoked' : 'revoked-pending');
  }
  log('WARNING', 'token function did not revoke; tombstoning the grant here', {
    event: 'consent_revoke_fallback',
    detail: outcome.detail,
    user: user.googleSub,
  });
  try {
    await deps.grants.tombstone(config.clientId, user.googleSub, 'USER');
  } catch (err) {
    log('ERROR', 'revoke failed', {
      event: 'consent_revoke_failed',
      error: describe(err),
      user: user.googleSub,
    });
    return back('revoke-failed');
  }
  back('revoked-pending');
}
