import { describe, expect, it } from 'vitest';
import {
  TokenServiceError,
  VendedTokenClient,
  type VendedTokenClientOptions,
} from '../../../client/index.js';

const SA = 'gemini-caller@p.iam.gserviceaccount.com';
const SERVICE = 'https://tvs.example.com';
const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz';
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A fake token service: answers in order (the last one repeats), records every request. */
function fakeService(answers: Answer[]) {
  const calls: Array<{ url: string; headers: Headers; body: unknown }> = [];
  let gate: Promise<void> = Promise.resolve();
  const fetchImpl = (async (url: URL, init?: RequestInit) => {
    calls.push({
      url: url.href,
      headers: new Headers(init?.headers),
      body: JSON.parse(init?.body as string),
    });
    await gate;
    const a = answers[Math.min(calls.length - 1, answers.length - 1)];
    return new Response(JSON.stringify(a.body), {
      status: a.status,
      headers: { 'content-type': 'application/json', ...a.headers },
    });
  }) as typeof fetch;
  return {
    calls,
    fetchImpl,
    hold: (p: Promise<void>) => {
      gate = p;
    },
  };
}

const ok = (token: string, expiresAtMs: number): Answer => ({
  status: 200,
  body: { accessToken: token, expireTime: new Date(expiresAtMs).toISOString().replace('.000Z', 'Z') },
});
const googleError = (code: number, status: string, reason: string, message = 'denied'): Answer => ({
  status: code,
  body: {
    error: {
      code,
      status,
      message,
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason,
          domain: 'tokenvending.googleapis.local',
          metadata: {},
        },
      ],
    },
  },
});

function client(
  fetchImpl: typeof fetch,
  clock: { now: number },
  extra: Partial<VendedTokenClientOptions> = {},
): VendedTokenClient {
  return new VendedTokenClient({
    serviceUrl: SERVICE,
    targetServiceAccount: SA,
    idTokenSource: () => Promise.resolve(ID_TOKEN),
    fetchImpl,
    now: () => clock.now,
    retry: { baseDelayMs: 0, maxDelayMs: 0, maxAttempts: 3, random: () => 0 },
    ...extra,
  });
}

/** Waits until `predicate` holds, yielding to the event loop between checks. */
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((r) => setImmediate(r));
  expect(predicate()).toBe(true);
}

