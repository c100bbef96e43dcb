/**
 * JWT attack corpus against the running token function, over HTTP, one test per attack and
 * channel: the caller's `Authorization: Bearer` on generateAccessToken, and the RFC 8693
 * `subject_token` on /v1/token. Each attack is a mutation of a token that IS accepted (the
 * baselines at the top), so a refusal is due to the attack and nothing else.
 */
import { createPublicKey } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFigures } from './support/figures.js';
import { googleErrorProblem, leakedSecrets, oauthErrorProblem } from './support/invariants.js';
import { startKeyServer, type KeyServer } from './support/key-server.js';
import { closeIdleSockets, postForm, postJson, type RawResponse } from './support/raw-http.js';
import {
  accessPath,
  CP,
  GEMINI,
  idPath,
  startReliabilityStack,
  type ReliabilityStack,
} from './support/reliability-stack.js';

let r: ReliabilityStack;
let attacker: KeyServer;
const presented: string[] = [];
let refused = 0;

beforeAll(async () => {
  r = await startReliabilityStack();
  attacker = await startKeyServer();
});

afterAll(async () => {
  recordFigures('jwt-attacks', {
    attacksRefused: refused,
    secretsLeaked: presented.length ? leakedSecrets(await r.logs(), presented).length : 0,
  });
  closeIdleSockets();
  await attacker?.stop();
  await r?.stop();
});

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const nowS = (): number => Math.floor(Date.now() / 1000);

/** Claims of an accepted external-issuer token (subject matches the policy's `repo:acme/*`). */
function ciClaims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: r.issuer.url,
    sub: 'repo:acme/app',
    aud: r.url,
    iat: nowS(),
    exp: nowS() + 600,
    ...overrides,
  };
}

/** Google-looking claims for the demo workload (what an attacker would forge). */
function googleClaims(overrides: JWTPayload = {}): JWTPayload {
  const sa = r.stack.emulator.state.serviceAccounts.get('workload@tvs-local.iam.gserviceaccount.com')!;
  return {
    iss: 'https://accounts.google.com',
    sub: sa.uniqueId,
    aud: r.url,
    email: sa.email,
    email_verified: true,
    iat: nowS(),
    exp: nowS() + 600,
    ...overrides,
  };
}

async function googleJwk(): Promise<Record<string, any>> {
  return ((await (await fetch(r.stack.emulator.jwksUrl)).json()) as { keys: Array<Record<string, any>> })
    .keys[0];
}

type Expect = { header: number; exchange: number };
const UNAUTH: Expect = { header: 401, exchange: 400 };

