/**
 * The jwt-bearer exchange at a token endpoint (RFC 7523 as Google runs it). One attempt per
 * call; retries are the caller's (see `retry.ts`), classified with `classifyExchangeError`.
 */
import { boundedFetch, FetchError } from '../http/bounded-fetch.js';
import { parseRetryAfter } from '../http/retry.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export type ExchangeResult =
  | { kind: 'access_token'; token: string; expiresAtMs: number }
  | { kind: 'id_token'; token: string; expiresAtMs: number };

/** A failed exchange. Carries the OAuth error code, never the assertion or a token. */
export class TokenEndpointError extends Error {
  override readonly name = 'TokenEndpointError';
  constructor(
    message: string,
    readonly kind: 'oauth_error' | 'server_error' | 'malformed_response' | 'network' | 'timeout',
    readonly status: number | undefined,
    readonly oauthError: string | undefined,
    readonly retryAfterMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ExchangeOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** POSTs the assertion and parses Google's answer. Expiry is counted from when the request was sent. */
export async function exchangeAssertion(
  tokenUri: string,
  assertion: string,
  options: ExchangeOptions,
): Promise<ExchangeResult> {
  const now = options.now ?? Date.now;
  const sentAtMs = now();
  let response;
  try {
    response = await boundedFetch(tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
      timeoutMs: options.timeoutMs,
      maxBytes: MAX_RESPONSE_BYTES,
      signal: options.signal,
      fetchImpl: options.fetchImpl,
    });
  } catch (err) {
    const kind = err instanceof FetchError && err.kind === 'timeout' ? 'timeout' : 'network';
    throw new TokenEndpointError(
      `token endpoint ${kind === 'timeout' ? 'timed out' : 'unreachable'}`,
      kind,
      undefined,
      undefined,
      undefined,
      { cause: err },
    );
  }

  let body: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(response.text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      body = parsed as Record<string, unknown>;
  } catch {
    body = undefined;
  }

  if (response.status !== 200) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
    const oauthError = typeof body?.error === 'string' ? body.error : undefined;
    const kind = response.status >= 500 || response.status === 429 ? 'server_error' : 'oauth_error';
    // error_description is Google's fixed text (no secrets); keep it for the log.
    const description =
      typeof body?.error_description === 'string' ? `: ${body.error_description.slice(0, 200)}` : '';
    throw new TokenEndpointError(
      `token endpoint answered ${response.status} ${oauthError ?? ''}${description}`.trim(),
      kind,
      response.status,
      oauthError,
      retryAfterMs,
    );
  }
  if (!body)
    throw new TokenEndpointError(
      'token endpoint answered 200 with a body that is not a JSON object',
      'malformed_response',
      200,
      undefined,
      undefined,
    );

  if (typeof body.access_token === 'string' && body.access_token) {
    const expiresIn = Number(body.expires_in);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new TokenEndpointError(
        'token endpoint answered without a valid expires_in',
        'malformed_response',
        200,
        undefined,
        undefined,
      );
    }
    return { kind: 'access_token', token: body.access_token, expiresAtMs: sentAtMs + expiresIn * 1000 };
  }
  if (typeof body.id_token === 'string' && body.id_token) {
    return { kind: 'id_token', token: body.id_token, expiresAtMs: idTokenExpiryMs(body.id_token) };
  }
  throw new TokenEndpointError(
    'token endpoint answered 200 without a token',
    'malformed_response',
    200,
    undefined,
    undefined,
  );
}

/** Retry classification: 5xx, 429, network faults, timeouts and garbled 200s are transient; 4xx is final. */
export function classifyExchangeError(err: unknown): { retryable: boolean; retryAfterMs?: number } {
  if (!(err instanceof TokenEndpointError)) return { retryable: false };
  if (err.kind === 'oauth_error') return { retryable: false };
  return { retryable: true, retryAfterMs: err.retryAfterMs };
}

/**
 * Reads `exp` from an ID token we just received over TLS from the token endpoint. Only the
 * expiry is used (for caching); the token is handed on, never trusted for anything else here.
 */
function idTokenExpiryMs(idToken: string): number {
  const payload = idToken.split('.')[1];
  let exp: unknown;
  try {
    exp = (JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { exp?: unknown }).exp;
  } catch {
    exp = undefined;
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    throw new TokenEndpointError(
      'token endpoint answered with an ID token without a valid exp',
      'malformed_response',
      200,
      undefined,
      undefined,
    );
  }
  return exp * 1000;
}
