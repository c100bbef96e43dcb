/**
 * Mints without any service-account key: the token function's own identity calls Google's IAM
 * Service Account Credentials API (`generateAccessToken`, `generateIdToken`) for the target SA.
 * It needs `iam.serviceAccounts.getAccessToken` / `getOpenIdToken` on each target SA only
 * (see `permission-manifest.ts`). One attempt per call: the minter retries exactly the
 * transient failures, which this backend raises as {@link UpstreamUnavailable}.
 *
 * Why these two methods and not `signJwt` + the jwt-bearer exchange: one round trip instead of
 * two, one permission per token kind instead of `signJwt` (which would let the identity sign
 * arbitrary JWTs as the SA), and Google sets the expiry and claims itself.
 */
import {
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UpstreamUnavailable,
} from '../errors.js';
import { codeForHttpStatus, readGoogleError } from '../google-error.js';
import { FetchError, postJsonWithBearer } from '../http/bounded-fetch.js';
import { idTokenExpiryMs } from './id-token-expiry.js';
import { parseRetryAfter } from '../http/retry.js';
import { parseJsonObject } from '../json.js';
import type { OwnCredential } from './own-credential.js';
import type { KeylessBackend, MintedToken } from './minter.js';

export interface KeylessBackendOptions {
  /** `https://iamcredentials.googleapis.com` (or the emulator), without a trailing slash. */
  iamCredentialsUrl: string;
  /** The function's own credential (production: Application Default Credentials). */
  credential: OwnCredential;
  /** Deadline of one HTTP attempt. */
  timeoutMs: number;
  /** Lifetime asked for access tokens (Google's default and, without org policy, maximum). */
  lifetimeSeconds?: number;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

/** A transient failure of an IAM Credentials call (5xx, 429, 401 on our own token, network, garbled 200). */
function unavailable(detail: string, retryAfterMs?: number, cause?: unknown): UpstreamUnavailable {
  return new UpstreamUnavailable('The IAM Credentials API is unavailable; try again later.', {
    reason: 'KEYLESS_UPSTREAM_UNAVAILABLE',
    detail,
    retryAfterMs,
    ...(cause === undefined ? {} : { cause }),
  });
}

const MAX_RESPONSE_BYTES = 64 * 1024;
const PERMISSION = {
  generateAccessToken: 'iam.serviceAccounts.getAccessToken',
  generateIdToken: 'iam.serviceAccounts.getOpenIdToken',
} as const;
type Method = keyof typeof PERMISSION;

/** Builds the keyless backend the minter calls for SAs whose policy entry says `backend: keyless`. */
export function createKeylessBackend(options: KeylessBackendOptions): KeylessBackend {
  const now = options.now ?? Date.now;
  const defaultLifetimeSeconds = options.lifetimeSeconds ?? 3600;

  const call = async (
    method: Method,
    email: string,
    body: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<{ json: Record<string, unknown>; sentAtMs: number }> => {
    let token: string;
    try {
      token = await abortable(options.credential.accessToken(), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw unavailable("could not obtain the token service's own access token", undefined, err);
    }
    const url = `${options.iamCredentialsUrl}/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:${method}`;
    const sentAtMs = now();
    let response;
    try {
      response = await postJsonWithBearer(url, token, body, {
        timeoutMs: options.timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        signal,
        fetchImpl: options.fetchImpl,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      const what = err instanceof FetchError && err.kind === 'timeout' ? 'timed out' : 'unreachable';
      throw unavailable(`IAM Credentials ${method} ${what}`, undefined, err);
    }
    const json = parseJsonObject(response.text);
    if (response.status === 200) {
      if (!json)
        throw unavailable(`IAM Credentials ${method} answered 200 with a body that is not a JSON object`);
      return { json, sentAtMs };
    }
    throw refusal(
      method,
      email,
      response.status,
      json,
      parseRetryAfter(response.headers.get('retry-after'), now()),
      options.credential,
    );
  };

  return {
    async accessToken(email, scopes, signal, lifetimeSeconds = defaultLifetimeSeconds) {
      const { json } = await call(
        'generateAccessToken',
        email,
        { scope: scopes, lifetime: `${lifetimeSeconds}s` },
        signal,
      );
      const expiresAtMs = typeof json.expireTime === 'string' ? Date.parse(json.expireTime) : Number.NaN;
      if (typeof json.accessToken !== 'string' || !json.accessToken || !Number.isFinite(expiresAtMs)) {
        throw unavailable('IAM Credentials generateAccessToken answered without accessToken/expireTime');
      }
      return { token: json.accessToken, expiresAtMs };
    },
    async idToken(email, audience, includeEmail, signal) {
      const { json } = await call('generateIdToken', email, { audience, includeEmail }, signal);
      if (typeof json.token !== 'string' || !json.token)
        throw unavailable('IAM Credentials generateIdToken answered without a token');
      const expiresAtMs = idTokenExpiryMs(json.token);
      if (expiresAtMs === undefined)
        throw unavailable('IAM Credentials generateIdToken answered with an ID token without a valid exp');
      return { token: json.token, expiresAtMs } satisfies MintedToken;
    },
  };
}

/** Maps a non-200 answer: final refusals become our errors, transient ones an {@link UpstreamUnavailable}. */
function refusal(
  method: Method,
  email: string,
  status: number,
  json: Record<string, unknown> | undefined,
  retryAfterMs: number | undefined,
  credential: OwnCredential,
): Error {
  const google = readGoogleError(json);
  const detail =
    `${method} ${email}: ${status} ${google.status ?? ''} ${google.reason ?? ''} ${(google.message ?? '').slice(0, 300)}`
      .replace(/\s+/g, ' ')
      .trim();
  if (status === 429 || status >= 500)
    return unavailable(`IAM Credentials ${method} answered ${status}`, retryAfterMs);
  switch (codeForHttpStatus(status)) {
    case 'UNAUTHENTICATED':
      // Our own token was refused (expired or revoked early): drop it and let the retry fetch another.
      credential.invalidate();
      return unavailable(`IAM Credentials ${method} refused the token service's own credential (401)`);
    case 'PERMISSION_DENIED':
      if (google.reason === 'ACCESS_TOKEN_SCOPE_INSUFFICIENT')
        return new InternalError("The token service's own credential cannot call the IAM Credentials API.", {
          reason: 'KEYLESS_SOURCE_SCOPE_INSUFFICIENT',
          detail,
        });
      return new PermissionDeniedError(
        `The token service's identity lacks ${PERMISSION[method]} on ${email} (grant it roles/iam.serviceAccountTokenCreator on that service account).`,
        {
          reason: 'KEYLESS_PERMISSION_DENIED',
          detail,
          metadata: { permission: PERMISSION[method], serviceAccount: email },
        },
      );
    case 'NOT_FOUND':
      return new NotFoundError('The service account does not exist.', {
        reason: 'SERVICE_ACCOUNT_NOT_FOUND',
        detail,
      });
    case 'INVALID_ARGUMENT':
      return new InvalidArgumentError('The IAM Credentials API rejected the request.', {
        reason: 'KEYLESS_INVALID_ARGUMENT',
        detail,
      });
    default:
      return new InternalError('The IAM Credentials API rejected the request.', {
        reason: 'KEYLESS_UPSTREAM_REJECTED',
        detail,
      });
  }
}

/** google-auth-library takes no AbortSignal: stop waiting when ours fires (the shared refresh carries on). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
