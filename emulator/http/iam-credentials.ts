/**
 * The IAM Service Account Credentials API (`iamcredentials.googleapis.com/v1`):
 * `projects/-/serviceAccounts/{sa}:generateAccessToken` and `:generateIdToken`, with Google's
 * checks — an active cloud-platform access token as the caller, the method's permission on the
 * target SA (and on each delegate hop), lifetime ≤ 1 h unless the lifetime-extension org policy
 * lists the SA (≤ 12 h) — and Google's error bodies. Endpoint names:
 * `iamcredentials.generateAccessToken`, `iamcredentials.generateIdToken`.
 */
import type { IncomingMessage } from 'node:http';
import type { EmulatorState } from '../state/emulator-state.js';
import { MAX_EXTENDED_LIFETIME_SECONDS, serviceAccountMember } from '../state/iam-grants.js';
import type { IssuedAccessToken } from '../state/issued-tokens.js';
import type { ServiceAccount } from '../state/service-accounts.js';
import type { HttpDeps } from './deps.js';
import {
  badRequest,
  delegateAccount,
  IamCredentialsRefusal,
  parseAccessTokenRequest,
  parseIdTokenRequest,
} from './iam-credentials-request.js';
import { googleErrorBody, readJson, sendJson } from './respond.js';
import type { Route } from './router.js';

const SERVICE = 'iamcredentials.googleapis.com';
/** Scopes that authorise a call to IAM Credentials. */
const ACCEPTED_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/iam',
];
const DEFAULT_LIFETIME_SECONDS = 3600;

const PERMISSION = {
  generateAccessToken: 'iam.serviceAccounts.getAccessToken',
  generateIdToken: 'iam.serviceAccounts.getOpenIdToken',
} as const;
type Method = keyof typeof PERMISSION;

const UNAUTHENTICATED_TEXT =
  'Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

/** Routes of the IAM Credentials API (matched on the emulator's single HTTP port). */
export function iamCredentialsRoutes(deps: HttpDeps): Route[] {
  const { state } = deps;
  return [
    {
      path: /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+):(generateAccessToken|generateIdToken)$/,
      endpoint: ({ match }) => `iamcredentials.${match[3]}`,
      async handle({ req, res, match }) {
        const method = match[3] as Method;
        try {
          if (req.method !== 'POST') throw new IamCredentialsRefusal(404, 'Method not found.');
          const caller = authenticate(state, req, method);
          const body = await readJson(req);
          const target = resolveName(match[1], decodeURIComponent(match[2]));
          if (method === 'generateAccessToken') {
            const request = parseAccessTokenRequest(body);
            const account = authorize(state, caller, target, request.delegates, method);
            const lifetimeSeconds = checkLifetime(state, account, request.lifetimeMs);
            const token = state.tokens.issue({
              email: account.email,
              scopes: request.scope,
              issuedBy: 'iamcredentials.generateAccessToken',
              lifetimeSeconds,
            });
            sendJson(res, 200, { accessToken: token.value, expireTime: rfc3339(token.expiresAtMs) });
          } else {
            const request = parseIdTokenRequest(body);
            const account = authorize(state, caller, target, request.delegates, method);
            const token = await state.signingKeys.signIdToken({
              audience: request.audience,
              subject: account,
              includeEmail: request.includeEmail,
            });
            sendJson(res, 200, { token });
          }
        } catch (error) {
          if (!(error instanceof IamCredentialsRefusal)) throw error;
          const headers: Record<string, string> =
            error.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' } : {};
          sendJson(res, error.status, googleErrorBody(error.status, error.message, error.details), headers);
        }
      },
    },
  ];
}

