/**
 * A user's "revoke" through the token function, the only identity that can open the refresh token
 * and revoke it at Google: `POST {TVS_TOKEN_FUNCTION_URL}/v1/users/{sub}:revokeGrant`
 * `{"reason":"USER"}` with this function's own Google ID token (audience = the token function's
 * URL) from google-auth-library's `getIdTokenClient` — the metadata server's identity on Cloud
 * Run, ADC anywhere else. Loaded lazily, off the cold-start path.
 */

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
  return async (sub) => {
    if (!/^\d{1,30}$/.test(sub)) throw new TypeError('revokeGrant: sub must be a numeric Google id');
    let response;
    try {
      response = await (
        await getClient()
      ).request<{ revoked?: unknown; revokedAtGoogle?: unknown }>({
        url: `${options.tokenFunctionUrl}/v1/users/${sub}:revokeGrant`,
        method: 'POST',
        data: { reason: 'USER' },
        timeout: options.timeoutMs ?? 10_000,
        retry: false,
        validateStatus: () => true,
      });
    } catch (err) {
      return { ok: false, detail: `unreachable: ${err instanceof Error ? err.name : 'error'}` };
    }
    const body = response.data as {
      revoked?: unknown;
      revokedAtGoogle?: unknown;
      error?: { status?: unknown };
    };
    if (response.status === 200 && body?.revoked === true)
      return { ok: true, revokedAtGoogle: body.revokedAtGoogle === true };
    const status = typeof body?.error?.status === 'string' ? ` ${body.error.status}` : '';
    return { ok: false, detail: `HTTP ${response.status}${status}` };
  };
}
