/**
 * A user's "revoke" through the token function, the only identity that can open the refresh token
 * and revoke it at Google: `POST {TVS_TOKEN_FUNCTION_URL}/v1/users/{sub}:revokeGrant`
 * `{"reason":"USER"}` with this function's own Google ID token (audience = the token function's
 * URL) from google-auth-library's `getIdTokenClient` — the metadata server's identity on Cloud
 * Run, ADC anywhere else. Loaded lazily, off the cold-start path.
 */

import { withRetry } from '../../shared/http/retry.js';

export type RevokeOutcome =
  | { ok: true; revokedAtGoogle: boolean }
  /** `detail` is log-safe: HTTP status and Google status/reason, or the failure's kind. */
  | { ok: false; detail: string };

export type TokenFunctionRevoker = (sub: string) => Promise<RevokeOutcome>;

export function createTokenFunctionRevoker(options: {
  tokenFunctionUrl: string;
  timeoutMs?: number;
}): TokenFunctionRevoker {
  type IdTokenClient = Awaited<ReturnType<import('google-auth-library').GoogleAuth['getIdTokenClient']>>;
  let client: Promise<IdTokenClient> | undefined;
  const getClient = () => {
    client ??= import('google-auth-library').then(({ GoogleAuth }) =>
      new GoogleAuth().getIdTokenClient(options.tokenFunctionUrl),
    );
    client.catch(() => (client = undefined));
    return client;
  };
  const timeoutMs = options.timeoutMs ?? 10_000;
  /** One call; `retry` when another attempt may succeed (transport failure, 429, 5xx). */
  const attempt = async (sub: string, signal: AbortSignal): Promise<RevokeOutcome & { retry?: boolean }> => {
    let response;
    try {
      response = await (
        await getClient()
      ).request<{ revoked?: unknown; revokedAtGoogle?: unknown }>({
        url: `${options.tokenFunctionUrl}/v1/users/${sub}:revokeGrant`,
        method: 'POST',
        data: { reason: 'USER' },
        timeout: timeoutMs,
        retry: false,
        signal,
        validateStatus: () => true,
      });
    } catch (err) {
      return { ok: false, retry: true, detail: `unreachable: ${err instanceof Error ? err.name : 'error'}` };
    }
    const body = response.data as {
      revoked?: unknown;
      revokedAtGoogle?: unknown;
      error?: { status?: unknown };
    };
    if (response.status === 200 && body?.revoked === true)
      return { ok: true, revokedAtGoogle: body.revokedAtGoogle === true };
    const status = typeof body?.error?.status === 'string' ? ` ${body.error.status}` : '';
    return {
      ok: false,
      retry: response.status === 429 || response.status >= 500,
      detail: `HTTP ${response.status}${status}`,
    };
  };
  return async (sub) => {
    if (!/^\d{1,30}$/.test(sub)) throw new TypeError('revokeGrant: sub must be a numeric Google id');
    // revokeGrant is idempotent: one more try on a transient failure (shared backoff and deadline)
    // before the caller falls back to a tombstone that cannot revoke at Google.
    try {
      return await withRetry(
        async (signal) => {
          const outcome = await attempt(sub, signal);
          if (!outcome.ok && outcome.retry) throw new TransientRevokeFailure(outcome.detail);
          return outcome.ok ? outcome : { ok: false as const, detail: outcome.detail };
        },
        {
          maxAttempts: 2,
          baseDelayMs: 100,
          maxDelayMs: 500,
          deadlineMs: 2 * timeoutMs,
          classify: (err) => ({ retryable: err instanceof TransientRevokeFailure }),
        },
      );
    } catch (err) {
      const last = err instanceof TransientRevokeFailure ? err : (err as { cause?: unknown })?.cause;
      return {
        ok: false,
        detail: last instanceof TransientRevokeFailure ? last.detail : 'deadline exceeded',
      };
    }
  };
}

/** A failure another attempt may cure; `detail` is log-safe. */
class TransientRevokeFailure extends Error {
  override readonly name = 'TransientRevokeFailure';
  constructor(readonly detail: string) {
    super(`revokeGrant failed: ${detail}`);
  }
}
