/**
 * `POST /v1/token` decision by decision: status, RFC 6749 `error`, description, headers, and the
 * request's one audit entry (outcome, reason, caller, target), over a real loopback socket with
 * fakes of our own interfaces (see support/oauth-harness.ts).
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tokenFingerprint } from '../../../../shared/audit-log.js';
import {
  InternalError,
  InvalidArgumentError,
  UnauthenticatedError,
  ResourceExhaustedError,
  UnavailableError,
} from '../../../../shared/errors.js';
import { TOKEN_EXCHANGE_GRANT } from '../../../../functions/token/oauth-token.js';
import { compileDenyList } from '../../../../functions/token/policy/deny-list.js';
import {
  basic,
  CTX,
  freshFakes,
  MINTED,
  NOW,
  post,
  startServer,
  STARTED_AT,
  type Fakes,
  type Reply,
} from './support/oauth-harness.js';

const SA = 'builder@p.iam.gserviceaccount.com';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const SECRET = 'S3cret-value-never-logged';
const SUBJECT_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.subject-token-never-logged.sig';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const REALM = 'Basic realm="token-vending", charset="UTF-8"';
const TARGET = { serviceAccount: SA, scopes: [SCOPE], lifetimeSeconds: 3600 };

let fakes: Fakes;
let server: Server;
let port: number;
beforeAll(async () => ({ server, port } = await startServer(() => fakes)));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  fakes = freshFakes();
});

type Pairs = Array<[string, string]>;
const cc = (
  extra: Pairs = [],
  base: Pairs = [
    ['grant_type', 'client_credentials'],
    ['service_account', SA],
    ['scope', SCOPE],
    ['client_id', 'ci-runner'],
    ['client_secret', SECRET],
  ],
): Pairs => [...base, ...extra];
const tx = (extra: Pairs = []): Pairs => [
  ['grant_type', TOKEN_EXCHANGE_GRANT],
  ['service_account', SA],
  ['scope', SCOPE],
  ['subject_token_type', JWT_TYPE],
  ['subject_token', SUBJECT_TOKEN],
  ...extra,
];
const without = (pairs: Pairs, name: string): Pairs => pairs.filter(([k]) => k !== name);

/** The one audit entry the request wrote (fails if there is not exactly one). */
function onlyAudit() {
  expect(fakes.audit).toHaveLength(1);
  return fakes.audit[0].entry;
}

/** An RFC 6749 error with no-store, and exactly one audit entry with the given outcome. */
function expectError(
  reply: Reply,
  status: number,
  error: string,
  description: string,
  audit: { reason: string; decision?: string; action?: string },
) {
  expect({ status: reply.status, body: reply.body }).toEqual({
    status,
    body: { error, error_description: description },
  });
  expect(reply.headers['cache-control']).toBe('no-store');
  const entry = onlyAudit();
  expect(entry).toMatchObject({
    decision: audit.decision ?? (status >= 500 ? 'error' : 'denied'),
    reason: audit.reason,
    httpStatus: status,
    requestId: CTX.requestId,
    latencyMs: NOW - STARTED_AT,
  });
  if (audit.action !== undefined) expect(entry.action).toBe(audit.action);
  for (const secret of [SECRET, SUBJECT_TOKEN, MINTED.token]) {
    expect(reply.text).not.toContain(secret);
    expect(JSON.stringify(fakes.audit)).not.toContain(secret);
  }
  return entry;
}

