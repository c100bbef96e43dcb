import type { HttpDeps } from './deps.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

/** How long clients may cache the JWKS (Google serves a few hours; keys overlap across rotations). */
export const CERTS_MAX_AGE_SECONDS = 3600;

/**
 * `GET /oauth2/v3/certs` (endpoint `oauth.certs`): JWKS of the emulator's Google signing keys;
 * `GET /oauth2/v1/certs` (endpoint `oauth.certs.v1`): the same keys as `{kid: PEM certificate}`,
 * which google-auth-library's `verifyIdToken` fetches under Node.
 */
export function oauthCertsRoutes(deps: HttpDeps): Route[] {
  return [
    certsRoute(/^\/oauth2\/v1\/certs$/, 'oauth.certs.v1', () => deps.state.signingKeys.pemCertificates()),
    certsRoute(/^\/oauth2\/v3\/certs$/, 'oauth.certs', () => deps.state.signingKeys.jwks()),
  ];
}

/** A cacheable GET of the current signing keys in one of Google's two forms. */
function certsRoute(path: RegExp, endpoint: string, body: () => unknown): Route {
  return {
    path,
    endpoint,
    handle({ req, res }) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJson(
          res,
          405,
          { error: { code: 405, message: 'Method Not Allowed', status: 'INVALID_ARGUMENT' } },
          { Allow: 'GET' },
        );
        return;
      }
      sendJson(res, 200, body(), cacheHeaders());
    },
  };
}

function cacheHeaders(): Record<string, string> {
  return {
    'Cache-Control': `public, max-age=${CERTS_MAX_AGE_SECONDS}, must-revalidate, no-transform`,
    Expires: new Date(Date.now() + CERTS_MAX_AGE_SECONDS * 1000).toUTCString(),
  };
}
