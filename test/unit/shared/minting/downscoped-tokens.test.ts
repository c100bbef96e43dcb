/**
 * The downscoper: its cache key (the boundary is part of it), the expiry rules (never past the
 * source token), and which STS failures are retried, against a fake minter (our interface) and a
 * scripted STS behind `fetchImpl`.
 */
import { tokenFingerprint } from '../../../../shared/audit-log.js';
import { describe, expect, it } from 'vitest';
import { InternalError, UnavailableError } from '../../../../shared/errors.js';
import {
  boundaryFingerprint,
  canonicalBoundary,
  type AccessBoundary,
} from '../../../../shared/minting/downscope.js';
import { createDownscoper } from '../../../../shared/minting/downscoped-tokens.js';
import type { Minter, MintResult, TargetServiceAccount } from '../../../../shared/minting/minter.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const STS = 'https://sts.example.test/v1/token';
const SA: TargetServiceAccount = { email: 'ci@p.iam.gserviceaccount.com', backend: 'keyless' };
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const boundary = (bucket: string): AccessBoundary => ({
  accessBoundaryRules: [
    {
      availableResource: `//storage.googleapis.com/projects/_/buckets/${bucket}`,
      availablePermissions: ['inRole:roles/storage.objectViewer'],
      availabilityCondition: { expression: "resource.name.startsWith('projects/_/buckets/b/objects/x/')" },
    },
  ],
});

type Answer = { status: number; body: unknown; headers?: Record<string, string> } | Error;