describe('client_credentials: success', () => {
  it('answers 200 Bearer with expires_in from the injected clock, no-store, and one granted audit entry', async () => {
    const reply = await post(port, cc());
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      access_token: MINTED.token,
      token_type: 'Bearer',
      expires_in: 3599,
      scope: SCOPE,
    });
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(fakes.clientAuthCalls).toHaveLength(1);
    expect(fakes.clientAuthCalls[0]).toMatchObject({ clientId: 'ci-runner', secret: SECRET });
    expect(fakes.policyCalls).toEqual([
      {
        caller: { kind: 'client', clientId: 'ci-runner' },
        request: { kind: 'access_token', serviceAccount: SA, scopes: [SCOPE], lifetimeSeconds: 3600 },
      },
    ]);
    expect(fakes.mintCalls).toEqual([
      { sa: { email: SA, backend: 'keyless' }, scopes: [SCOPE], lifetimeSeconds: 3600 },
    ]);
    expect(fakes.audit).toEqual([
      {
        entry: {
          decision: 'granted',
          reason: 'GRANTED',
          action: 'oauthToken:client_credentials',
          httpStatus: 200,
          caller: { kind: 'client', clientId: 'ci-runner' },
          target: { ...TARGET, backend: 'keyless' },
          rule: 'ci-rule',
          cacheHit: true,
          tokenFingerprint: tokenFingerprint(MINTED.token),
          requestId: 'req-1',
          latencyMs: NOW - STARTED_AT,
        },
        context: { trace: CTX.trace },
      },
    ]);
    expect(JSON.stringify(fakes.audit)).not.toContain(MINTED.token);
    expect(JSON.stringify(fakes.audit)).not.toContain(SECRET);
  });

  it('reports expires_in 0, never negative, for a token already past its expiry', async () => {
    fakes.mint = () => Promise.resolve({ ...MINTED, expiresAtMs: NOW - 5000 });
    expect((await post(port, cc())).body.expires_in).toBe(0);
  });

  it('without an injected clock, uses the real one', async () => {
    fakes.injectClock = false;
    const before = Date.now();
    fakes.mint = () => Promise.resolve({ ...MINTED, expiresAtMs: before + 600_000 });
    const reply = await post(port, cc());
    const after = Date.now();
    expect(reply.body.expires_in).toBeGreaterThan(500);
    expect(reply.body.expires_in).toBeLessThanOrEqual(600);
    // Latency is measured on the real clock against the context's (fixed) start.
    expect(onlyAudit().latencyMs).toBeGreaterThanOrEqual(before - STARTED_AT);
    expect(onlyAudit().latencyMs).toBeLessThanOrEqual(after - STARTED_AT);
  });

  it('accepts client_secret_basic, case-insensitive scheme, and splits id and secret at the first colon', async () => {
    const reply = await post(port, without(without(cc(), 'client_id'), 'client_secret'), {
      authorization: basic('ci-runner', 'a:b').replace('Basic', 'bAsIc'),
    });
    expect(reply.status).toBe(200);
    expect(fakes.clientAuthCalls.map(({ clientId, secret }) => ({ clientId, secret }))).toEqual([
      { clientId: 'ci-runner', secret: 'a:b' },
    ]);
  });

  it('form-decodes the basic id and secret (RFC 6749 §2.3.1: + is a space, %XX an octet)', async () => {
    await post(port, without(without(cc(), 'client_id'), 'client_secret'), {
      authorization: basic('a+b+%2Fc', 'x+y+%3Az'),
    });
    expect(fakes.clientAuthCalls.map(({ clientId, secret }) => ({ clientId, secret }))).toEqual([
      { clientId: 'a b /c', secret: 'x y :z' },
    ]);
  });

  it('asks the policy about the id as presented, even one audited as (malformed)', async () => {
    const reply = await post(port, cc([['client_id', 'has space']], without(cc(), 'client_id')));
    expect(reply.status).toBe(200);
    expect(fakes.policyCalls[0].caller).toEqual({ kind: 'client', clientId: 'has space' });
    expect(onlyAudit().caller).toEqual({ kind: 'client', clientId: '(malformed)' });
  });

  it('passes the current policy to the authenticator', async () => {
    await post(port, cc());
    expect(fakes.clientAuthCalls[0].store.dummyClientSecretHash).toBeDefined();
  });

  it('keeps the scopes in order, collapses runs of spaces, and lower-cases the service account', async () => {
    const reply = await post(
      port,
      cc(
        [],
        [
          ['grant_type', 'client_credentials'],
          ['service_account', SA.toUpperCase()],
          ['scope', '  a  b '],
          ['client_id', 'ci-runner'],
          ['client_secret', SECRET],
        ],
      ),
    );
    expect(reply.body.scope).toBe('a b');
    expect(fakes.mintCalls[0]).toMatchObject({ sa: { email: SA }, scopes: ['a', 'b'] });
  });
});

