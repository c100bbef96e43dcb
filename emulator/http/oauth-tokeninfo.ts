import type { IncomingMessage } from 'node:http';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { EmulatorState } from '../state/emulator-state.js';
import { GOOGLE_ISSUER } from '../state/google-signing-keys.js';
import type { IssuedAccessToken, UserTokenBinding } from '../state/issued-tokens.js';
import { IDENTITY_SCOPES } from '../state/user-scopes.js';
import type { HttpDeps } from './deps.js';
import { mediaType, readBody, sendJson } from './respond.js';
import type { Route } from './router.js';

/** Scopes that make tokeninfo reveal the token's email. */
const EMAIL_SCOPES = new Set(['https://www.googleapis.com/auth/userinfo.email', 'email']);

const INVALID_TOKEN = { error: 'invalid_token', error_description: 'Invalid Value' } as const;

/**
 * `GET|POST /tokeninfo` (endpoint `oauth.tokeninfo`, also at `/oauth2/v3/tokeninfo`): describes
 * an access token (`access_token=` or `Authorization: Bearer`) or a Google ID token (`id_token=`).
 */
export function oauthTokeninfoRoutes(deps: HttpDeps): Route[] {
  return [
    {
      path: /^\/(?:oauth2\/v3\/)?tokeninfo$/,
      endpoint: 'oauth.tokeninfo',
      async handle({ req, res, url }) {
        if (req.method !== 'GET' && req.method !== 'POST') {
          sendJson(res, 405, INVALID_TOKEN, { Allow: 'GET, POST' });
          return;
        }
        const params = await requestParams(req, url);
        const nowMs = Date.now();
        const idToken = params.get('id_token');
        const accessToken = params.get('access_token') ?? bearer(req);
        if (idToken) {
          const info = await describeIdToken(deps.state, idToken, nowMs);
          if (info) sendJson(res, 200, info);
          else sendJson(res, 400, INVALID_TOKEN);
          return;
        }
        if (accessToken) {
          const info = describeAccessToken(deps.state, accessToken, nowMs);
          if (info) sendJson(res, 200, info);
          else sendJson(res, 400, INVALID_TOKEN);
          return;
        }
        sendJson(res, 400, {
          error: 'invalid_request',
          error_description: 'Either access_token, id_token, or token_handle required',
        });
      },
    },
  ];
}

async function requestParams(req: IncomingMessage, url: URL): Promise<URLSearchParams> {
  const params = new URLSearchParams(url.searchParams);
  if (req.method === 'POST' && mediaType(req) === 'application/x-www-form-urlencoded') {
    for (const [name, value] of new URLSearchParams((await readBody(req)).toString('utf8')))
      params.set(name, value);
  }
  return params;
}

function bearer(req: IncomingMessage): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return match ? match[1] : null;
}

function describeAccessToken(
  state: EmulatorState,
  value: string,
  nowMs: number,
): Record<string, string> | undefined {
  const token = state.tokens.active(value, nowMs);
  if (!token) return undefined;
  if (token.user) return describeUserToken(state, token, token.user, nowMs);
  const account = state.serviceAccounts.get(token.email);
  const clientId = account?.uniqueId ?? token.email;
  const showEmail = token.scopes.some((s) => EMAIL_SCOPES.has(s));
  return {
    azp: clientId,
    aud: clientId,
    scope: token.scopes.join(' '),
    exp: String(Math.floor(token.expiresAtMs / 1000)),
    expires_in: String(Math.max(0, Math.floor((token.expiresAtMs - nowMs) / 1000))),
    // Google names the principal in `sub` when the token carries an identity scope; for a service
    // account's own token it is the account's unique id, the same as azp.
    ...(showEmail ? { sub: clientId, email: token.email, email_verified: 'true' } : {}),
    access_type: 'online',
    // EMULATOR-ONLY field: Google's tokeninfo documents nothing about a downscoped token's boundary.
    // The emulator shows the boundaries (JSON, a string like every tokeninfo value) so tests can
    // prove what a token can reach; never rely on it against Google.
    ...(token.accessBoundaries
      ? { x_emulator_access_boundaries: JSON.stringify(token.accessBoundaries) }
      : {}),
  };
}

/**
 * A user's token: `azp` and `aud` are the OAuth client, `sub` the user when the token carries an
 * identity scope, `email`/`email_verified` with the email scope, and `access_type` as the
 * authorization request asked (Google's tokeninfo answers these for user tokens).
 */
function describeUserToken(
  state: EmulatorState,
  token: IssuedAccessToken,
  user: UserTokenBinding,
  nowMs: number,
): Record<string, string> {
  const verified = state.oauthUsers.get(user.sub)?.emailVerified ?? false;
  const identity = token.scopes.some((s) => IDENTITY_SCOPES.has(s));
  const showEmail = token.scopes.some((s) => EMAIL_SCOPES.has(s));
  return {
    azp: user.clientId,
    aud: user.clientId,
    ...(identity ? { sub: user.sub } : {}),
    scope: token.scopes.join(' '),
    exp: String(Math.floor(token.expiresAtMs / 1000)),
    expires_in: String(Math.max(0, Math.floor((token.expiresAtMs - nowMs) / 1000))),
    ...(showEmail ? { email: token.email, email_verified: String(verified) } : {}),
    access_type: user.accessType,
  };
}

/** Google answers with every claim as a string, plus the header's alg/kid/typ. */
async function describeIdToken(
  state: EmulatorState,
  value: string,
  nowMs: number,
): Promise<Record<string, string> | undefined> {
  let payload: JWTPayload;
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(value);
    const key = typeof header.kid === 'string' ? state.signingKeys.publicKey(header.kid) : undefined;
    if (!key) return undefined;
    ({ payload } = await jwtVerify(value, key, {
      algorithms: ['RS256'],
      issuer: [GOOGLE_ISSUER, 'accounts.google.com'],
      currentDate: new Date(nowMs),
    }));
  } catch {
    return undefined;
  }
  const info: Record<string, string> = {};
  for (const [name, claim] of Object.entries(payload))
    info[name] = typeof claim === 'string' ? claim : JSON.stringify(claim);
  for (const name of ['alg', 'kid', 'typ']) if (typeof header[name] === 'string') info[name] = header[name];
  return info;
}
