/**
 * The token endpoint's user grants: `authorization_code` (with PKCE, RFC 7636) and
 * `refresh_token`. Google's answers, where they are not RFC 6749's own:
 * - a code that is not Google-shaped (e.g. still percent-encoded): `invalid_grant`
 *   "Malformed auth code." (github.com/google/device-access-sample-web-app#5);
 * - an unknown, expired or already used code: `invalid_grant` "Bad Request"
 *   (github.com/atinux/nuxt-auth-utils#440; Google said "Code was already redeemed." until about
 *   2017, github.com/bitly/oauth2_proxy#368);
 * - another redirect URI than the authorization request's: `redirect_uri_mismatch` "Bad Request";
 * - PKCE: "Missing code verifier." (github.com/googleapis/google-api-php-client#2669),
 *   "Invalid code verifier." (github.com/googleapis/google-api-java-client#1479), and a verifier
 *   without a challenge "code_verifier or verifier is not needed."
 *   (github.com/googleapis/google-auth-library-nodejs#2028), all `invalid_grant`;
 * - a revoked or unknown refresh token: `invalid_grant` "Token has been expired or revoked."
 *   (github.com/apache/opendal#3901).
 * A failed exchange does not spend the code (a client may retry it, e.g. without a verifier:
 * github.com/taylorwilsdon/google_workspace_mcp#710); a spent code presented again is refused and
 * revokes what its exchange issued (RFC 6749 §4.1.2 SHOULD; what Google does to those tokens is not
 * documented).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { EmulatorState } from '../state/emulator-state.js';
import type { OAuthClient } from '../state/oauth-clients.js';
import type { OAuthUser } from '../state/oauth-users.js';
import { CODE_SHAPE, type AuthorizationCode, type PkceChallenge } from '../state/user-grants.js';
import {
  canonicalScopes,
  OPENID,
  splitScopes,
  USERINFO_EMAIL,
  USERINFO_PROFILE,
} from '../state/user-scopes.js';
import { authenticateClient } from './oauth-client-auth.js';
import type { OAuthFailure } from './oauth-error.js';

/** A token response body, or an RFC 6749 error. */
export type GrantOutcome = { readonly body: Record<string, unknown> } | OAuthFailure;

/** RFC 7636 §4.1: `code-verifier = 43*128unreserved`. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

const invalidGrant = (description: string): OAuthFailure => ({
  status: 400,
  error: 'invalid_grant',
  description,
});
const missing = (name: string): OAuthFailure => ({
  status: 400,
  error: 'invalid_request',
  description: `Missing required parameter: ${name}`,
});

export async function authorizationCodeGrant(
  state: EmulatorState,
  req: IncomingMessage,
  form: URLSearchParams,
  nowMs: number,
): Promise<GrantOutcome> {
  const auth = authenticateClient(state, req, form);
  if ('error' in auth) return auth;
  const value = form.get('code');
  if (!value) return missing('code');
  if (!CODE_SHAPE.test(value)) return invalidGrant('Malformed auth code.');
  const code = state.userGrants.findCode(value, nowMs);
  if (!code || code.clientId !== auth.client.clientId) return invalidGrant('Bad Request');
  if (code.used) {
    state.userGrants.revokeIssuedFrom(code);
    return invalidGrant('Bad Request');
  }
  const redirectUri = form.get('redirect_uri');
  if (!redirectUri) return missing('redirect_uri');
  if (redirectUri !== code.redirectUri)
    return { status: 400, error: 'redirect_uri_mismatch', description: 'Bad Request' };
  const pkce = checkVerifier(code.challenge, form.get('code_verifier'));
  if (pkce) return pkce;
  // The user may have revoked the grant between consent and exchange.
  if (state.userGrants.getGrant(code.grantId)?.revoked !== false) return invalidGrant('Bad Request');
  code.used = true;
  const refreshToken = code.issueRefreshToken
    ? state.userGrants.issueRefreshToken(code, nowMs).value
    : undefined;
  return {
    body: await mintUserTokens(state, {
      client: auth.client,
      user: userOf(state, code.sub),
      code,
      scopes: code.scopes,
      refreshToken,
      nonce: code.nonce,
      nowMs,
    }),
  };
}

export async function refreshTokenGrant(
  state: EmulatorState,
  req: IncomingMessage,
  form: URLSearchParams,
  nowMs: number,
): Promise<GrantOutcome> {
  const auth = authenticateClient(state, req, form);
  if ('error' in auth) return auth;
  const value = form.get('refresh_token');
  if (!value) return missing('refresh_token');
  const record = state.userGrants.findRefreshToken(value);
  if (!record || record.revoked) return invalidGrant('Token has been expired or revoked.');
  // Google refuses another client's refresh token with `unauthorized_client` (unsure of the text).
  if (record.clientId !== auth.client.clientId)
    return { status: 400, error: 'unauthorized_client', description: 'Unauthorized' };
  const asked = canonicalScopes(splitScopes(form.get('scope')));
  // RFC 6749 §6: a narrower scope is allowed, never a wider one (Google's text here is unverified).
  if (asked.some((s) => !record.scopes.includes(s)))
    return { status: 400, error: 'invalid_scope', description: 'Bad Request' };
  const code = { id: record.codeId, grantId: record.grantId, accessType: 'offline' as const };
  return {
    body: await mintUserTokens(state, {
      client: auth.client,
      user: userOf(state, record.sub),
      code,
      scopes: asked.length > 0 ? asked : record.scopes,
      nowMs,
    }),
  };
}

/** PKCE (RFC 7636 §4.6), with Google's errors; undefined when the verifier is acceptable. */
function checkVerifier(
  challenge: PkceChallenge | undefined,
  verifier: string | null,
): OAuthFailure | undefined {
  if (!challenge) return verifier ? invalidGrant('code_verifier or verifier is not needed.') : undefined;
  if (!verifier) return invalidGrant('Missing code verifier.');
  const derived =
    challenge.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return VERIFIER.test(verifier) && derived === challenge.value
    ? undefined
    : invalidGrant('Invalid code verifier.');
}