describe('client_credentials: client authentication failures', () => {
  const noPost = without(without(cc(), 'client_id'), 'client_secret');

  it('answers 401 invalid_client with the Basic realm when the authenticator refuses the secret', async () => {
    fakes.clientAuthResult = { ok: false, reason: 'INVALID_CLIENT' };
    const reply = await post(port, cc());
    expectError(reply, 401, 'invalid_client', 'Client authentication failed.', {
      reason: 'INVALID_CLIENT',
      action: 'oauthToken:client_credentials',
    });
    expect(reply.headers['www-authenticate']).toBe(REALM);
    expect(reply.headers['retry-after']).toBeUndefined();
    expect(fakes.mintCalls).toEqual([]);
  });

  it.each([
    ['no client_secret', without(cc(), 'client_secret'), {}],
    ['no client_id', without(cc(), 'client_id'), {}],
    ['a Bearer authorization', noPost, { authorization: 'Bearer abc' }],
    [
      'a basic credential without a colon',
      noPost,
      { authorization: `Basic ${Buffer.from('ci-runner').toString('base64')}` },
    ],
    ['a basic credential with an empty id', noPost, { authorization: basic('', SECRET) }],
    ['a scheme that only contains Basic', noPost, { authorization: `Digest ${basic('ci-runner', SECRET)}` }],
    ['a basic credential that is not base64', noPost, { authorization: 'Basic ci-runner:secret' }],
    [
      'a basic credential with trailing junk',
      noPost,
      { authorization: `${basic('ci-runner', SECRET)} junk` },
    ],
    [
      'a basic credential with broken percent-encoding',
      noPost,
      { authorization: basic('ci%E0%A4%A', SECRET) },
    ],
    [
      'a basic secret with broken percent-encoding',
      noPost,
      { authorization: basic('ci-runner', '%E0%A4%A') },
    ],
    ['no credentials at all', noPost, {}],
  ] as Array<[string, Pairs, Record<string, string>]>)(
    'answers 401 invalid_client with the Basic realm for %s, without asking the authenticator',
    async (_name, pairs, headers) => {
      // The fake authenticator would accept: the refusal must come from the credential's syntax.
      const reply = await post(port, pairs, headers);
      expectError(reply, 401, 'invalid_client', 'Client authentication failed.', {
        reason: 'INVALID_CLIENT',
        action: 'oauthToken:client_credentials',
      });
      expect(reply.headers['www-authenticate']).toBe(REALM);
      expect(fakes.clientAuthCalls).toEqual([]);
      expect(fakes.mintCalls).toEqual([]);
    },
  );

  it('audits the presented id, or (malformed) for an id the policy could not hold', async () => {
    fakes.clientAuthResult = { ok: false, reason: 'INVALID_CLIENT' };
    const ids = ['A-z_0.9', 'x'.repeat(100), 'x'.repeat(101), 'has space', 'évil', 'a\nb', '-'];
    const audited: unknown[] = [];
    for (const id of ids) {
      fakes.audit = [];
      await post(port, cc([['client_id', id]], without(cc(), 'client_id')));
      audited.push(onlyAudit().caller);
    }
    expect(audited).toEqual([
      { kind: 'client', clientId: 'A-z_0.9' },
      { kind: 'client', clientId: 'x'.repeat(100) },
      { kind: 'client', clientId: '(malformed)' },
      { kind: 'client', clientId: '(malformed)' },
      { kind: 'client', clientId: '(malformed)' },
      { kind: 'client', clientId: '(malformed)' },
      { kind: 'client', clientId: '-' },
    ]);
  });

  it.each([
    ['client_id', [['client_id', 'ci-runner']]],
    ['client_secret', [['client_secret', SECRET]]],
  ] as Array<[string, Pairs]>)(
    'refuses basic together with %s in the body (one method, not two)',
    async (_name, extra) => {
      const base = without(without(cc(), 'client_id'), 'client_secret');
      const reply = await post(port, [...base, ...extra], { authorization: basic('ci-runner', SECRET) });
      expectError(reply, 400, 'invalid_request', 'use one client authentication method, not two', {
        reason: 'INVALID_REQUEST',
      });
      expect(fakes.clientAuthCalls).toEqual([]);
    },
  );

  it('answers 429 invalid_client with Retry-After when the id is throttled', async () => {
    fakes.clientAuthResult = { ok: false, reason: 'CLIENT_AUTH_THROTTLED', retryAfterSeconds: 42 };
    const reply = await post(port, cc());
    expectError(
      reply,
      429,
      'invalid_client',
      'Too many failed client authentication attempts; retry after the time in Retry-After.',
      { reason: 'CLIENT_AUTH_THROTTLED', decision: 'denied' },
    );
    expect(reply.headers['retry-after']).toBe('42');
    expect(reply.headers['www-authenticate']).toBeUndefined();
    expect(fakes.mintCalls).toEqual([]);
  });

  it('answers 503 temporarily_unavailable with Retry-After when derivations are shed', async () => {
    fakes.clientAuthResult = { ok: false, reason: 'CLIENT_AUTH_OVERLOADED', retryAfterSeconds: 1 };
    const reply = await post(port, cc());
    expectError(
      reply,
      503,
      'temporarily_unavailable',
      'Too many client authentications in progress; retry shortly.',
      { reason: 'CLIENT_AUTH_OVERLOADED', decision: 'error' },
    );
    expect(reply.headers['retry-after']).toBe('1');
    expect(fakes.mintCalls).toEqual([]);
  });
});

