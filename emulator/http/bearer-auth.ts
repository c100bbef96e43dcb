import type { IncomingMessage } from 'node:http';
import type { IssuedAccessToken, IssuedTokens } from '../state/issued-tokens.js';
import { errorInfo, RpcError } from './rpc-error.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** Google's texts for missing and invalid OAuth credentials (as its front ends send them). */
const MISSING_MESSAGE =
  'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const INVALID_MESSAGE =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const SCOPE_MESSAGE = 'Request had insufficient authentication scopes.';
const REALM = { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' };

/** Which API and method a request is for, as Google names them in ErrorInfo metadata. */
export interface ApiMethod {
  /** e.g. `iam.googleapis.com` */
  readonly service: string;
  /** e.g. `google.iam.admin.v1.IAM.CreateServiceAccountKey` */
  readonly method: string;
}

/** The bearer token of a request, or undefined when there is no `Authorization: Bearer` header. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : undefined;
}

/**
 * Requires an active emulator-issued access token carrying one of `acceptedScopes`; throws
 * 401 UNAUTHENTICATED (missing, unknown or expired token) or 403 PERMISSION_DENIED with reason
 * ACCESS_TOKEN_SCOPE_INSUFFICIENT, in the shape Google's front ends answer with.
 */
export function requireAccessToken(
  tokens: IssuedTokens,
  req: IncomingMessage,
  api: ApiMethod,
  acceptedScopes: readonly string[] = [CLOUD_PLATFORM_SCOPE],
  nowMs: number = Date.now(),
): IssuedAccessToken {
  const metadata = { service: api.service, method: api.method };
  const value = bearerToken(req);
  if (value === undefined) {
    throw new RpcError(
      'UNAUTHENTICATED',
      MISSING_MESSAGE,
      [errorInfo('CREDENTIALS_MISSING', metadata)],
      REALM,
    );
  }
  const token = tokens.active(value, nowMs);
  if (!token) {
    const expired = tokens.lookup(value) !== undefined;
    // Google says ACCESS_TOKEN_EXPIRED for an expired token; for a token it cannot parse the
    // reason is ACCESS_TOKEN_TYPE_UNSUPPORTED (observed for non-OAuth strings).
    const reason = expired ? 'ACCESS_TOKEN_EXPIRED' : 'ACCESS_TOKEN_TYPE_UNSUPPORTED';
    throw new RpcError('UNAUTHENTICATED', INVALID_MESSAGE, [errorInfo(reason, metadata)], {
      'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
    });
  }
  if (!token.scopes.some((s) => acceptedScopes.includes(s))) {
    throw new RpcError(
      'PERMISSION_DENIED',
      SCOPE_MESSAGE,
      [errorInfo('ACCESS_TOKEN_SCOPE_INSUFFICIENT', metadata)],
      {
        'WWW-Authenticate': `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="${acceptedScopes.join(' ')}"`,
      },
    );
  }
  return token;
}