interface MintRequest {
  readonly client: OAuthClient;
  readonly user: OAuthUser;
  readonly code: Pick<AuthorizationCode, 'id' | 'grantId' | 'accessType'>;
  readonly scopes: readonly string[];
  readonly refreshToken?: string;
  readonly nonce?: string;
  readonly nowMs: number;
}

/**
 * `{access_token, expires_in, refresh_token?, scope, token_type, id_token?}`: an opaque user access
 * token (Google's start `ya29.a0`), and an ID token when `openid` was granted, signed with the
 * emulator's Google keys (RS256; `iss`, `azp` = `aud` = client id, `sub`, `at_hash`, email claims
 * with the email scope, `name` with the profile scope, `nonce` if the request had one).
 */
async function mintUserTokens(state: EmulatorState, request: MintRequest): Promise<Record<string, unknown>> {
  const { client, user, code, scopes, nowMs } = request;
  const token = state.tokens.issue({
    email: user.email,
    scopes,
    issuedBy: 'oauth.token',
    nowMs,
    valuePrefix: 'ya29.a0',
    user: {
      sub: user.sub,
      clientId: client.clientId,
      grantId: code.grantId,
      codeId: code.id,
      accessType: code.accessType,
    },
  });
  const idToken = scopes.includes(OPENID)
    ? await state.signingKeys.signGoogleIdToken(
        {
          azp: client.clientId,
          ...(scopes.includes(USERINFO_EMAIL)
            ? { email: user.email, email_verified: user.emailVerified }
            : {}),
          at_hash: atHash(token.value),
          ...(scopes.includes(USERINFO_PROFILE) && user.name !== '' ? { name: user.name } : {}),
          ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
        },
        { audience: client.clientId, subject: user.sub, nowMs },
      )
    : undefined;
  return {
    access_token: token.value,
    expires_in: Math.round((token.expiresAtMs - nowMs) / 1000),
    ...(request.refreshToken === undefined ? {} : { refresh_token: request.refreshToken }),
    scope: scopes.join(' '),
    token_type: 'Bearer',
    ...(idToken === undefined ? {} : { id_token: idToken }),
  };
}

/** OpenID Connect Core §3.1.3.6: base64url of the left half of SHA-256 of the access token. */
function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
}

function userOf(state: EmulatorState, sub: string): OAuthUser {
  const user = state.oauthUsers.get(sub);
  // Users are never deleted, so a grant's user always exists.
  if (!user) throw new TypeError(`grant names unknown user ${sub}`);
  return user;
}