describe('request validation', () => {
  it.each([
    ['missing', without(cc(), 'service_account')],
    ['not an email', cc([['service_account', 'builder']], without(cc(), 'service_account'))],
  ] as Array<[string, Pairs]>)(
    'refuses a service_account that is %s, before any authentication',
    async (_name, pairs) => {
      const entry = expectError(
        await post(port, pairs),
        400,
        'invalid_request',
        'service_account must be a service account email',
        { reason: 'INVALID_REQUEST' },
      );
      expect(entry.target).toBeUndefined();
      expect(fakes.clientAuthCalls).toEqual([]);
    },
  );

  it.each([
    ['missing', without(cc(), 'scope')],
    ['empty', cc([['scope', '']], without(cc(), 'scope'))],
  ])('refuses a %s scope as invalid_request', async (_name, pairs) => {
    const entry = expectError(await post(port, pairs), 400, 'invalid_request', 'scope is required', {
      reason: 'INVALID_REQUEST',
    });
    expect(entry.target).toBeUndefined();
  });

  const scopeCases: Array<[string, string]> = [
    ['only spaces', '   '],
    ['65 scopes', Array.from({ length: 65 }, (_, i) => `s${i}`).join(' ')],
    ['a 513-character scope', 'x'.repeat(513)],
    ['a control character inside a scope', `${SCOPE} a\x01b`],
    ['DEL inside a scope', 'a\x7fb'],
    ['a tab between scopes', `${SCOPE}\tb`],
    ['a non-ASCII scope', 'scopé'],
  ];
  it.each(scopeCases)('refuses %s as invalid_scope, auditing no target', async (_name, scope) => {
    const pairs = cc([['scope', scope]], without(cc(), 'scope'));
    const entry = expectError(
      await post(port, pairs),
      400,
      'invalid_scope',
      'scope must be 1-64 space-separated scope URLs',
      { reason: 'INVALID_SCOPE' },
    );
    expect(entry.target).toBeUndefined();
    expect(fakes.clientAuthCalls).toEqual([]);
  });

  it.each([
    ['64 scopes', Array.from({ length: 64 }, (_, i) => `s${i}`)],
    ['a 512-character scope', ['x'.repeat(512)]],
    ['the printable bounds ! and ~', ['!', '~']],
  ])('accepts %s', async (_name, scopes) => {
    const reply = await post(port, cc([['scope', scopes.join(' ')]], without(cc(), 'scope')));
    expect(reply.status).toBe(200);
    expect(fakes.mintCalls[0].scopes).toEqual(scopes);
  });

  it('refuses a repeated parameter (RFC 6749 §3.2), naming at most 40 characters of it', async () => {
    const long = 'k'.repeat(50);
    expectError(
      await post(
        port,
        cc([
          [long, '1'],
          [long, '2'],
        ]),
      ),
      400,
      'invalid_request',
      `parameter "${'k'.repeat(40)}" is repeated`,
      { reason: 'INVALID_REQUEST' },
    );
    fakes.audit = [];
    expectError(
      await post(port, cc([['scope', SCOPE]])),
      400,
      'invalid_request',
      'parameter "scope" is repeated',
      { reason: 'INVALID_REQUEST' },
    );
  });

  it.each([
    ['missing', without(cc(), 'grant_type'), 'oauthToken:'],
    ['password', cc([['grant_type', 'password']], without(cc(), 'grant_type')), 'oauthToken:password'],
    [
      'a case variant',
      cc([['grant_type', 'Client_Credentials']], without(cc(), 'grant_type')),
      'oauthToken:Client_Credentials',
    ],
    [
      'over 80 characters',
      cc([['grant_type', 'g'.repeat(100)]], without(cc(), 'grant_type')),
      `oauthToken:${'g'.repeat(80)}`,
    ],
  ] as Array<[string, Pairs, string]>)(
    'answers unsupported_grant_type for a grant_type %s, auditing the target',
    async (_name, pairs, action) => {
      const entry = expectError(
        await post(port, pairs),
        400,
        'unsupported_grant_type',
        'grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:token-exchange',
        { reason: 'UNSUPPORTED_GRANT_TYPE', action },
      );
      expect(entry.target).toEqual(TARGET);
      expect(entry.caller).toBeUndefined();
      expect(fakes.clientAuthCalls).toEqual([]);
      expect(fakes.subjectTokens).toEqual([]);
    },
  );

  it('answers 415 for a body that is not a form, auditing the grant type as unknown', async () => {
    const reply = await post(port, JSON.stringify({ grant_type: 'client_credentials' }), {
      'content-type': 'application/json',
    });
    expectError(
      reply,
      415,
      'invalid_request',
      'The request body must be application/x-www-form-urlencoded.',
      { reason: 'UNSUPPORTED_MEDIA_TYPE', action: 'oauthToken:unknown' },
    );
  });

  it('answers 413 for a body the parser refused as too large', async () => {
    fakes.bodyError = 'entity.too.large';
    expectError(await post(port, cc()), 413, 'invalid_request', 'The request body exceeds 65536 bytes.', {
      reason: 'REQUEST_TOO_LARGE',
      action: 'oauthToken:unknown',
    });
  });

  it('answers 400 for a body the parser could not parse', async () => {
    fakes.bodyError = 'entity.parse.failed';
    expectError(await post(port, cc()), 400, 'invalid_request', 'The request body could not be parsed.', {
      reason: 'MALFORMED_BODY',
      action: 'oauthToken:unknown',
    });
  });
});

