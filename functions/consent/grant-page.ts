/**
 * `GET /v1/consent`: the IAP user's grant to this service — scopes, when it was granted and last
 * updated, whether it is revoked — with a form to grant access (the offered scopes) and, for a
 * live grant, a "Revoke" form carrying a CSRF token bound to this user (csrf-token.ts). Read with
 * the encrypt-only store's `describe`: the refresh token is never opened here. `notice` is one of
 * a fixed set of messages (never reflected text).
 */
import type { ServerResponse } from 'node:http';
import type { StoredGrant } from '../../shared/user-grants/grant-store.js';
import type { ConsentDeps } from './consent-deps.js';
import { issueCsrfToken } from './csrf-token.js';
import { contentSecurityPolicy, escapeHtml, page, sendHtml } from './html.js';
import type { IapUser } from './iap-user.js';

export const NOTICES = {
  granted: 'Access granted and stored.',
  revoked: 'Access revoked, here and at Google.',
  'revoked-pending':
    'Access revoked here. Revocation at Google is pending: the stored token has been erased and can no longer be used by this service. To end it at Google now, remove this app at myaccount.google.com/permissions.',
  'revoke-failed': 'Your access could not be revoked. Try again in a moment.',
} as const;
export type Notice = keyof typeof NOTICES;

export async function showGrantPage(
  deps: ConsentDeps,
  res: ServerResponse,
  user: IapUser,
  params: URLSearchParams,
): Promise<void> {
  const grant = await deps.grants.describe(deps.config.clientId, user.googleSub);
  const notice = params.get('notice');
  const noticeText =
    notice !== null && Object.hasOwn(NOTICES, notice) ? NOTICES[notice as Notice] : undefined;
  sendHtml(res, 200, renderGrantPage(deps, user, grant, noticeText), {
    'content-security-policy': contentSecurityPolicy([new URL(deps.config.authUrl).origin]),
    // Under no-referrer, browsers send `Origin: null` with the revoke form; the page holds no secret.
    'referrer-policy': 'same-origin',
  });
}

export function renderGrantPage(
  deps: Pick<ConsentDeps, 'config' | 'keys' | 'now'>,
  user: IapUser,
  grant: StoredGrant | undefined,
  notice?: string,
): string {
  const e = escapeHtml;
  const parts: string[] = [
    `<h1>Google access for this service</h1><p>Signed in as <strong id="user">${e(user.email)}</strong>.</p>`,
  ];
  if (notice) parts.push(`<p class="notice" id="notice">${e(notice)}</p>`);
  if (!grant) {
    parts.push('<p id="state">You have not granted this service access to your Google account.</p>');
  } else {
    parts.push(
      `<p id="state">${grant.revoked ? `<span class="revoked">Revoked</span> on ${e(grant.revoked.at.toISOString())} (${e(grant.revoked.reason === 'USER' ? 'by you' : grant.revoked.reason === 'ADMIN' ? 'by an administrator' : 'by Google')}).` : 'Access granted.'}</p>`,
      `<p>Granted <time id="created">${e(grant.createdAt.toISOString())}</time>, last updated <time id="updated">${e(grant.updatedAt.toISOString())}</time>.</p>`,
    );
    if (!grant.revoked) {
      parts.push(
        `<h2>Scopes</h2><ul id="scopes">${grant.scopes.map((s) => `<li><code>${e(s)}</code></li>`).join('')}</ul>`,
        `<form method="post" action="/v1/consent/revoke"><input type="hidden" name="csrf" value="${e(issueCsrfToken(deps.keys.csrfKey, user.iapSub, deps.now()))}"><button type="submit" id="revoke">Revoke</button></form>`,
      );
    }
  }
  parts.push(
    `<h2>Grant access</h2><form method="get" action="/v1/consent/start">${deps.config.allowedScopes
      .map(
        (s, i) =>
          `<label><input type="checkbox" name="scopes" value="${e(s)}" id="scope-${i}" checked> <code>${e(s)}</code></label><br>`,
      )
      .join(
        '',
      )}<input type="hidden" name="return_to" value="/v1/consent?notice=granted"><button type="submit" id="grant">Continue to Google</button></form>`,
  );
  return page('Google access', parts.join('\n'));
}