function setup(answers: Answer[], sourceExpiresAtMs = NOW + 3600_000) {
  const requests: URLSearchParams[] = [];
  let sourceMints = 0;
  const fetchImpl = ((_url: URL | RequestInfo, init?: RequestInit) => {
    requests.push(new URLSearchParams(init?.body as string));
    const answer = answers.shift() ?? { status: 500, body: {} };
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve(
      new Response(JSON.stringify(answer.body), {
        status: answer.status,
        headers: { 'content-type': 'application/json', ...answer.headers },
      }),
    );
  }) as typeof fetch;
  const minter = {
    accessToken: (): Promise<MintResult> => {
      sourceMints++;
      return Promise.resolve({
        token: `source-${sourceMints}`,
        expiresAtMs: sourceExpiresAtMs,
        cacheHit: false,
        // The source was minted by this request, in two attempts.
        mint: { backend: 'keyless', latencyMs: 0, attempts: 2 },
      });
    },
    cachedAccessToken: () => undefined,
    cachedIdToken: () => undefined,
  } as unknown as Minter;
  const downscoper = createDownscoper({
    minter,
    stsUrl: STS,
    cache: { maxEntries: 100, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
    upstream: { deadlineMs: 5_000, maxAttempts: 3, baseDelayMs: 0, maxDelayMs: 0 },
    fetchImpl,
    now: () => NOW,
  });
  return { downscoper, requests, sourceMints: () => sourceMints };
}

const ok = (token: string, expiresIn?: number): Answer => ({
  status: 200,
  body: {
    access_token: token,
    issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    token_type: 'Bearer',
    ...(expiresIn === undefined ? {} : { expires_in: expiresIn }),
  },
});

describe('downscoped tokens', () => {
  it('sends STS the token-exchange form with the boundary as URL-encoded options', async () => {
    const { downscoper, requests } = setup([ok('down', 3599)]);
    const result = await downscoper.accessToken(SA, [CP], 3600, boundary('b'));
    // mint: the source's two attempts and the one STS exchange.
    expect(result).toEqual({
      token: 'down',
      expiresAtMs: NOW + 3599_000,
      fingerprint: tokenFingerprint('down'),
      cacheHit: false,
      mint: { backend: 'keyless', latencyMs: 0, attempts: 3 },
    });
    expect(Object.fromEntries(requests[0])).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token: 'source-1',
      options: JSON.stringify({ accessBoundary: boundary('b') }),
    });
  });

  it('uses the source token’s expiry when STS sends no expires_in, and never outlives the source', async () => {
    const a = setup([ok('down')], NOW + 1200_000);
    expect((await a.downscoper.accessToken(SA, [CP], 3600, boundary('b'))).expiresAtMs).toBe(NOW + 1200_000);
    const b = setup([ok('down', 3600)], NOW + 1200_000);
    expect((await b.downscoper.accessToken(SA, [CP], 3600, boundary('b'))).expiresAtMs).toBe(NOW + 1200_000);
  });

  it('caches per boundary: the same boundary is served from the cache, another one is exchanged anew', async () => {
    const { downscoper, requests } = setup([ok('one', 3599), ok('two', 3599)]);
    await downscoper.accessToken(SA, [CP], 3600, boundary('b'));
    expect(await downscoper.accessToken(SA, [CP], 3600, boundary('b'))).toMatchObject({
      token: 'one',
      cacheHit: true,
    });
    expect(await downscoper.accessToken(SA, [CP], 3600, boundary('c'))).toMatchObject({
      token: 'two',
      cacheHit: false,
    });
    expect(requests).toHaveLength(2);
  });

  it('keys on lifetime and scopes too', async () => {
    const { downscoper, requests } = setup([ok('a', 600), ok('b', 600), ok('c', 600)]);
    await downscoper.accessToken(SA, [CP], 3600, boundary('b'));
    await downscoper.accessToken(SA, [CP], 600, boundary('b'));
    await downscoper.accessToken(
      SA,
      [CP, 'https://www.googleapis.com/auth/userinfo.email'],
      3600,
      boundary('b'),
    );
    expect(requests).toHaveLength(3);
  });

  it('retries STS 5xx and network failures, then succeeds', async () => {
    const { downscoper, requests } = setup([
      { status: 503, body: {} },
      new TypeError('socket hang up'),
      ok('down', 3599),
    ]);
    expect((await downscoper.accessToken(SA, [CP], 3600, boundary('b'))).token).toBe('down');
    expect(requests).toHaveLength(3);
  });

  it('gives up on a lasting outage with UNAVAILABLE and caches nothing', async () => {
    const { downscoper, requests } = setup([
      { status: 500, body: {} },
      { status: 500, body: {} },
      { status: 500, body: {} },
      ok('later', 3599),
    ]);
    await expect(downscoper.accessToken(SA, [CP], 3600, boundary('b'))).rejects.toBeInstanceOf(
      UnavailableError,
    );
    expect(requests).toHaveLength(3);
    expect(await downscoper.accessToken(SA, [CP], 3600, boundary('b'))).toMatchObject({
      token: 'later',
      cacheHit: false,
    });
  });

  it('treats an STS refusal (4xx) as final: DOWNSCOPE_REJECTED, no retry, detail without the subject token', async () => {
    const { downscoper, requests } = setup([
      { status: 400, body: { error: 'invalid_request', error_description: 'bad boundary' } },
    ]);
    const err = await downscoper.accessToken(SA, [CP], 3600, boundary('b')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as InternalError).reason).toBe('DOWNSCOPE_REJECTED');
    expect((err as InternalError).detail).toBe('STS answered 400 invalid_request: bad boundary');
    expect((err as InternalError).detail).not.toContain('source-1');
    expect(requests).toHaveLength(1);
  });

  it.each<[string, Answer]>([
    ['a body that is not JSON', { status: 200, body: 'nope' }],
    ['no access_token', { status: 200, body: { token_type: 'Bearer' } }],
    ['a bad expires_in', { status: 200, body: { access_token: 'x', expires_in: -5 } }],
  ])('retries a garbled 200 (%s)', async (_name, answer) => {
    const { downscoper, requests } = setup([answer, ok('down', 3599)]);
    expect((await downscoper.accessToken(SA, [CP], 3600, boundary('b'))).token).toBe('down');
    expect(requests).toHaveLength(2);
  });
});

describe('boundary fingerprints', () => {
  it('are canonical: key order and absent optional fields do not change them', () => {
    const a: AccessBoundary = {
      accessBoundaryRules: [
        {
          availablePermissions: ['inRole:roles/x'],
          availableResource: '//s.googleapis.com/r',
          availabilityCondition: { title: 't', expression: 'true' },
        },
      ],
    };
    const b: AccessBoundary = {
      accessBoundaryRules: [
        {
          availableResource: '//s.googleapis.com/r',
          availablePermissions: ['inRole:roles/x'],
          availabilityCondition: { expression: 'true', title: 't', description: undefined },
        },
      ],
    };
    expect(canonicalBoundary(a)).toBe(canonicalBoundary(b));
    expect(boundaryFingerprint(a)).toBe(boundaryFingerprint(b));
    expect(boundaryFingerprint(a)).not.toBe(boundaryFingerprint(boundary('b')));
  });
});