/** name, token factory, expected status per channel. */
const ATTACKS: Array<[string, () => Promise<string>, Expect?]> = [
  [
    'alg "none" with an empty signature',
    () => Promise.resolve(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(googleClaims())}.`),
  ],
  [
    'alg "none" keeping a real signature',
    async () => {
      const real = await r.googleIdToken();
      return `${b64({ alg: 'none', typ: 'JWT' })}.${real.split('.')[1]}.${real.split('.')[2]}`;
    },
  ],
  [
    'HS256 keyed with the issuer RSA public key (PEM)',
    async () => {
      const jwk = await googleJwk();
      const pem = createPublicKey({ key: jwk as any, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      return new SignJWT(googleClaims())
        .setProtectedHeader({ alg: 'HS256', kid: jwk.kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(String(pem)));
    },
  ],
  [
    'HS256 keyed with the external issuer public JWK',
    async () =>
      new SignJWT(ciClaims())
        .setProtectedHeader({ alg: 'HS256', kid: r.issuer.kid })
        .sign(new TextEncoder().encode(JSON.stringify(r.issuer.publicJwk))),
  ],
  ['an unknown kid', async () => attacker.sign(googleClaims(), { kid: 'no-such-kid' })],
  [
    'the issuer kid on a token signed by another key',
    async () => attacker.sign(googleClaims(), { kid: (await googleJwk()).kid }),
  ],
  [
    'a jku header pointing at the attacker JWKS',
    async () => attacker.sign(googleClaims(), { jku: attacker.jwksUrl, kid: attacker.kid }),
  ],
  [
    'an x5u header pointing at the attacker',
    async () => attacker.sign(ciClaims(), { x5u: `${attacker.url}/cert.pem`, kid: attacker.kid }),
  ],
  [
    'an embedded jwk header with the attacker key',
    async () => attacker.sign(ciClaims(), { jwk: attacker.publicJwk, kid: undefined }),
  ],
  ['an expired Google token', () => r.googleIdToken({ nowMs: Date.now() - 2 * 3600_000 })],
  [
    'an expired external token (1 s past the 60 s skew)',
    () => r.issuer.sign(ciClaims({ iat: nowS() - 700, exp: nowS() - 61 })),
  ],
  ['a not-yet-valid token (nbf in 10 minutes)', () => r.issuer.sign(ciClaims({ nbf: nowS() + 600 }))],
  [
    'a far-future iat (Google-signed, issued next year)',
    () => r.googleIdToken({ nowMs: Date.now() + 365 * 86_400_000 }),
  ],
  ['a far-future iat with a normal exp', () => r.issuer.sign(ciClaims({ iat: nowS() + 30 * 86_400 }))],
  [
    'an iat older than the 24 h maximum age with a far exp',
    () => r.issuer.sign(ciClaims({ iat: nowS() - 25 * 3600, exp: nowS() + 3600 })),
  ],
  ['no exp at all', () => r.issuer.sign(ciClaims({ exp: undefined }))],
  [
    'a Google token for another audience (replayed)',
    () => r.googleIdToken({ audience: 'https://other-service.example.com' }),
  ],
  ['an aud with a trailing slash', () => r.googleIdToken({ audience: `${r.url}/` })],
  [
    'an aud on another port of the same host',
    () => r.googleIdToken({ audience: r.url.replace(/:(\d+)$/, (_m, p: string) => `:${Number(p) + 1}`) }),
  ],
  [
    'an ID token this service minted, replayed as a caller credential',
    async () => {
      const res = await postJson(
        r.url,
        '/v1/projects/-/serviceAccounts/' + GEMINI + ':generateIdToken',
        { audience: 'https://example.com' },
        `Bearer ${await r.googleIdToken()}`,
      );
      expect(res.status).toBe(200);
      return res.json.token as string;
    },
  ],
  [
    'the external issuer key signing iss accounts.google.com (issuer confusion)',
    () => r.issuer.sign(googleClaims()),
  ],
  ['an unlisted issuer', () => attacker.sign(googleClaims({ iss: 'https://evil.example.com' }))],
  ...[
    'https://accounts.google.com.evil.com',
    'https://accounts.google.com/',
    'https://ACCOUNTS.google.com',
    'accounts.google.com',
    'https://accounts.google.com@evil.com',
    'https://accounts.g\u043e\u043egle.com',
    'https://accounts.google.com\u0000',
    ' https://accounts.google.com',
  ].map((iss): [string, () => Promise<string>] => [
    `a look-alike Google issuer ${JSON.stringify(iss)}`,
    () => attacker.sign(googleClaims({ iss })),
  ]),
  [
    'the external issuer as localhost instead of 127.0.0.1 (same key)',
    () => r.issuer.sign(ciClaims({ iss: r.issuer.url.replace('127.0.0.1', 'localhost') })),
  ],
  [
    'the external issuer with a trailing slash (same key)',
    () => r.issuer.sign(ciClaims({ iss: `${r.issuer.url}/` })),
  ],
  ['iss as an array', () => r.issuer.sign(ciClaims({ iss: [r.issuer.url] as unknown as string }))],
  ['a nested JWT (cty: JWT)', () => r.issuer.sign(ciClaims(), { cty: 'JWT' })],
  ['a typ other than JWT (at+jwt)', () => r.issuer.sign(ciClaims(), { typ: 'at+jwt' })],
  [
    'a crit header naming an extension',
    () =>
      Promise.resolve(
        r.issuer.signRaw(
          { alg: 'RS256', kid: r.issuer.kid, crit: ['x-policy'], 'x-policy': 'allow-all' },
          ciClaims(),
        ),
      ),
  ],
  [
    'a tampered payload (subject changed after signing)',
    async () => {
      const [h, , s] = (await r.issuer.sign(ciClaims({ sub: 'repo:other/app' }))).split('.');
      return `${h}.${b64(ciClaims())}.${s}`;
    },
  ],
  [
    'a tampered signature',
    async () => {
      const token = await r.issuer.sign(ciClaims());
      return `${token.slice(0, -6)}${token.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
    },
  ],
  [
    'base64 with + and / instead of base64url',
    async () => {
      const token = await r.issuer.sign(ciClaims({ pad: '\u00ff\u00fe\u00ff>>>???' }));
      const [h, p, s] = token.split('.');
      return `${h}.${Buffer.from(p, 'base64url').toString('base64')}.${s}`;
    },
  ],
  [
    'padded base64url segments',
    async () =>
      (await r.issuer.sign(ciClaims()))
        .split('.')
        .map((part) => `${part}==`)
        .join('.'),
  ],
  ['a header that is not JSON', () => Promise.resolve(`${b64('{"alg":"RS256",')}.${b64(ciClaims())}.c2ln`)],
  [
    'a payload that is a JSON array',
    () => Promise.resolve(`${b64({ alg: 'RS256', kid: r.issuer.kid })}.${b64([1, 2])}.c2ln`),
  ],
  ['four segments', async () => `${await r.issuer.sign(ciClaims())}.AAAA`],
  ['two segments', async () => (await r.issuer.sign(ciClaims())).split('.').slice(0, 2).join('.')],
  [
    'a Google token whose email is not verified',
    async () => r.googleIdToken({ includeEmail: false }),
    { header: 403, exchange: 400 },
  ],
  [
    'a huge (20 KB) but validly signed token',
    () => r.issuer.sign(ciClaims({ pad: 'x'.repeat(20_000) })),
    { header: 431, exchange: 400 },
  ],
  [
    'an ID token this service vended for another audience (replayed as a credential)',
    async () => {
      const res = await postJson(
        r.url,
        idPath(GEMINI),
        { audience: 'https://example.com' },
        `Bearer ${await r.googleIdToken()}`,
      );
      expect(res.status).toBe(200);
      return (res.json as { token: string }).token;
    },
  ],
  [
    'an ID token this service vended, with its payload re-pointed at this service',
    async () => {
      const res = await postJson(
        r.url,
        idPath(GEMINI),
        { audience: 'https://example.com' },
        `Bearer ${await r.googleIdToken()}`,
      );
      const [h, p, s] = (res.json as { token: string }).token.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as JWTPayload;
      return `${h}.${b64({ ...claims, aud: r.url })}.${s}`;
    },
  ],
  [
    'a huge (60 KB) validly signed token',
    () => r.issuer.sign(ciClaims({ pad: 'x'.repeat(44_000) })),
    { header: 431, exchange: 400 },
  ],
];