/** Requires an active emulator-issued access token with a scope IAM Credentials accepts. */
function authenticate(state: EmulatorState, req: IncomingMessage, method: Method): IssuedAccessToken {
  const info = (reason: string) => [
    errorInfo(reason, 'googleapis.com', {
      service: SERVICE,
      method: `google.iam.credentials.v1.IAMCredentials.${upperFirst(method)}`,
    }),
  ];
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match)
    throw new IamCredentialsRefusal(
      401,
      `Request is missing required authentication credential. ${UNAUTHENTICATED_TEXT}`,
      info('CREDENTIALS_MISSING'),
    );
  const token = state.tokens.active(match[1]);
  if (!token) {
    const reason = state.tokens.lookup(match[1]) ? 'ACCESS_TOKEN_EXPIRED' : 'ACCESS_TOKEN_TYPE_UNSUPPORTED';
    throw new IamCredentialsRefusal(
      401,
      `Request had invalid authentication credentials. ${UNAUTHENTICATED_TEXT}`,
      info(reason),
    );
  }
  // Google answers a token without a suitable scope with 403, not 401.
  if (!token.scopes.some((s) => ACCEPTED_SCOPES.includes(s))) {
    throw new IamCredentialsRefusal(
      403,
      'Request had insufficient authentication scopes.',
      info('ACCESS_TOKEN_SCOPE_INSUFFICIENT'),
    );
  }
  return token;
}

/** The `{sa}` of `projects/{p}/serviceAccounts/{sa}`: the `-` wildcard is required. */
function resolveName(project: string, account: string): string {
  if (project !== '-')
    throw badRequest(
      'name',
      'The resource name must be of the form projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}.',
    );
  return account;
}

/**
 * Walks caller → delegates… → target: each principal must hold the method's permission on the
 * next. An unknown SA is refused exactly like a missing grant (`projects/-` hides existence).
 */
function authorize(
  state: EmulatorState,
  caller: IssuedAccessToken,
  target: string,
  delegates: readonly string[],
  method: Method,
): ServiceAccount {
  const permission = PERMISSION[method];
  let principal = serviceAccountMember(caller.email);
  let account: ServiceAccount | undefined;
  for (const name of [...delegates.map(delegateAccount), target]) {
    account = lookup(state, name);
    if (!account || !state.iam.allows(account.email, principal, permission)) {
      throw new IamCredentialsRefusal(
        403,
        `Permission '${permission}' denied on resource (or it may not exist).`,
        [errorInfo('IAM_PERMISSION_DENIED', 'iam.googleapis.com', { permission })],
      );
    }
    principal = serviceAccountMember(account.email);
  }
  if (account!.disabled) throw new IamCredentialsRefusal(400, 'Precondition check failed.');
  return account!;
}

function lookup(state: EmulatorState, name: string): ServiceAccount | undefined {
  return /^\d+$/.test(name) ? state.serviceAccounts.getByUniqueId(name) : state.serviceAccounts.get(name);
}

/** Seconds the token lives: unset = 1 h; above 1 h only with the org-policy extension, never above 12 h. */
function checkLifetime(state: EmulatorState, account: ServiceAccount, lifetimeMs: number): number {
  if (lifetimeMs === 0) return DEFAULT_LIFETIME_SECONDS;
  const seconds = lifetimeMs / 1000;
  const maxSeconds = state.iam.allowsLifetimeExtension(account.email)
    ? MAX_EXTENDED_LIFETIME_SECONDS
    : DEFAULT_LIFETIME_SECONDS;
  if (seconds > maxSeconds) {
    throw badRequest(
      'lifetime',
      `The lifetime must be at most ${maxSeconds} seconds for this service account; longer lifetimes need the constraints/iam.allowServiceAccountCredentialLifetimeExtension organization policy (maximum ${MAX_EXTENDED_LIFETIME_SECONDS} seconds).`,
    );
  }
  return seconds;
}

function errorInfo(
  reason: string,
  domain: string,
  metadata: Record<string, string>,
): Record<string, unknown> {
  return { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain, metadata };
}

/** RFC 3339 UTC without fractional seconds, as Google answers `expireTime`. */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