describe('token exchange (RFC 8693)', () => {
  it('answers 200 with issued_token_type, the subject as policy caller and audit caller (no claims in the audit)', async () => {
    const reply = await post(port, tx([['requested_token_type', ACCESS_TYPE]]));
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      access_token: MINTED.token,
      token_type: 'Bearer',
      expires_in: 3599,
      scope: SCOPE,
      issued_token_type: ACCESS_TYPE,
    });
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(fakes.subjectTokens).toEqual([SUBJECT_TOKEN]);
    expect(fakes.clientAuthCalls).toEqual([]);
    expect(fakes.policyCalls[0].caller).toEqual({
      kind: 'id_token',
      issuer: 'https://token.actions.example',
      subject: 'repo:o/r',
      email: 'ci@example.org',
      expiresAtMs: NOW + 600_000,
      claims: { repository: 'o/r' },
    });
    expect(onlyAudit()).toMatchObject({
      decision: 'granted',
      reason: 'GRANTED',
      action: `oauthToken:${TOKEN_EXCHANGE_GRANT}`,
      caller: {
        kind: 'id_token',
        issuer: 'https://token.actions.example',
        subject: 'repo:o/r',
        email: 'ci@example.org',
      },
    });
    expect(onlyAudit().caller).not.toHaveProperty('claims');
    expect(JSON.stringify(fakes.audit)).not.toContain(SUBJECT_TOKEN);
  });

  it('accepts the id_token subject type too', async () => {
    const reply = await post(
      port,
      tx([['subject_token_type', 'urn:ietf:params:oauth:token-type:id_token']]).filter(
        ([k, v]) => k !== 'subject_token_type' || v !== JWT_TYPE,
      ),
    );
    expect(reply.status).toBe(200);
  });

  const invalid: Array<[string, Pairs, Record<string, string>, string]> = [
    [
      'client authentication in a header',
      tx(),
      { authorization: basic('ci-runner', SECRET) },
      'client authentication is not used with token exchange',
    ],
    [
      'a client_id',
      tx([['client_id', 'ci-runner']]),
      {},
      'client authentication is not used with token exchange',
    ],
    ['an actor_token', tx([['actor_token', 'x']]), {}, 'delegation (actor_token) is not supported'],
    ['no subject_token_type', without(tx(), 'subject_token_type'), {}, 'subject_token_type is required'],
    [
      'an empty subject_token_type',
      [...without(tx(), 'subject_token_type'), ['subject_token_type', '']],
      {},
      'subject_token_type is required',
    ],
    [
      'an empty subject_token',
      [...without(tx(), 'subject_token'), ['subject_token', '']],
      {},
      'subject_token is required',
    ],
    [
      'an access_token subject type',
      [...without(tx(), 'subject_token_type'), ['subject_token_type', ACCESS_TYPE]],
      {},
      'subject_token_type must be urn:ietf:params:oauth:token-type:jwt or :id_token',
    ],
    [
      'a refresh_token requested type',
      tx([['requested_token_type', 'urn:ietf:params:oauth:token-type:refresh_token']]),
      {},
      'only access tokens can be requested',
    ],
    [
      'an empty requested type',
      tx([['requested_token_type', '']]),
      {},
      'only access tokens can be requested',
    ],
    ['no subject_token', without(tx(), 'subject_token'), {}, 'subject_token is required'],
  ];
  it.each(invalid)(
    'refuses %s as invalid_request without verifying anything',
    async (_name, pairs, headers, description) => {
      const entry = expectError(await post(port, pairs, headers), 400, 'invalid_request', description, {
        reason: 'INVALID_REQUEST',
        action: `oauthToken:${TOKEN_EXCHANGE_GRANT}`,
      });
      expect(entry.target).toEqual(TARGET);
      expect(fakes.subjectTokens).toEqual([]);
      expect(fakes.clientAuthCalls).toEqual([]);
    },
  );

  it('answers invalid_grant for a subject token that does not verify, auditing its reason and a log-safe detail', async () => {
    fakes.verifySubject = () =>
      Promise.reject(new UnauthenticatedError('The token has expired.', { reason: 'CALLER_TOKEN_EXPIRED' }));
    const entry = expectError(await post(port, tx()), 400, 'invalid_grant', 'The subject token is invalid.', {
      reason: 'CALLER_TOKEN_EXPIRED',
    });
    expect(entry).toMatchObject({
      caller: undefined,
      target: TARGET,
      detail: 'UnauthenticatedError: The token has expired.',
    });
    expect(fakes.policyCalls).toEqual([]);
  });

  it('answers invalid_grant for a verifier failure that is not an outage', async () => {
    fakes.verifySubject = () => Promise.reject(new InternalError('boom', { reason: 'JWKS_BROKEN' }));
    expectError(await post(port, tx()), 400, 'invalid_grant', 'The subject token is invalid.', {
      reason: 'JWKS_BROKEN',
    });
  });

  it('answers 503 temporarily_unavailable with Retry-After when the issuer is down', async () => {
    fakes.verifySubject = () =>
      Promise.reject(
        new UnavailableError('The issuer is unavailable.', {
          reason: 'ISSUER_UNAVAILABLE',
          retryAfterSeconds: 2.1,
          detail: 'jwks fetch failed',
        }),
      );
    const reply = await post(port, tx());
    const entry = expectError(reply, 503, 'temporarily_unavailable', 'The issuer is unavailable.', {
      reason: 'ISSUER_UNAVAILABLE',
      decision: 'error',
    });
    expect(reply.headers['retry-after']).toBe('3');
    expect(entry.detail).toBe('jwks fetch failed');
  });

  it('answers invalid_grant, not unauthorized_client, for a subject no rule covers', async () => {
    fakes.decide = () => ({ allowed: false, reason: 'NO_RULE_FOR_CALLER' });
    const entry = expectError(
      await post(port, tx()),
      400,
      'invalid_grant',
      'The caller is not allowed to obtain tokens from this service.',
      { reason: 'NO_RULE_FOR_CALLER' },
    );
    expect(entry.caller).toMatchObject({ subject: 'repo:o/r' });
    expect(fakes.mintCalls).toEqual([]);
  });

  it('answers invalid_grant for a subject on the deny list, minting nothing', async () => {
    fakes.deny = compileDenyList({
      callers: [{ issuer: 'https://token.actions.example', subject: 'repo:o/r' }],
      serviceAccounts: [],
      tokenFingerprints: [],
    });
    const entry = expectError(
      await post(port, tx()),
      400,
      'invalid_grant',
      'The caller is not allowed to obtain tokens from this service.',
      { reason: 'CALLER_DENIED' },
    );
    expect(entry.detail).toBe('policy deny.callers[0]');
    expect(fakes.mintCalls).toEqual([]);
  });

  it('maps the other denials as for clients (invalid_target for a service account it may not use)', async () => {
    fakes.decide = () => ({ allowed: false, reason: 'SERVICE_ACCOUNT_NOT_ALLOWED' });
    expectError(
      await post(port, tx()),
      400,
      'invalid_target',
      'The caller is not allowed to obtain tokens for this service account.',
      { reason: 'SERVICE_ACCOUNT_NOT_ALLOWED' },
    );
  });
});