describe('VendedTokenClient', () => {
  it('asks the IAM-style endpoint with the workload ID token, the scopes and the lifetime', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000)]);
    const c = client(svc.fetchImpl, clock, {
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      lifetimeSeconds: 1800,
    });
    expect(await c.getAccessToken()).toEqual({ token: 'ya29.first', res: null });
    expect(svc.calls).toHaveLength(1);
    expect(svc.calls[0].url).toBe(`${SERVICE}/v1/projects/-/serviceAccounts/${SA}:generateAccessToken`);
    expect(svc.calls[0].headers.get('authorization')).toBe(`Bearer ${ID_TOKEN}`);
    expect(svc.calls[0].body).toEqual({
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
      lifetime: '1800s',
    });
  });

  it('serves a cached token without calling the service again', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000)]);
    const c = client(svc.fetchImpl, clock);
    await c.getAccessToken();
    clock.now += 3000_000;
    const headers = await c.getRequestHeaders();
    expect(headers.get('authorization')).toBe('Bearer ya29.first');
    expect(svc.calls).toHaveLength(1);
  });

  it('coalesces 100 concurrent cold requests into one call to the service', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000)]);
    let release!: () => void;
    svc.hold(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const c = client(svc.fetchImpl, clock);
    const all = Promise.all(Array.from({ length: 100 }, () => c.getAccessToken()));
    await until(() => svc.calls.length === 1);
    release();
    const tokens = await all;
    expect(new Set(tokens.map((t) => t.token))).toEqual(new Set(['ya29.first']));
    expect(svc.calls).toHaveLength(1);
  });

  it('refreshes in the background inside the refresh-ahead window while serving the old token', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000), ok('ya29.second', T0 + 7000_000)]);
    const c = client(svc.fetchImpl, clock);
    await c.getAccessToken();
    clock.now = T0 + 3600_000 - 299_000; // 4 min 59 s left: inside the default 5 min window
    expect((await c.getAccessToken()).token).toBe('ya29.first');
    await until(() => c.expiresAtMs === T0 + 7000_000);
    expect((await c.getAccessToken()).token).toBe('ya29.second');
    expect(svc.calls).toHaveLength(2);
  });

  it('waits for a new token when the cached one has less than minRemainingMs left', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000), ok('ya29.second', T0 + 7000_000)]);
    const c = client(svc.fetchImpl, clock);
    await c.getAccessToken();
    clock.now = T0 + 3600_000 - 20_000;
    expect((await c.getAccessToken()).token).toBe('ya29.second');
  });

  it('keeps serving a still-valid token when a background refresh fails, and waits before trying again', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000), { status: 503, body: {} }]);
    const c = client(svc.fetchImpl, clock);
    await c.getAccessToken();
    clock.now = T0 + 3600_000 - 200_000;
    expect((await c.getAccessToken()).token).toBe('ya29.first');
    await until(() => svc.calls.length === 4); // 1 + 3 attempts of the failed refresh
    await new Promise((r) => setImmediate(r));
    expect((await c.getAccessToken()).token).toBe('ya29.first');
    expect(svc.calls).toHaveLength(4);
  });

  it('does not refresh on every call when the service hands out a token already inside the window', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.late', T0 + 240_000), ok('ya29.next', T0 + 3600_000)]);
    const c = client(svc.fetchImpl, clock);
    await c.getAccessToken();
    for (let i = 0; i < 10; i++) await c.getAccessToken();
    expect(svc.calls).toHaveLength(1);
  });

  it('retries 503 with backoff and then succeeds', async () => {
    const clock = { now: T0 };
    const svc = fakeService([
      { status: 503, body: {} },
      { status: 500, body: {} },
      ok('ya29.first', T0 + 3600_000),
    ]);
    const c = client(svc.fetchImpl, clock);
    expect((await c.getAccessToken()).token).toBe('ya29.first');
    expect(svc.calls).toHaveLength(3);
  });

  it('gives up after maxAttempts on persistent 5xx with an UNAVAILABLE TokenServiceError', async () => {
    const clock = { now: T0 };
    const svc = fakeService([
      googleError(
        503,
        'UNAVAILABLE',
        'UPSTREAM_UNAVAILABLE',
        'The upstream service is unavailable; try again later.',
      ),
    ]);
    const c = client(svc.fetchImpl, clock);
    const err = await c.getAccessToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenServiceError);
    expect(err).toMatchObject({
      code: 'UNAVAILABLE',
      httpStatus: 503,
      reason: 'UPSTREAM_UNAVAILABLE',
      attempts: 3,
    });
    expect((err as Error).message).toContain('after 3 attempt(s)');
    expect(svc.calls).toHaveLength(3);
  });

  it.each([
    [400, 'INVALID_ARGUMENT', 'INVALID_REQUEST_FIELD', /check the request/i],
    [401, 'UNAUTHENTICATED', 'CALLER_TOKEN_EXPIRED', /identity/i],
    [403, 'PERMISSION_DENIED', 'NO_RULE_FOR_CALLER', /policy/i],
    [404, 'NOT_FOUND', 'SERVICE_ACCOUNT_NOT_FOUND', /service account/i],
  ])('surfaces %i %s at once, with a hint and without the tokens', async (status, code, reason, hint) => {
    const clock = { now: T0 };
    const svc = fakeService([googleError(status, code, reason, `no: ${ID_TOKEN}`)]);
    const c = client(svc.fetchImpl, clock);
    const err = (await c.getAccessToken().catch((e: unknown) => e)) as TokenServiceError;
    expect(err).toBeInstanceOf(TokenServiceError);
    expect(err).toMatchObject({ code, httpStatus: status, reason, attempts: 1 });
    expect(err.hint).toMatch(hint);
    expect(err.message).toContain(err.hint);
    expect(err.message).not.toContain(ID_TOKEN);
    expect(svc.calls).toHaveLength(1);
  });

  it('treats a 200 without a token as transient', async () => {
    const clock = { now: T0 };
    const svc = fakeService([{ status: 200, body: { nope: true } }, ok('ya29.first', T0 + 3600_000)]);
    expect((await client(svc.fetchImpl, clock).getAccessToken()).token).toBe('ya29.first');
  });

  it('reports a workload without an identity as UNAUTHENTICATED', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000)]);
    const c = client(svc.fetchImpl, clock, {
      idTokenSource: () => Promise.reject(new Error('Could not load the default credentials')),
    });
    await expect(c.getAccessToken()).rejects.toMatchObject({
      name: 'TokenServiceError',
      code: 'UNAUTHENTICATED',
    });
    expect(svc.calls).toHaveLength(0);
  });

  it('invalidate() makes the next use fetch a new token', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000), ok('ya29.second', T0 + 3600_000)]);
    const c = client(svc.fetchImpl, clock);
    await c.getAccessToken();
    c.invalidate();
    expect((await c.getAccessToken()).token).toBe('ya29.second');
  });

  it('exposes the headers both as Headers and as own properties (grpc-js reads Object.keys)', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000)]);
    const headers = await client(svc.fetchImpl, clock).getRequestHeaders();
    expect(headers.get('authorization')).toBe('Bearer ya29.first');
    expect({ ...headers }).toEqual({ authorization: 'Bearer ya29.first' });
  });

  it('adds x-goog-user-project when a quota project is set', async () => {
    const clock = { now: T0 };
    const svc = fakeService([ok('ya29.first', T0 + 3600_000)]);
    const c = client(svc.fetchImpl, clock, { authClientOptions: { quotaProjectId: 'billing-proj' } });
    const headers = await c.getRequestHeaders('https://aiplatform.googleapis.com/');
    expect(headers.get('x-goog-user-project')).toBe('billing-proj');
  });

  it.each<[string, Partial<VendedTokenClientOptions>]>([
    ['a relative serviceUrl', { serviceUrl: '/token' }],
    ['a non-http serviceUrl', { serviceUrl: 'ftp://tvs.example.com' }],
    ['a target that is not an email', { targetServiceAccount: 'gemini-caller' }],
    ['empty scopes', { scopes: [] }],
    ['a lifetime over an hour', { lifetimeSeconds: 3601 }],
    ['a negative refreshAheadMs', { refreshAheadMs: -1 }],
  ])('rejects %s with a TypeError', (_name, bad) => {
    expect(
      () =>
        new VendedTokenClient({
          serviceUrl: SERVICE,
          targetServiceAccount: SA,
          idTokenSource: () => Promise.resolve(ID_TOKEN),
          ...bad,
        }),
    ).toThrow(TypeError);
  });
});
