/**
 * The jwt-bearer exchange at a token endpoint (RFC 7523 as Google runs it). One attempt per
 * call; retries are the caller's (see `retry.ts`). Every failure is one of our errors: transient
 * ones (5xx, 429, network faults, timeouts, garbled 200s) an {@link UpstreamUnavailable}, OAuth
 * refusals (4xx) a final error the caller may show.
 */
import { InternalError, InvalidArgumentError, UpstreamUnavailable } from '../errors.js';
import { readGoogleError } from '../google-error.js';
import { postForm, transportFailure } from '../http/bounded-fetch.js';
import { parseRetryAfter } from '../http/retry.js';
import { parseJsonObject } from '../json.js';
import { idTokenExpiryMs } from './id-token-expiry.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export type ExchangeResult =
  | { kind: 'access_token'; token: string; expiresAtMs: number }
  | { kind: 'id_token'; token: string; expiresAtMs: number };

export interface ExchangeOptions {
  signal?: AbortSignal;
  timeoutMs: number;
  fetchImpl?: typeof fetch;
  now?: () => number;
  /** The key's service account, named in the log detail of a refusal. */
  serviceAccount?: string;
}

const MAX_RESPONSE_BYTES = 64 * 1024;
/** The reason of an `invalid_grant` refusal: the key itself was refused (deleted, disabled, rotated away). */
const CREDENTIAL_REJECTED = 'SERVICE_ACCOUNT_CREDENTIAL_REJECTED';

/** Whether the token endpoint refused the key itself (`invalid_grant`): a re-read may find a newer one. */
export function isKeyRefused(err: unknown): boolean {
  return err instanceof InternalError && err.reason === CREDENTIAL_REJECTED;
}

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
    response = await postForm(
      tokenUri,
      { grant_type: JWT_BEARER_GRANT, assertion },
      {
        timeoutMs: options.timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        signal: options.signal,
        fetchImpl: options.fetchImpl,
      },
    );
  } catch (err) {
    throw unavailable(transportFailure('token endpoint', err), undefined, err);
  }

  const body = parseJsonObject(response.text);
  if (response.status !== 200) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
    const { reason: oauthError, message } = readGoogleError(body);
    // error_description is Google's fixed text (no secrets); keep it for the log.
    const description = message === undefined ? '' : `: ${message.slice(0, 200)}`;
    const answered = `token endpoint answered ${response.status} ${oauthError ?? ''}${description}`.trim();
    if (response.status >= 500 || response.status === 429) throw unavailable(answered, retryAfterMs);
    throw refusal(oauthError, options.serviceAccount ? `${options.serviceAccount}: ${answered}` : answered);
  }
  if (!body) throw unavailable('token endpoint answered 200 with a body that is not a JSON object');

  if (typeof body.access_token === 'string' && body.access_token) {
    const expiresIn = Number(body.expires_in);
    if (!Number.isFinite(expiresIn) || expiresIn <= 0)
      throw unavailable('token endpoint answered without a valid expires_in');
    return { kind: 'access_token', token: body.access_token, expiresAtMs: sentAtMs + expiresIn * 1000 };
  }
  if (typeof body.id_token === 'string' && body.id_token) {
    const expiresAtMs = idTokenExpiryMs(body.id_token);
    if (expiresAtMs === undefined)
      throw unavailable('token endpoint answered with an ID token without a valid exp');
    return { kind: 'id_token', token: body.id_token, expiresAtMs };
  }
  throw unavailable('token endpoint answered 200 without a token');
}

/** A transient failure of the exchange; `detail` says what happened, for the log. */
function unavailable(detail: string, retryAfterMs?: number, cause?: unknown): UpstreamUnavailable {
  return new UpstreamUnavailable('The token endpoint is unavailable; try again later.', {
    reason: 'TOKEN_ENDPOINT_UNAVAILABLE',
    detail,
    retryAfterMs,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A final OAuth refusal (4xx) as our error. */
function refusal(oauthError: string | undefined, detail: string): InvalidArgumentError | InternalError {
  if (oauthError === 'invalid_scope')
    return new InvalidArgumentError('The token endpoint rejected the requested scopes.', {
      reason: 'INVALID_SCOPE',
      detail,
    });
  return new InternalError('The service account credential was rejected by Google.', {
    reason: oauthError === 'invalid_grant' ? CREDENTIAL_REJECTED : 'UPSTREAM_REJECTED',
    detail,
  });
}