describe('policy and minting outcomes in RFC 6749 terms (client_credentials)', () => {
  it.each([
    [
      'NO_RULE_FOR_CALLER',
      'unauthorized_client',
      'The caller is not allowed to obtain tokens from this service.',
    ],
    [
      'SERVICE_ACCOUNT_NOT_ALLOWED',
      'invalid_target',
      'The caller is not allowed to obtain tokens for this service account.',
    ],
    ['SCOPE_NOT_ALLOWED', 'invalid_scope', 'The caller is not allowed one or more of the requested scopes.'],
    [
      'LIFETIME_EXCEEDS_POLICY',
      'invalid_request',
      'The requested lifetime exceeds what the policy allows this caller.',
    ],
  ] as const)('a %s denial is 400 %s, audited with the closest rule', async (reason, error, description) => {
    fakes.decide = () => ({ allowed: false, reason, rule: 'near-miss' });
    const entry = expectError(await post(port, cc()), 400, error, description, {
      reason,
      action: 'oauthToken:client_credentials',
    });
    expect(entry).toMatchObject({
      caller: { kind: 'client', clientId: 'ci-runner' },
      target: TARGET,
      detail: 'closest rule: near-miss',
    });
    expect(fakes.mintCalls).toEqual([]);
  });

  it.each([
    [
      'a denied client',
      { callers: [{ client: 'ci-runner' }], serviceAccounts: [] },
      'unauthorized_client',
      'CALLER_DENIED',
    ],
    [
      'a denied service account',
      { callers: [], serviceAccounts: ['*@*.iam.gserviceaccount.com'] },
      'invalid_target',
      'SERVICE_ACCOUNT_DENIED',
    ],
  ] as const)('%s is 400 %s whatever the rules say, minting nothing', async (_name, deny, error, reason) => {
    fakes.deny = compileDenyList({
      ...deny,
      callers: [...deny.callers],
      serviceAccounts: [...deny.serviceAccounts],
      tokenFingerprints: [],
    });
    const reply = await post(port, cc());
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error });
    expect(onlyAudit()).toMatchObject({ decision: 'denied', reason });
    expect(fakes.policyCalls).toEqual([]);
    expect(fakes.mintCalls).toEqual([]);
  });

  it('a service account the policy allows but does not configure is 400 invalid_target', async () => {
    fakes.decide = () => ({ allowed: true, rule: 'ci-rule', serviceAccount: undefined });
    expectError(
      await post(port, cc()),
      400,
      'invalid_target',
      'The service account is not configured in this service.',
      { reason: 'SERVICE_ACCOUNT_NOT_FOUND' },
    );
  });

  it('a scope Google refuses is 400 invalid_scope', async () => {
    fakes.mint = () =>
      Promise.reject(new InvalidArgumentError('Google refused the scope.', { reason: 'INVALID_SCOPE' }));
    expectError(await post(port, cc()), 400, 'invalid_scope', 'Google refused the scope.', {
      reason: 'INVALID_SCOPE',
    });
  });

  it('a quota refusal is 429 temporarily_unavailable with its Retry-After, audited as denied, nothing minted', async () => {
    fakes.mint = () =>
      Promise.reject(
        new ResourceExhaustedError(
          'Too many token requests from this caller; retry after the time in Retry-After.',
          {
            reason: 'CALLER_RATE_LIMITED',
            retryAfterSeconds: 7,
          },
        ),
      );
    const reply = await post(port, cc());
    expectError(
      reply,
      429,
      'temporarily_unavailable',
      'Too many token requests from this caller; retry after the time in Retry-After.',
      { reason: 'CALLER_RATE_LIMITED', decision: 'denied' },
    );
    expect(reply.headers['retry-after']).toBe('7');
  });

  it('an outage is 503 temporarily_unavailable, with Retry-After rounded up when known', async () => {
    fakes.mint = () =>
      Promise.reject(
        new UnavailableError('Google is unavailable.', {
          reason: 'UPSTREAM_UNAVAILABLE',
          retryAfterSeconds: 4.2,
        }),
      );
    const reply = await post(port, cc());
    expectError(reply, 503, 'temporarily_unavailable', 'Google is unavailable.', {
      reason: 'UPSTREAM_UNAVAILABLE',
      decision: 'error',
    });
    expect(reply.headers['retry-after']).toBe('5');
  });

  it('an outage without a known delay sends no Retry-After', async () => {
    fakes.mint = () =>
      Promise.reject(new UnavailableError('Google is unavailable.', { reason: 'UPSTREAM_UNAVAILABLE' }));
    const reply = await post(port, cc());
    expectError(reply, 503, 'temporarily_unavailable', 'Google is unavailable.', {
      reason: 'UPSTREAM_UNAVAILABLE',
    });
    expect(reply.headers).not.toHaveProperty('retry-after');
  });

  it('anything else is 500 server_error with a generic message, audited as an error with its detail', async () => {
    fakes.mint = () =>
      Promise.reject(
        new InternalError(`leaky ${SECRET}`, { reason: 'MINT_FAILED', detail: 'signJwt answered 500' }),
      );
    const entry = expectError(await post(port, cc()), 500, 'server_error', 'Internal error.', {
      reason: 'MINT_FAILED',
      decision: 'error',
    });
    expect(entry.detail).toBe('signJwt answered 500');
  });

  it('an unexpected exception is 500 server_error, reason INTERNAL', async () => {
    fakes.mint = () => Promise.reject(new TypeError('undefined is not a function'));
    const entry = expectError(await post(port, cc()), 500, 'server_error', 'Internal error.', {
      reason: 'INTERNAL',
      decision: 'error',
    });
    expect(entry.detail).toBeUndefined();
  });
});

