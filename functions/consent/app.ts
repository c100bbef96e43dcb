/**
 * The `consent` HTTP handler: every route but the health check first verifies the IAP assertion
 * (401 without a valid one), then routes. Unknown paths 404, wrong methods 405. Any unexpected
 * failure is logged by kind and answered with a generic page (never a stack or a secret).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe } from '../../shared/google-error.js';
import type { ConsentDeps } from './consent-deps.js';
import { finishFlow } from './finish-flow.js';
import { showGrantPage } from './grant-page.js';
import { sendErrorPage } from './html.js';
import { IAP_HEADER, IapAssertionRejected, type IapUser } from './iap-user.js';
import { revokeGrant } from './revoke-grant.js';
import { startFlow } from './start-flow.js';

/** What functions-framework hands us: node's request plus express's parsed-body leftovers. */
export type ConsentRequest = IncomingMessage & { rawBody?: Buffer; bodyError?: string };
export type ConsentHandler = (req: ConsentRequest, res: ServerResponse) => Promise<void>;

const ROUTES: Record<string, string> = {
  '/v1/consent': 'GET',
  '/v1/consent/start': 'GET',
  '/v1/consent/callback': 'GET',
  '/v1/consent/revoke': 'POST',
  '/healthz': 'GET',
};
const MAX_FORM_BYTES = 8 * 1024;

export function createConsentHandler(deps: ConsentDeps): ConsentHandler {
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://consent.invalid');
    const method = ROUTES[url.pathname];
    if (method === undefined) return sendErrorPage(res, 404, 'Not found', 'There is no such page.');
    if (req.method !== method && !(method === 'GET' && req.method === 'HEAD'))
      return sendErrorPage(res, 405, 'Method not allowed', 'This page does not accept that method.', {
        allow: method,
      });
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return void res.end('{"status":"ok"}');
    }
    let user: IapUser;
    try {
      const header = req.headers[IAP_HEADER];
      user = await deps.verifyIap(typeof header === 'string' ? header : undefined);
    } catch (err) {
      if (!(err instanceof IapAssertionRejected)) throw err;
      deps.log('WARNING', 'request without a valid IAP assertion', {
        event: 'iap_rejected',
        detail: err.message,
      });
      return sendErrorPage(
        res,
        401,
        'Not signed in',
        'This page is only served through Identity-Aware Proxy.',
      );
    }
    try {
      switch (url.pathname) {
        case '/v1/consent':
          return await showGrantPage(deps, res, user, url.searchParams);
        case '/v1/consent/start':
          return startFlow(deps, res, user, url.searchParams);
        case '/v1/consent/callback':
          return await finishFlow(deps, res, user, url.searchParams, req.headers.cookie);
        case '/v1/consent/revoke': {
          const form = readForm(req);
          if (!form) return sendErrorPage(res, 400, 'Not revoked', 'The request was not a form submission.');
          const origin = req.headers.origin;
          return await revokeGrant(deps, res, user, typeof origin === 'string' ? origin : undefined, form);
        }
      }
    } catch (err) {
      deps.log('ERROR', 'consent request failed', {
        event: 'consent_error',
        error: describe(err),
        user: user.googleSub,
      });
      if (!res.headersSent) sendErrorPage(res, 500, 'Something went wrong', 'Try again in a moment.');
      else res.destroy();
    }
  };
}

/** The urlencoded form functions-framework read (its raw bytes), or undefined. */
function readForm(req: ConsentRequest): URLSearchParams | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' || req.bodyError !== undefined) return undefined;
  const raw = req.rawBody;
  if (raw !== undefined && raw.length > MAX_FORM_BYTES) return undefined;
  return new URLSearchParams(raw?.toString('utf8') ?? '');
}
