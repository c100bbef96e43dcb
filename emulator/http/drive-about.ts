/**
 * `GET /drive/v3/about?fields=…` (endpoint `drive.about.get`): a user-data API guarded by a scope,
 * Drive's `about.get` (`https://www.googleapis.com/drive/v3/about`), reduced to `kind` and `user`.
 * Drive's errors carry both the legacy `errors[]` and the modern `status`/`details` (live bodies
 * recorded in public code, e.g. a Drive client's fixtures: 401 "Login Required." with ErrorInfo
 * `CREDENTIALS_MISSING`; 401 `authError` "Invalid Credentials"; 403 `insufficientPermissions` with
 * `ACCESS_TOKEN_SCOPE_INSUFFICIENT`; 400 "Invalid field selection …"). `fields` is required for
 * `about.get`.
 */
import type { ServerResponse } from 'node:http';
import type { IssuedAccessToken } from '../state/issued-tokens.js';
import type { EmulatorState } from '../state/emulator-state.js';
import { bearerToken } from './bearer-auth.js';
import type { HttpDeps } from './deps.js';
import { sendJson } from './respond.js';
import { errorInfo } from './rpc-error.js';
import type { Route } from './router.js';

const DRIVE = 'https://www.googleapis.com/auth/drive';
/** Scopes about.get accepts (Drive API reference, `about.get` → Authorization scopes). */
export const ABOUT_SCOPES: readonly string[] = [
  DRIVE,
  `${DRIVE}.readonly`,
  `${DRIVE}.file`,
  `${DRIVE}.appdata`,
  `${DRIVE}.metadata`,
  `${DRIVE}.metadata.readonly`,
  `${DRIVE}.photos.readonly`,
  `${DRIVE}.apps.readonly`,
];

const METADATA = { service: 'drive.googleapis.com', method: 'google.apps.drive.v3.DriveAbout.Get' };
const AUTH_MESSAGE_TAIL =
  'Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const USER_FIELDS = ['kind', 'displayName', 'photoLink', 'me', 'permissionId', 'emailAddress'] as const;

export function driveAboutRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/drive\/v3\/about$/,
      endpoint: 'drive.about.get',
      handle({ req, res, url }) {
        if (req.method !== 'GET') {
          driveError(res, 405, 'Method Not Allowed', 'UNKNOWN', [{ reason: 'httpMethodNotAllowed' }]);
          return;
        }
        const token = authorize(state, bearerToken(req), res);
        if (!token) return;
        const fields = url.searchParams.get('fields');
        if (!fields) {
          const message = "The 'fields' parameter is required for this method.";
          driveError(res, 400, message, 'INVALID_ARGUMENT', [{ reason: 'required', location: 'fields' }]);
          return;
        }
        const about = { kind: 'drive#about', user: driveUser(state, token) };
        const selected = selectFields(about, fields);
        if (typeof selected === 'string') {
          const message = `Invalid field selection ${selected}`;
          driveError(res, 400, message, 'INVALID_ARGUMENT', [
            { reason: 'invalidParameter', location: 'fields' },
          ]);
          return;
        }
        sendJson(res, 200, selected);
      },
    },
  ];
}

/** The token when it is active and carries an about.get scope; otherwise answers 401/403. */
function authorize(
  state: EmulatorState,
  value: string | undefined,
  res: ServerResponse,
): IssuedAccessToken | undefined {
  if (value === undefined) {
    driveError(
      res,
      401,
      `Request is missing required authentication credential. ${AUTH_MESSAGE_TAIL}`,
      'UNAUTHENTICATED',
      [{ reason: 'required', message: 'Login Required.', location: 'Authorization', locationType: 'header' }],
      [errorInfo('CREDENTIALS_MISSING', METADATA)],
      { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' },
    );
    return undefined;
  }
  const token = state.tokens.active(value);
  if (!token) {
    driveError(
      res,
      401,
      `Request had invalid authentication credentials. ${AUTH_MESSAGE_TAIL}`,
      'UNAUTHENTICATED',
      [
        {
          reason: 'authError',
          message: 'Invalid Credentials',
          location: 'Authorization',
          locationType: 'header',
        },
      ],
      [],
      { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
    );
    return undefined;
  }
  if (!token.scopes.some((s) => ABOUT_SCOPES.includes(s))) {
    driveError(
      res,
      403,
      'Request had insufficient authentication scopes.',
      'PERMISSION_DENIED',
      [{ reason: 'insufficientPermissions', message: 'Insufficient Permission' }],
      [errorInfo('ACCESS_TOKEN_SCOPE_INSUFFICIENT', METADATA)],
      {
        'WWW-Authenticate': `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="${ABOUT_SCOPES.join(' ')}"`,
      },
    );
    return undefined;
  }
  return token;
}

/** The `user` of about: the token's user, or (a service account's own Drive) the account. */
function driveUser(state: EmulatorState, token: IssuedAccessToken): Record<string, unknown> {
  const user = token.user ? state.oauthUsers.get(token.user.sub) : undefined;
  const account = user ? undefined : state.serviceAccounts.get(token.email);
  return {
    kind: 'drive#user',
    displayName: user?.name || account?.displayName || token.email,
    photoLink: 'https://lh3.googleusercontent.com/a/default-user=s64',
    me: true,
    permissionId: user?.permissionId ?? account?.uniqueId ?? '0',
    emailAddress: token.email,
  };
}

/**
 * Applies a partial-response field mask of the form `a,b(c,d)` or `*`; returns the name of the
 * first field it cannot select (Drive answers that as "Invalid field selection NAME").
 */
function selectFields(
  about: { kind: string; user: Record<string, unknown> },
  mask: string,
): Record<string, unknown> | string {
  if (mask.trim() === '*') return about;
  const result: Record<string, unknown> = {};
  for (const part of mask.match(/[^,(]+(?:\([^)]*\))?/g) ?? []) {
    const match = /^\s*([A-Za-z]+)\s*(?:\(([^)]*)\))?\s*$/.exec(part);
    if (!match) return part.trim();
    const [, name, inner] = match;
    if (name === 'kind' && inner === undefined) result.kind = about.kind;
    else if (name === 'user') {
      if (inner === undefined || inner.trim() === '*') result.user = about.user;
      else {
        const user: Record<string, unknown> = {};
        for (const field of inner.split(',').map((f) => f.trim())) {
          if (!(USER_FIELDS as readonly string[]).includes(field)) return `user(${field})`;
          user[field] = about.user[field];
        }
        result.user = user;
      }
    } else return name;
  }
  return result;
}

interface LegacyError {
  readonly reason: string;
  readonly message?: string;
  readonly location?: string;
  readonly locationType?: string;
}

/** Drive's error body: `{error: {code, message, errors: [...], status, details?}}`. */
function driveError(
  res: ServerResponse,
  code: number,
  message: string,
  status: string,
  errors: readonly LegacyError[],
  details: readonly Record<string, unknown>[] = [],
  headers: Record<string, string> = {},
): void {
  sendJson(
    res,
    code,
    {
      error: {
        code,
        message,
        errors: errors.map((e) => ({
          message: e.message ?? message,
          domain: 'global',
          reason: e.reason,
          ...(e.location ? { location: e.location, locationType: e.locationType ?? 'parameter' } : {}),
        })),
        status,
        ...(details.length > 0 ? { details } : {}),
      },
    },
    headers,
  );
}
