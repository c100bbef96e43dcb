/**
 * The two calls the token function makes to Google's OAuth endpoints for a user's grant, one
 * attempt each (retries are the caller's):
 *
 * - Refresh (RFC 6749 §6): `grant_type=refresh_token`, `refresh_token`, `client_id`,
 *   `client_secret`, and `scope` (space-separated) — the requested subset of the consented scopes,
 *   so the access token carries only what the caller asked for. RFC 6749 §6 allows a narrower
 *   `scope` on refresh; Google's client libraries send it (google-auth-library-python's
 *   downscoped refresh, googleapis/google-auth-library-python#309; signet#67), and a wider one is
 *   refused `invalid_scope`. Expiry is counted from when the request was sent.
 *   `invalid_grant` ("Token has been expired or revoked.") means the grant is dead for good:
 *   {@link GrantRejectedByGoogle}.
 * - Revoke (Google's `https://oauth2.googleapis.com/revoke`, RFC 7009 shaped): form `token=`; 200
 *   revoked; 400 `invalid_token` = already revoked or unknown (nothing left to revoke).
 *
 * Errors never carry a token or the client secret; Google's `error` and a bounded
 * `error_description` (fixed texts) go to the log detail only.
 */
import { InternalError, UpstreamUnavailable } from '../../../shared/errors.js';
import { readGoogleError } from '../../../shared/google-error.js';
import { postForm, transportFailure } from '../../../shared/http/bounded-fetch.js';
import { parseRetryAfter } from '../../../shared/http/retry.js';
import { parseJsonObject } from '../../../shared/json.js';

const MAX_RESPONSE_BYTES = 64 * 1024;

/** Google refused the refresh token itself (`invalid_grant`): revoked by the user, expired, or reset. */
export class GrantRejectedByGoogle extends Error {
  override readonly name = 'GrantRejectedByGoogle';
  constructor(readonly detail: string) {
    super(`Google rejected the user's grant: ${detail}`);
  }
}

export interface OAuthClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  now?: () => number;
  fetchImpl?: typeof fetch;
}

/** Refreshes a user's access token for `scopes`; `{ token, expiresAtMs }`. */
export async function refreshUserAccessToken(
  tokenUrl: string,
  client: OAuthClientCredentials,
  refreshToken: string,
  scopes: readonly string[],
  options: CallOptions,
): Promise<{ token: string; expiresAtMs: number }> {
  const now = options.now ?? Date.now;
  const sentAtMs = now();
  const response = await post(
    tokenUrl,
    {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: client.clientId,
      client_secret: client.clientSecret,
      scope: scopes.join(' '),
    },
    options,
    'token endpoint',
  );
  const body = parseJsonObject(response.text);
  if (response.status !== 200) {
    const { reason: oauthError, message } = readGoogleError(body);
    const answered =
      `token endpoint answered ${response.status} ${oauthError ?? ''}${message ? `: ${message.slice(0, 200)}` : ''}`.trim();
    if (response.status >= 500 || response.status === 429)
      throw unavailable(answered, parseRetryAfter(response.headers.get('retry-after'), now()));
    if (oauthError === 'invalid_grant') throw new GrantRejectedByGoogle(answered);
    // invalid_client (a rotated secret), invalid_scope, unauthorized_client: our configuration or
    // the stored grant is wrong, not the caller's request.
    throw new InternalError('Internal error.', {
      reason: oauthError === 'invalid_client' ? 'OAUTH_CLIENT_REJECTED' : 'USER_TOKEN_REFRESH_REFUSED',
      detail: answered,
    });
  }
  const expiresIn = Number(body?.expires_in);
  if (typeof body?.access_token !== 'string' || body.access_token === '' || !(expiresIn > 0))
    throw unavailable('token endpoint answered 200 without an access_token and a valid expires_in');
  return { token: body.access_token, expiresAtMs: sentAtMs + expiresIn * 1000 };
}

/** Revokes `token` at Google: true when revoked now, false when Google no longer knew it. */
export async function revokeAtGoogle(
  revokeUrl: string,
  token: string,
  options: CallOptions,
): Promise<boolean> {
  const response = await post(revokeUrl, { token }, options, 'revoke endpoint');
  if (response.status === 200) return true;
  const { reason } = readGoogleError(parseJsonObject(response.text));
  const answered = `revoke endpoint answered ${response.status} ${reason ?? ''}`.trim();
  if (response.status === 400 && reason === 'invalid_token') return false;
  if (response.status >= 500 || response.status === 429)
    throw unavailable(
      answered,
      parseRetryAfter(response.headers.get('retry-after'), (options.now ?? Date.now)()),
    );
  throw new InternalError('Internal error.', { reason: 'USER_GRANT_REVOKE_REFUSED', detail: answered });
}

async function post(url: string, form: Record<string, string>, options: CallOptions, what: string) {
  try {
    return await postForm(url, form, {
      timeoutMs: options.timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
      signal: options.signal,
      fetchImpl: options.fetchImpl,
    });
  } catch (err) {
    throw unavailable(transportFailure(what, err), undefined, err);
  }
}

function unavailable(detail: string, retryAfterMs?: number, cause?: unknown): UpstreamUnavailable {
  return new UpstreamUnavailable('The upstream service is unavailable; try again later.', {
    reason: 'OAUTH_UNAVAILABLE',
    detail,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(cause === undefined ? {} : { cause: describeCause(cause) }),
  });
}

/** The cause without its message's URL query (a fetch error can quote the request). */
function describeCause(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
