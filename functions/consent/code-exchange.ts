/**
 * The authorization code exchanged at Google's token endpoint (`TVS_GOOGLE_OAUTH_TOKEN_URL`) with
 * the PKCE verifier and the client secret (client_secret_post), bounded in time and size, no
 * redirects. Nothing of the request or the response goes into an error or a log: a rejection
 * carries Google's `error` code only (e.g. `invalid_grant` for a replayed code or a wrong verifier).
 */
import { boundedFetch, postForm } from '../../shared/http/bounded-fetch.js';
import { parseJsonObject } from '../../shared/json.js';

export interface ExchangedTokens {
  refreshToken?: string;
  idToken?: string;
  /** Space-separated scopes Google granted (`scope` of the response). */
  scope: string;
}

export class CodeExchangeFailed extends Error {
  override readonly name = 'CodeExchangeFailed';
  constructor(
    /** `rejected`: Google said no (4xx); `unavailable`: no usable answer. */
    readonly kind: 'rejected' | 'unavailable',
    /** Google's `error` code or the HTTP status: log-safe. */
    readonly detail: string,
  ) {
    super(`code exchange ${kind}: ${detail}`);
  }
}

export interface CodeExchangeRequest {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  code: string;
  verifier: string;
  fetchImpl?: typeof fetch;
}

export async function exchangeCode(request: CodeExchangeRequest): Promise<ExchangedTokens> {
  let response;
  try {
    response = await postForm(
      request.tokenUrl,
      {
        grant_type: 'authorization_code',
        code: request.code,
        redirect_uri: request.redirectUri,
        client_id: request.clientId,
        client_secret: request.clientSecret,
        code_verifier: request.verifier,
      },
      {
        timeoutMs: 10_000,
        maxBytes: 64 * 1024,
        ...(request.fetchImpl ? { fetchImpl: request.fetchImpl } : {}),
      },
    );
  } catch (err) {
    throw new CodeExchangeFailed('unavailable', (err as Error).message);
  }
  const json = parseJsonObject(response.text);
  if (response.status !== 200 || !json) {
    const error = typeof json?.error === 'string' && /^[a-z_]{1,64}$/.test(json.error) ? json.error : '';
    throw new CodeExchangeFailed(
      response.status >= 400 && response.status < 500 ? 'rejected' : 'unavailable',
      `HTTP ${response.status}${error ? ` ${error}` : ''}`,
    );
  }
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    ...(str(json.refresh_token) ? { refreshToken: str(json.refresh_token) } : {}),
    ...(str(json.id_token) ? { idToken: str(json.id_token) } : {}),
    scope: str(json.scope) ?? '',
  };
}

/**
 * Revokes a refresh token at Google (`TVS_GOOGLE_OAUTH_REVOKE_URL`): used only when a token the
 * consent side holds in memory cannot be stored (a revocation won the race). Best effort.
 */
export async function revokeAtGoogle(
  revokeUrl: string,
  token: string,
  fetchImpl?: typeof fetch,
): Promise<boolean> {
  try {
    const response = await boundedFetch(revokeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
      timeoutMs: 5_000,
      maxBytes: 16 * 1024,
      ...(fetchImpl ? { fetchImpl } : {}),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}
