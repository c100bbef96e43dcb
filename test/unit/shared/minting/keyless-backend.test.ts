import { describe, expect, it, vi } from 'vitest';
import {
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  UpstreamUnavailable,
} from '../../../../shared/errors.js';
import { retryUpstreamUnavailable } from '../../../../shared/http/retry.js';
import { createKeylessBackend } from '../../../../shared/minting/keyless-backend.js';

const SA = 'vertex-caller@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const OWN_TOKEN = 'ya29.own-token-value';

function backend(respond: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const credential = { accessToken: vi.fn(() => Promise.resolve(OWN_TOKEN)), invalidate: vi.fn() };
  const fetchImpl = vi.fn<typeof fetch>((url, init) =>
    Promise.resolve(
      respond(url instanceof URL ? url.href : typeof url === 'string' ? url : url.url, init ?? {}),
    ),
  );
  const keyless = createKeylessBackend({
    iamCredentialsUrl: 'https://iamcredentials.example',
    credential,
    timeoutMs: 1000,
    fetchImpl,
  });
  return { keyless, credential, fetchImpl };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const googleError = (status: number, reason: string) =>
  json(status, {
    error: {
      code: status,
      message: 'm',
      status: 'X',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'd', metadata: {} }],
    },
  });
const signal = () => new AbortController().signal;

