/** The token function's routes: path and method parsing, nothing else. */

export type Route =
  | { kind: 'generateAccessToken'; serviceAccount: string }
  | { kind: 'generateIdToken'; serviceAccount: string }
  | { kind: 'oauthToken' }
  | { kind: 'policyNotify' }
  | { kind: 'userGenerateAccessToken'; sub: string }
  | { kind: 'userRevokeGrant'; sub: string }
  | { kind: 'health' };

export type RouteResult =
  { route: Route } | { error: 'not_found' } | { error: 'method_not_allowed'; allow: string };

const IAM_PATH = /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+):(generateAccessToken|generateIdToken)$/;

/** `{sub}` is checked by the handler (after authentication): here only "no slash, no colon". */
const USER_PATH = /^\/v1\/users\/([^/:]+):(generateAccessToken|revokeGrant)$/;

/** Matches `method` and the path of `url` (query ignored) to a route. */
export function matchRoute(method: string, url: string): RouteResult {
  const path = url.split('?', 1)[0] ?? '';
  if (path === '/healthz')
    return method === 'GET' || method === 'HEAD'
      ? { route: { kind: 'health' } }
      : { error: 'method_not_allowed', allow: 'GET, HEAD' };
  if (path === '/v1/token')
    return method === 'POST'
      ? { route: { kind: 'oauthToken' } }
      : { error: 'method_not_allowed', allow: 'POST' };
  if (path === '/v1/policy:notify')
    return method === 'POST'
      ? { route: { kind: 'policyNotify' } }
      : { error: 'method_not_allowed', allow: 'POST' };
  const u = USER_PATH.exec(path);
  if (u) {
    if (method !== 'POST') return { error: 'method_not_allowed', allow: 'POST' };
    let sub: string;
    try {
      sub = decodeURIComponent(u[1]);
    } catch {
      return { error: 'not_found' };
    }
    return {
      route: { kind: u[2] === 'generateAccessToken' ? 'userGenerateAccessToken' : 'userRevokeGrant', sub },
    };
  }
  const m = IAM_PATH.exec(path);
  if (!m) return { error: 'not_found' };
  if (method !== 'POST') return { error: 'method_not_allowed', allow: 'POST' };
  let serviceAccount: string;
  try {
    serviceAccount = decodeURIComponent(m[2]);
  } catch {
    return { error: 'not_found' };
  }
  return {
    route: {
      kind: m[3] === 'generateAccessToken' ? 'generateAccessToken' : 'generateIdToken',
      serviceAccount,
    },
  };
}