describe('token exchange in Google STS’s request shape', () => {
  const sts = (extra: Pairs = []): Pairs => [
    ...without(tx(), 'service_account'),
    ['audience', `//tokenvending/serviceAccounts/${SA}`],
    ['requested_token_type', ACCESS_TYPE],
    ...extra,
  ];

  it('takes the service account from the audience and answers STS’s shape', async () => {
    const reply = await post(port, sts());
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      issued_token_type: ACCESS_TYPE,
      token_type: 'Bearer',
      expires_in: 3599,
    });
    expect(fakes.policyCalls[0].request).toEqual({ kind: 'access_token', ...TARGET });
    expect(fakes.mintCalls[0].sa.email).toBe(SA);
    expect(onlyAudit()).toMatchObject({ decision: 'granted', target: { serviceAccount: SA } });
  });

  it('lower-cases the email in the audience as it does service_account', async () => {
    await post(port, [
      ...without(sts(), 'audience'),
      ['audience', `//tokenvending/serviceAccounts/${SA.toUpperCase()}`],
    ]);
    expect(fakes.policyCalls[0].request).toMatchObject({ serviceAccount: SA });
  });

  it.each([['{"userProject":"123"}'], ['{}']])(
    'accepts options %s (userProject is ignored)',
    async (options) => {
      expect((await post(port, sts([['options', options]]))).status).toBe(200);
    },
  );

  const AUDIENCE_FORM =
    'Invalid value for "audience": it must be //tokenvending/serviceAccounts/SERVICE_ACCOUNT_EMAIL';
  const OPTIONS_FORM = 'options must be a JSON object of at most 2048 characters';
  it.each<[string, Pairs, string, string]>([
    [
      'an audience of Google STS’s form',
      [['audience', '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x']],
      AUDIENCE_FORM,
      'INVALID_AUDIENCE',
    ],
    [
      'an audience without an email',
      [['audience', '//tokenvending/serviceAccounts/']],
      AUDIENCE_FORM,
      'INVALID_AUDIENCE',
    ],
    [
      'an audience naming a path, not an email',
      [['audience', `//tokenvending/serviceAccounts/${SA}/keys/1`]],
      AUDIENCE_FORM,
      'INVALID_AUDIENCE',
    ],
    [
      'an audience whose email is not one',
      [['audience', '//tokenvending/serviceAccounts/not an email']],
      AUDIENCE_FORM,
      'INVALID_AUDIENCE',
    ],
    ['an empty audience', [['audience', '']], AUDIENCE_FORM, 'INVALID_AUDIENCE'],
    [
      'both audience and service_account',
      [
        ['audience', `//tokenvending/serviceAccounts/${SA}`],
        ['service_account', SA],
      ],
      'name the service account by service_account or by audience, not both',
      'INVALID_REQUEST',
    ],
    ['options that are not JSON', [['options', '{']], OPTIONS_FORM, 'INVALID_REQUEST'],
    ['options that are a list', [['options', '[]']], OPTIONS_FORM, 'INVALID_REQUEST'],
    ['options that are null', [['options', 'null']], OPTIONS_FORM, 'INVALID_REQUEST'],
    ['options that are a string', [['options', '"x"']], OPTIONS_FORM, 'INVALID_REQUEST'],
    [
      'options one character over 2048',
      [['options', JSON.stringify({ userProject: 'x'.repeat(2049 - 18) })]], // 2049 characters
      OPTIONS_FORM,
      'INVALID_REQUEST',
    ],
    [
      'an option other than userProject',
      [['options', JSON.stringify({ userProject: '1', accessBoundary: {} })]],
      'option "accessBoundary" is not supported',
      'OPTION_NOT_SUPPORTED',
    ],
    [
      'an unsupported option with a long name (quoted, at most 40 characters)',
      [['options', JSON.stringify({ ['k'.repeat(60)]: 1 })]],
      `option "${'k'.repeat(40)}" is not supported`,
      'OPTION_NOT_SUPPORTED',
    ],
  ])('refuses %s with 400 invalid_request, minting nothing', async (_name, extra, description, reason) => {
    const base = extra.some(([k]) => k === 'audience') ? without(sts(), 'audience') : sts();
    const reply = await post(port, [...base, ...extra]);
    expectError(reply, 400, 'invalid_request', description, { reason });
    expect(fakes.mintCalls).toEqual([]);
    expect(fakes.subjectTokens).toEqual([]);
  });

  it('accepts options of exactly 2048 characters', async () => {
    const options = JSON.stringify({ userProject: 'x'.repeat(2048 - 18) });
    expect(options).toHaveLength(2048);
    expect((await post(port, sts([['options', options]]))).status).toBe(200);
  });
});

describe('one token for both jobs (X-Serverless-Authorization reused as the caller credential)', () => {
  it('refuses the subject token that is the platform token with 400 invalid_grant, no WWW-Authenticate', async () => {
    const reply = await post(port, tx(), { 'x-serverless-authorization': `Bearer ${SUBJECT_TOKEN}` });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_grant');
    expect(reply.headers['www-authenticate']).toBeUndefined();
    expect(onlyAudit()).toMatchObject({ reason: 'SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL' });
    expect(fakes.subjectTokens).toEqual([]);
  });

  it('refuses the client secret that is the platform token with 401 invalid_client and the Basic realm', async () => {
    const token = 'platform-token-as-secret-0123456789abcdef';
    const reply = await post(port, [...without(cc(), 'client_secret'), ['client_secret', token]], {
      'x-serverless-authorization': `Bearer ${token}`,
    });
    expect(reply.status).toBe(401);
    expect(reply.body.error).toBe('invalid_client');
    expect(reply.headers['www-authenticate']).toBe(REALM);
    expect(fakes.clientAuthCalls).toEqual([]);
  });
});