async function viaHeader(token: string): Promise<RawResponse> {
  return postJson(r.url, accessPath(GEMINI), { scope: [CP] }, `Bearer ${token}`);
}

async function viaExchange(token: string): Promise<RawResponse> {
  return postForm(r.url, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    subject_token: token,
    service_account: GEMINI,
    scope: CP,
  });
}

describe('baselines: the unmutated tokens are accepted on both channels', () => {
  it.each([
    ['a Google-signed workload token', () => r.googleIdToken()],
    ['an external-issuer token for repo:acme/app', () => r.issuer.sign(ciClaims())],
    [
      'the same, signed by hand (as the crit attack is)',
      () => Promise.resolve(r.issuer.signRaw({ alg: 'RS256', kid: r.issuer.kid }, ciClaims())),
    ],
  ])('%s gets a token', async (_name, make) => {
    const header = await viaHeader(await make());
    expect(header.status).toBe(200);
    expect(header.json.accessToken).toEqual(expect.any(String));
    const exchange = await viaExchange(await make());
    expect(exchange.status).toBe(200);
    expect(exchange.json).toMatchObject({
      token_type: 'Bearer',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    });
  });
});

describe.each([
  ['Authorization header', 'header' as const],
  ['token-exchange subject_token', 'exchange' as const],
])('attacks via the %s are refused', (_label, channel) => {
  it.each(ATTACKS)('%s', async (_name, make, expected = UNAUTH) => {
    const token = await make();
    presented.push(token);
    const mintsBefore = r.stack.emulator.faults.count('oauth.token');
    const res = channel === 'header' ? await viaHeader(token) : await viaExchange(token);
    expect(res.status).toBe(expected[channel]);
    if (res.status !== 431) {
      expect(channel === 'header' ? googleErrorProblem(res) : oauthErrorProblem(res)).toBeUndefined();
      expect(res.text).not.toContain(token.slice(-40));
    }
    if (channel === 'exchange' && expected.exchange === 400)
      expect(res.json.error).toMatch(/^(invalid_grant|unauthorized_client)$/);
    expect(r.stack.emulator.faults.count('oauth.token')).toBe(mintsBefore);
    expect(attacker.hits()).toBe(0);
    refused += 1;
  });
});

describe('after the corpus', () => {
  it('never fetched from an attacker-named URL, and no presented token reached a log', async () => {
    expect(attacker.hits()).toBe(0);
    expect(presented.length).toBeGreaterThan(ATTACKS.length);
    expect(
      leakedSecrets(
        await r.logs(),
        presented.filter((t) => t.length >= 16),
      ),
    ).toEqual([]);
  });
});
