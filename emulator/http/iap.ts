/**
 * Identity-Aware Proxy's public keys, as Google serves them, and its test control:
 * - `GET /iap/verify/public_key-jwk` (endpoint `iap.keys`): the ES256 keys as a JWKS
 *   (Google: `https://www.gstatic.com/iap/verify/public_key-jwk`);
 * - `GET /iap/verify/public_key` (endpoint `iap.keys.pem`): `{kid: PEM}` (Google: `…/public_key`);
 * - `POST /__admin/iap/login` `{user}` (a sub or an email of an emulated Google account) → 200
 *   `{sub, email}`: who the emulated IAP proxy signs in; `DELETE` signs out; `GET` → `{user|null}`;
 * - `POST /__admin/iap/assertion` `{user, audience, hd?}` → `{assertion}`: a freshly signed
 *   `x-goog-iap-jwt-assertion`, for tests that talk to an app without the proxy.
 */
import { z } from 'zod';
import type { HttpDeps } from './deps.js';
import { readJson, sendGoogleError, sendJson, sendNoContent } from './respond.js';
import type { Route } from './router.js';

const LoginBody = z.strictObject({ user: z.string().min(1) });
const AssertionBody = z.strictObject({
  user: z.string().min(1),
  audience: z.string().min(1),
  hd: z.string().min(1).optional(),
});

/** Google serves the IAP keys with a public cache lifetime; keys overlap across rotations. */
const KEYS_CACHE = 'public, max-age=3600';

export function iapRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  const keysRoute = (path: RegExp, endpoint: string, body: () => unknown): Route => ({
    path,
    endpoint,
    handle({ req, res }) {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return sendGoogleError(res, 405, 'Method Not Allowed', { Allow: 'GET' });
      sendJson(res, 200, body(), { 'Cache-Control': KEYS_CACHE });
    },
  });
  return [
    keysRoute(/^\/iap\/verify\/public_key-jwk$/, 'iap.keys', () => state.iap.jwks()),
    keysRoute(/^\/iap\/verify\/public_key$/, 'iap.keys.pem', () => state.iap.pemKeys()),
    {
      path: /^\/__admin\/iap\/login$/,
      endpoint: null,
      async handle({ req, res }) {
        if (req.method === 'GET') {
          const user =
            state.iap.signedIn === undefined ? undefined : state.oauthUsers.find(state.iap.signedIn);
          return sendJson(res, 200, { user: user ? { sub: user.sub, email: user.email } : null });
        }
        if (req.method === 'DELETE') {
          state.iap.signedIn = undefined;
          return sendNoContent(res);
        }
        if (req.method !== 'POST') return sendGoogleError(res, 405, 'Use GET, POST or DELETE.');
        const body = LoginBody.safeParse((await readJson(req)) ?? {});
        if (!body.success) return sendGoogleError(res, 400, `Invalid body: ${z.prettifyError(body.error)}`);
        const user = state.oauthUsers.find(body.data.user);
        if (!user) return sendGoogleError(res, 404, `No emulated user matches ${body.data.user}.`);
        state.iap.signedIn = user.sub;
        sendJson(res, 200, { sub: user.sub, email: user.email });
      },
    },
    {
      path: /^\/__admin\/iap\/assertion$/,
      endpoint: null,
      async handle({ req, res }) {
        if (req.method !== 'POST') return sendGoogleError(res, 405, 'Use POST.');
        const body = AssertionBody.safeParse((await readJson(req)) ?? {});
        if (!body.success) return sendGoogleError(res, 400, `Invalid body: ${z.prettifyError(body.error)}`);
        const user = state.oauthUsers.find(body.data.user);
        if (!user) return sendGoogleError(res, 404, `No emulated user matches ${body.data.user}.`);
        const assertion = await state.iap.sign({
          audience: body.data.audience,
          user,
          ...(body.data.hd ? { hd: body.data.hd } : {}),
        });
        sendJson(res, 200, { assertion });
      },
    },
  ];
}
