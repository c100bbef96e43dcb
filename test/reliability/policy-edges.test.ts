/**
 * Policy edge cases end to end: glob escapes (a `*` must stay inside one path segment, domain
 * label or email part), case and Unicode tricks in emails, scope strings with whitespace, and
 * lifetimes that are zero, negative, huge or not numbers. Every "denied" case sits next to an
 * allowed twin, so the refusal is about the trick.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFigures } from './support/figures.js';
import { googleErrorProblem, oauthErrorProblem } from './support/invariants.js';
import { closeIdleSockets, postForm, postJson, send } from './support/raw-http.js';
import {
  accessPath,
  CLIENT_ID,
  CP,
  GEMINI,
  idPath,
  startReliabilityStack,
  type ReliabilityStack,
} from './support/reliability-stack.js';

let r: ReliabilityStack;
let checked = 0;

beforeAll(async () => {
  r = await startReliabilityStack();
});

afterAll(async () => {
  recordFigures('policy-edges', { attacksRefused: checked });
  closeIdleSockets();
  await r?.stop();
});

const nowS = (): number => Math.floor(Date.now() / 1000);
const ciToken = (sub: string) =>
  r.issuer.sign({ iss: r.issuer.url, sub, aud: r.url, iat: nowS(), exp: nowS() + 600 });

function expectShape(res: Awaited<ReturnType<typeof postJson>>, status: number, reason?: string): void {
  expect(res.status).toBe(status);
  if (status !== 200) {
    expect(googleErrorProblem(res)).toBeUndefined();
    if (reason) expect(res.json.error.details[0].reason).toBe(reason);
  }
  checked += 1;
}

describe('ID-token audience globs ("https://*.run.app", "https://example.com")', () => {
  it.each<[string, number, string?]>([
    ['https://svc-abc.run.app', 200],
    ['https://example.com', 200],
    ['https://a.b.run.app', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://evil.com/x.run.app', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://evil.com?.run.app', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://evil.com#.run.app', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://user@evil.run.app', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://x.run.app.evil.com', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://x.run.app:8443', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://.run.app', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://x.run.app/', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['http://x.run.app', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://example.com.evil.com', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://EXAMPLE.com', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://example.com/', 403, 'AUDIENCE_NOT_ALLOWED'],
    ['https://\uff58.run.app', 400, 'INVALID_REQUEST_FIELD'],
    ['https://x\u2024run.app', 400, 'INVALID_REQUEST_FIELD'],
    ['https://x.run.app\n', 400, 'INVALID_REQUEST_FIELD'],
  ])('%j → %i', async (audience, status, reason) => {
    const res = await postJson(r.url, idPath(GEMINI), { audience }, `Bearer ${await r.googleIdToken()}`);
    expectShape(res, status, reason);
  });
});

describe('ID tokens for this service’s own audience (it would accept them back as a caller credential)', () => {
  const port = (): string => new URL(r.url).port;
  it.each<[string, () => string]>([
    ['the service URL', () => r.url],
    ['the service URL with a trailing slash', () => `${r.url}/`],
    ['the service URL with an upper-case scheme', () => r.url.replace('http:', 'HTTP:')],
    ['its localhost alias with an upper-case host', () => `http://LOCALHOST:${port()}`],
    ['its localhost alias with a trailing dot and slash', () => `http://localhost.:${port()}/`],
    ['the port written with a leading zero', () => `http://127.0.0.1:0${port()}`],
  ])(
    '%s → 403 AUDIENCE_IS_THIS_SERVICE for a Google caller and an external-issuer caller',
    async (_name, audience) => {
      for (const bearer of [await r.googleIdToken(), await ciToken('repo:acme/app')]) {
        const mintsBefore = r.stack.emulator.faults.count('oauth.token');
        const res = await postJson(r.url, idPath(GEMINI), { audience: audience() }, `Bearer ${bearer}`);
        expectShape(res, 403, 'AUDIENCE_IS_THIS_SERVICE');
        expect(r.stack.emulator.faults.count('oauth.token')).toBe(mintsBefore);
      }
    },
  );

  it.each<[string, () => string]>([
    ['another path on the service host', () => `${r.url}/v1`],
    ['another port on the same host', () => `http://127.0.0.1:${Number(port()) === 1 ? 2 : 1}`],
  ])('%s is not this service (403 AUDIENCE_NOT_ALLOWED, by the policy)', async (_name, audience) => {
    const res = await postJson(
      r.url,
      idPath(GEMINI),
      { audience: audience() },
      `Bearer ${await r.googleIdToken()}`,
    );
    expectShape(res, 403, 'AUDIENCE_NOT_ALLOWED');
  });
});

describe('caller subject glob of an external issuer ("repo:acme/*")', () => {
  it.each<[string, number]>([
    ['repo:acme/app', 200],
    ['repo:acme/app/evil', 403],
    ['repo:acme/app:ref:refs/heads/main', 403],
    ['repo:acme/', 403],
    ['repo:acme/..', 403],
    ['repo:acme/a.b', 403],
    ['repo:acme2/app', 403],
    ['REPO:acme/app', 403],
    ['repo:acme/app\n', 403],
    ['repo:acme/app ', 403],
    ['repo:acme/@evil', 403],
    ['xrepo:acme/app', 403],
  ])('%j → %i', async (sub, status) => {
    const res = await postJson(r.url, accessPath(GEMINI), { scope: [CP] }, `Bearer ${await ciToken(sub)}`);
    expectShape(res, status, status === 403 ? 'NO_RULE_FOR_CALLER' : undefined);
  });
});

describe('caller email (rule: workload@tvs-local.iam.gserviceaccount.com, ASCII case-insensitive)', () => {
  it.each<[string, number]>([
    ['workload@tvs-local.iam.gserviceaccount.com', 200],
    ['WORKLOAD@TVS-LOCAL.IAM.GSERVICEACCOUNT.COM', 200],
    ['wor\u212Aload@tvs-local.iam.gserviceaccount.com', 403],
    ['\uff57orkload@tvs-local.iam.gserviceaccount.com', 403],
    ['workload@tvs-local.iam.gserviceaccount.com.evil.com', 403],
    ['workload@tvs-local.iam.gserviceaccount.com\u0000', 403],
    ['workload@tvs-local.iam.gserviceaccount.com ', 403],
    ['workload+x@tvs-local.iam.gserviceaccount.com', 403],
    ['evil@x.com,workload@tvs-local.iam.gserviceaccount.com', 403],
    ['workload@tvs-local.iam.gserviceaccount.co\u0301m', 403],
  ])('%j → %i', async (email, status) => {
    const res = await postJson(
      r.url,
      accessPath(GEMINI),
      { scope: [CP] },
      `Bearer ${await r.googleIdToken({ email })}`,
    );
    expectShape(res, status, status === 403 ? 'NO_RULE_FOR_CALLER' : undefined);
  });
});

describe('target service account named in the path', () => {
  it.each<[string, number]>([
    ['GEMINI-CALLER@TVS-LOCAL.IAM.GSERVICEACCOUNT.COM', 200],
    ['gemini-caller%40tvs-local.iam.gserviceaccount.com', 200],
    ['gemini-caller@tvs-local.iam.gserviceaccount.com.evil.com', 403],
    ['gemini-caller@tvs-local.iam.gserviceaccount.co', 403],
    ['*@tvs-local.iam.gserviceaccount.com', 400],
    ['gem%C4%B1ni-caller@tvs-local.iam.gserviceaccount.com', 400],
    ['gemini-caller@tvs-local.iam.gserviceaccount.com%00', 400],
    ['gemini-caller@tvs-local.iam.gserviceaccount.com%20', 400],
    ['gemini-caller%2f..%2fworkload@tvs-local.iam.gserviceaccount.com', 400],
    ['%E2%80%AEgemini-caller@tvs-local.iam.gserviceaccount.com', 400],
  ])('%j → %i', async (sa, status) => {
    const res = await postJson(r.url, accessPath(sa), { scope: [CP] }, `Bearer ${await r.googleIdToken()}`);
    expectShape(res, status);
  });

  it('does not route a path that climbs out of serviceAccounts/', async () => {
    const res = await send(r.url, {
      method: 'POST',
      path: `/v1/projects/-/serviceAccounts/../serviceAccounts/${GEMINI}:generateAccessToken`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await r.googleIdToken()}` },
      body: JSON.stringify({ scope: [CP] }),
    });
    expectShape(res, 404);
  });
});

describe('scope strings', () => {
  it.each<[string, unknown, number]>([
    ['the granted scope', [CP], 200],
    ['the granted scope twice', [CP, CP], 200],
    ['a trailing space', [`${CP} `], 400],
    ['a leading newline', [`\n${CP}`], 400],
    ['a CRLF header injection', [`${CP}\r\nX-Injected: 1`], 400],
    ['an empty scope', [CP, ''], 400],
    ['two scopes in one string', [`${CP} https://www.googleapis.com/auth/gmail.send`], 400],
    ['a prefix of the granted scope', ['https://www.googleapis.com/auth/cloud'], 403],
    ['an extension of the granted scope', [`${CP}.read-only`], 403],
    ['a glob in the request', ['https://www.googleapis.com/auth/*'], 403],
    ['the scope with a query', [`${CP}?x=1`], 403],
    ['a string instead of an array', CP, 400],
    ['65 scopes', Array.from({ length: 65 }, () => CP), 400],
  ])('%s → %i', async (_name, scope, status) => {
    const res = await postJson(r.url, accessPath(GEMINI), { scope }, `Bearer ${await r.googleIdToken()}`);
    expectShape(res, status);
  });

  it.each<[string, string, number, string]>([
    ['double spaces between scopes', `${CP}  ${CP}`, 200, ''],
    ['a tab separator', `${CP}\t${CP}`, 400, 'invalid_scope'],
    ['a newline separator', `${CP}\n${CP}`, 400, 'invalid_scope'],
    ['an extra ungranted scope', `${CP} https://www.googleapis.com/auth/gmail.send`, 400, 'invalid_scope'],
  ])('OAuth scope parameter with %s → %i', async (_name, scope, status, error) => {
    const res = await postForm(r.url, {
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: r.clientSecret,
      service_account: GEMINI,
      scope,
    });
    expect(res.status).toBe(status);
    if (status !== 200) {
      expect(oauthErrorProblem(res)).toBeUndefined();
      expect(res.json.error).toBe(error);
    }
    checked += 1;
  });
});

describe('lifetimes', () => {
  it.each<[unknown, number]>([
    ['3600s', 200],
    ['3600.5s', 400],
    ['3601s', 400],
    ['-0s', 400],
    ['1e3s', 400],
    ['3600', 400],
    [3600, 400],
    [' 3600s', 400],
    ['\uff13\uff16\uff10\uff10s', 400],
    ['99999999999s', 400],
    ['NaNs', 400],
    ['Infinitys', 400],
    ['0x10s', 400],
    [null, 400],
  ])('lifetime %j → %i', async (lifetime, status) => {
    const res = await postJson(
      r.url,
      accessPath(GEMINI),
      { scope: [CP], lifetime },
      `Bearer ${await r.googleIdToken()}`,
    );
    expectShape(res, status);
  });

  it.each(['1s', '0.1s', '60s', '3599s'])(
    'a short lifetime (%s) never yields a token that lives longer than asked',
    async (lifetime) => {
      const askedAtMs = Date.now();
      const res = await postJson(
        r.url,
        accessPath(GEMINI),
        { scope: [CP], lifetime },
        `Bearer ${await r.googleIdToken()}`,
      );
      if (res.status === 200) {
        const seconds = Math.ceil(Number(lifetime.slice(0, -1)));
        expect(Date.parse(res.json.expireTime)).toBeLessThanOrEqual(askedAtMs + seconds * 1000 + 2000);
      } else {
        expectShape(res, 400);
      }
      checked += 1;
    },
  );
});
