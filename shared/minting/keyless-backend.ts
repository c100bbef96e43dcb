/**
 * Mints without any service-account key: the token function's own identity calls Google's IAM
 * Service Account Credentials API (`generateAccessToken`, `generateIdToken`) for the target SA.
 * It needs `iam.serviceAccounts.getAccessToken` / `getOpenIdToken` on each target SA only
 * (see `permission-manifest.ts`). One attempt per call: the minter retries, classifying
 * failures with {@link classifyKeylessError}.
 *
 * Why these two methods and not `signJwt` + the jwt-bearer exchange: one round trip instead of
 * two, one permission per token kind instead of `signJwt` (which would let the identity sign
 * arbitrary JWTs as the SA), and Google sets the expiry and claims itself.
 */
import { boundedFetch, FetchError } from '../http/bounded-fetch.js';
import { InternalError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '../errors.js';
import type { OwnCredential } from './own-credential.js';
import type { KeylessBackend, MintedToken } from './minter.js';
import { parseRetryAfter } from '../http/retry.js';

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
export class KeylessUpstreamError extends Error {
  override readonly name = 'KeylessUpstreamError';
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Retry classification for the minter: defined for keyless failures, undefined for anything else. */
export function classifyKeylessError(
  err: unknown,
): { retryable: boolean; retryAfterMs?: number } | undefined {
  if (!(err instanceof KeylessUpstreamError)) return undefined;
  return { retryable: true, retryAfterMs: err.retryAfterMs };
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
      throw new KeylessUpstreamError(
        "could not obtain the token service's own access token",
        undefined,
        undefined,
        { cause: err },
      );
    }
    const url = `${options.iamCredentialsUrl}/v1/projects/-/serviceAccounts/${encodeURIComponent(email)}:${method}`;
    const sentAtMs = now();
    let response;
    try {
      response = await boundedFetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
        timeoutMs: options.timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        signal,
        fetchImpl: options.fetchImpl,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      const what = err instanceof FetchError && err.kind === 'timeout' ? 'timed out' : 'unreachable';
      throw new KeylessUpstreamError(`IAM Credentials ${method} ${what}`, undefined, undefined, {
        cause: err,
      });
    }
    const json = parseObject(response.text);
    if (response.status === 200) {
      if (!json)
        throw new KeylessUpstreamError(
          `IAM Credentials ${method} answered 200 with a body that is not a JSON object`,
          200,
          undefined,
        );
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
        throw new KeylessUpstreamError(
          'IAM Credentials generateAccessToken answered without accessToken/expireTime',
          200,
          undefined,
        );
      }
      return { token: json.accessToken, expiresAtMs };
    },
    async idToken(email, audience, includeEmail, signal) {
      const { json } = await call('generateIdToken', email, { audience, includeEmail }, signal);
      if (typeof json.token !== 'string' || !json.token)
        throw new KeylessUpstreamError(
          'IAM Credentials generateIdToken answered without a token',
          200,
          undefined,
        );
      return { token: json.token, expiresAtMs: jwtExpiryMs(json.token) } satisfies MintedToken;
    },
  };
}

/** Maps a non-200 answer: final refusals become our errors, transient ones a {@link KeylessUpstreamError}. */
function refusal(
  method: Method,
  email: string,
  status: number,
  json: Record<string, unknown> | undefined,
  retryAfterMs: number | undefined,
  credential: OwnCredential,
): Error {
  const error = (json?.error ?? {}) as { message?: unknown; status?: unknown; details?: unknown };
  const googleMessage = typeof error.message === 'string' ? error.message.slice(0, 300) : '';
  const reason = errorInfoReason(error.details);
  const detail =
    `${method} ${email}: ${status} ${typeof error.status === 'string' ? error.status : ''} ${reason ?? ''} ${googleMessage}`
      .replace(/\s+/g, ' ')
      .trim();
  if (status === 429 || status >= 500)
    return new KeylessUpstreamError(`IAM Credentials ${method} answered ${status}`, status, retryAfterMs);
  if (status === 401) {
    // Our own token was refused (expired or revoked early): drop it and let the retry fetch another.
    credential.invalidate();
    return new KeylessUpstreamError(
      `IAM Credentials ${method} refused the token service's own credential (401)`,
      status,
      undefined,
    );
  }
  if (status === 403 && reason === 'ACCESS_TOKEN_SCOPE_INSUFFICIENT') {
    return new InternalError("The token service's own credential cannot call the IAM Credentials API.", {
      reason: 'KEYLESS_SOURCE_SCOPE_INSUFFICIENT',
      detail,
    });
  }
  if (status === 403) {
    return new PermissionDeniedError(
      `The token service's identity lacks ${PERMISSION[method]} on ${email} (grant it roles/iam.serviceAccountTokenCreator on that service account).`,
      {
        reason: 'KEYLESS_PERMISSION_DENIED',
        detail,
        metadata: { permission: PERMISSION[method], serviceAccount: email },
      },
    );
  }
  if (status === 404)
    return new NotFoundError('The service account does not exist.', {
      reason: 'SERVICE_ACCOUNT_NOT_FOUND',
      detail,
    });
  if (status === 400)
    return new InvalidArgumentError('The IAM Credentials API rejected the request.', {
      reason: 'KEYLESS_INVALID_ARGUMENT',
      detail,
    });
  return new InternalError('The IAM Credentials API rejected the request.', {
    reason: 'KEYLESS_UPSTREAM_REJECTED',
    detail,
  });
}

function errorInfoReason(details: unknown): string | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const d of details as Array<Record<string, unknown>>) {
    if (d && d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo' && typeof d.reason === 'string')
      return d.reason;
  }
  return undefined;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `exp` of an ID token Google just returned over TLS; used only to size the cache entry. */
function jwtExpiryMs(jwt: string): number {
  let exp: unknown;
  try {
    exp = (
      JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }
    ).exp;
  } catch {
    exp = undefined;
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp))
    throw new KeylessUpstreamError(
      'IAM Credentials generateIdToken answered with an ID token without a valid exp',
      200,
      undefined,
    );
  return exp * 1000;
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