describe('createKeylessBackend', () => {
  it('POSTs generateAccessToken for the SA with its own bearer token and a 1 h lifetime', async () => {
    const { keyless, fetchImpl } = backend(() =>
      json(200, { accessToken: 'ya29.minted', expireTime: '2030-01-01T00:00:00Z' }),
    );
    await expect(keyless.accessToken(SA, [CP], signal())).resolves.toEqual({
      token: 'ya29.minted',
      expiresAtMs: Date.parse('2030-01-01T00:00:00Z'),
    });
    const [url, init] = fetchImpl.mock.calls[0];
    expect((url as URL).href).toBe(
      `https://iamcredentials.example/v1/projects/-/serviceAccounts/${encodeURIComponent(SA)}:generateAccessToken`,
    );
    expect(init).toMatchObject({ method: 'POST', headers: { authorization: `Bearer ${OWN_TOKEN}` } });
    expect(JSON.parse(init!.body as string)).toEqual({ scope: [CP], lifetime: '3600s' });
  });

  it('POSTs generateIdToken and takes the cache expiry from the token exp', async () => {
    const exp = 1_900_000_000;
    const idToken = `e30.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
    const { keyless, fetchImpl } = backend(() => json(200, { token: idToken }));
    await expect(keyless.idToken(SA, 'https://aud', true, signal())).resolves.toEqual({
      token: idToken,
      expiresAtMs: exp * 1000,
    });
    expect(JSON.parse(fetchImpl.mock.calls[0][1]!.body as string)).toEqual({
      audience: 'https://aud',
      includeEmail: true,
    });
  });

  it.each<[string, () => Response, new (...args: never[]) => Error, string | undefined]>([
    [
      '403 IAM_PERMISSION_DENIED',
      () => googleError(403, 'IAM_PERMISSION_DENIED'),
      PermissionDeniedError,
      'KEYLESS_PERMISSION_DENIED',
    ],
    [
      '403 ACCESS_TOKEN_SCOPE_INSUFFICIENT',
      () => googleError(403, 'ACCESS_TOKEN_SCOPE_INSUFFICIENT'),
      InternalError,
      'KEYLESS_SOURCE_SCOPE_INSUFFICIENT',
    ],
    ['404', () => googleError(404, 'NOT_FOUND'), NotFoundError, 'SERVICE_ACCOUNT_NOT_FOUND'],
    ['400', () => googleError(400, 'BAD'), InvalidArgumentError, 'KEYLESS_INVALID_ARGUMENT'],
    ['409', () => googleError(409, 'X'), InternalError, 'KEYLESS_UPSTREAM_REJECTED'],
    ['500', () => googleError(500, 'X'), UpstreamUnavailable, undefined],
    ['503', () => googleError(503, 'X'), UpstreamUnavailable, undefined],
    ['429', () => googleError(429, 'X'), UpstreamUnavailable, undefined],
    [
      '401 (own token refused)',
      () => googleError(401, 'ACCESS_TOKEN_EXPIRED'),
      UpstreamUnavailable,
      undefined,
    ],
    ['a 200 that is not JSON', () => new Response('<html>', { status: 200 }), UpstreamUnavailable, undefined],
    ['a 200 without expireTime', () => json(200, { accessToken: 'x' }), UpstreamUnavailable, undefined],
  ])('maps %s', async (_name, respond, type, reason) => {
    const { keyless } = backend(respond);
    const err = await keyless.accessToken(SA, [CP], signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    if (reason) expect(err).toMatchObject({ reason });
    expect(retryUpstreamUnavailable(err).retryable).toBe(type === UpstreamUnavailable);
    expect(String((err as Error).message)).not.toContain(OWN_TOKEN);
    expect(String((err as { detail?: unknown }).detail)).not.toContain(OWN_TOKEN);
  });

  it.each([
    ['without exp', `e30.${Buffer.from(JSON.stringify({ aud: 'x' })).toString('base64url')}.sig`],
    ['whose exp is a string', `e30.${Buffer.from(JSON.stringify({ exp: '1' })).toString('base64url')}.sig`],
    ['that is not a JWT', 'not-a-jwt'],
    ['whose payload is not JSON', 'e30.bm90LWpzb24.sig'],
  ])('treats an ID token %s as a transient garbled answer', async (_name, idToken) => {
    const { keyless } = backend(() => json(200, { token: idToken }));
    const err = await keyless.idToken(SA, 'https://aud', true, signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailable);
    expect(err).toMatchObject({
      detail: 'IAM Credentials generateIdToken answered with an ID token without a valid exp',
    });
    expect(retryUpstreamUnavailable(err)?.retryable).toBe(true);
  });

  it('reads an HTTP-date Retry-After as the wait until that date', async () => {
    const at = Date.UTC(2026, 10, 26, 20, 0, 0);
    vi.useFakeTimers({ now: at, toFake: ['Date'] });
    try {
      const limited = backend(() => json(503, {}, { 'retry-after': new Date(at + 30_000).toUTCString() }));
      const err = await limited.keyless.accessToken(SA, [CP], signal()).catch((e: unknown) => e);
      expect(retryUpstreamUnavailable(err)).toEqual({ retryable: true, retryAfterMs: 30_000 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('names the missing permission and the SA in the 403 message', async () => {
    const { keyless } = backend(() => googleError(403, 'IAM_PERMISSION_DENIED'));
    await expect(keyless.idToken(SA, 'https://aud', false, signal())).rejects.toThrow(
      `The token service's identity lacks iam.serviceAccounts.getOpenIdToken on ${SA}`,
    );
  });

  it('honours Retry-After on 429 and drops its own token on 401', async () => {
    const limited = backend(() => json(429, {}, { 'retry-after': '7' }));
    const err = await limited.keyless.accessToken(SA, [CP], signal()).catch((e: unknown) => e);
    expect(retryUpstreamUnavailable(err)).toEqual({ retryable: true, retryAfterMs: 7000 });
    const refused = backend(() => googleError(401, 'ACCESS_TOKEN_EXPIRED'));
    await refused.keyless.accessToken(SA, [CP], signal()).catch(() => undefined);
    expect(refused.credential.invalidate).toHaveBeenCalledTimes(1);
  });

  it('treats a failure to get its own token as transient', async () => {
    const { keyless, credential } = backend(() => json(200, {}));
    credential.accessToken.mockRejectedValueOnce(new Error('metadata server unreachable'));
    const err = await keyless.accessToken(SA, [CP], signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnavailable);
    expect(retryUpstreamUnavailable(err)?.retryable).toBe(true);
  });

  it('stops waiting for its own token when the signal aborts', async () => {
    const { keyless, credential, fetchImpl } = backend(() => json(200, {}));
    credential.accessToken.mockReturnValueOnce(new Promise<string>(() => {}));
    const controller = new AbortController();
    const pending = keyless.accessToken(SA, [CP], controller.signal);
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(fetchImpl).not.toHaveBeenCalled();
  });

  it('passes the signal to the HTTP call', async () => {
    const controller = new AbortController();
    const { keyless } = backend(
      (_url, init) =>
        new Promise<Response>((_resolve, reject) => {
          init.signal!.addEventListener('abort', () => reject(new Error('aborted')));
          controller.abort(new Error('deadline'));
        }),
    );
    await expect(keyless.accessToken(SA, [CP], controller.signal)).rejects.toThrow();
  });

  it('leaves other errors unretried', () => {
    expect(retryUpstreamUnavailable(new Error('x'))).toEqual({ retryable: false });
  });
});
