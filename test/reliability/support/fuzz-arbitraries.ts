/**
 * fast-check generators of hostile requests for every endpoint of the token function: paths,
 * methods, headers, content types and bodies (deep JSON, huge strings, Unicode, numbers as
 * strings, duplicated keys, prototype-pollution keys, form bodies), each carrying one credential
 * from a pool whose validity is known, so the oracle can tell who may get a token.
 */
import fc from 'fast-check';
import { CLIENT_ID, CP, GEMINI } from './reliability-stack.js';

/** A credential and what it proves: `valid` callers may get tokens where the policy allows. */
export interface Credential {
  kind: 'none' | 'garbage' | 'forged' | 'google' | 'ci' | 'client' | 'client-wrong';
  /** The token (JWT or secret) the caller presents, for leak checks; undefined for none/garbage. */
  token?: string;
  valid: boolean;
}

interface Authz {
  header: string | undefined;
  credential: Credential;
}

export type Endpoint = 'access' | 'id' | 'oauth' | 'other';

export interface FuzzRequest {
  endpoint: Endpoint;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  credential: Credential;
}

export interface CredentialPool {
  google: string;
  ci: string;
  clientSecret: string;
  /** Forged or invalid JWTs (alg none, attacker-signed, expired, wrong audience...). */
  forged: string[];
}

const POLLUTION = ['__proto__', 'constructor', 'prototype', '__defineGetter__', 'hasOwnProperty', 'toString'];
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 80,
});
const unicode = fc.string({ unit: 'binary', maxLength: 40 });
const weird = fc.oneof(
  printable,
  unicode,
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\uFEFF',
    '\u202E',
    '%00',
    '..',
    '%2e%2e%2f',
    'null',
    'undefined',
    '3600',
    '-1',
    '1e309',
    'NaN',
  ),
);

const saArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(GEMINI) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      GEMINI.toUpperCase(),
      encodeURIComponent(GEMINI),
      'workload@tvs-local.iam.gserviceaccount.com',
      'other@tvs-local.iam.gserviceaccount.com',
      `${GEMINI}.evil.com`,
      '*@tvs-local.iam.gserviceaccount.com',
    ),
  },
  { weight: 1, arbitrary: weird.map((s) => encodeURIComponent(s)) },
);
const projectArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant('-') },
  { weight: 1, arbitrary: fc.constantFrom('tvs-local', 'other', '..', '%2F') },
);

const jsonContentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=utf-16',
      'application/json-patch+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      '',
    ),
  },
  { weight: 1, arbitrary: printable },
);

/** A JSON body: a plausible request with mutations, or something hostile. */
function jsonBody(kind: 'access' | 'id'): fc.Arbitrary<string> {
  const scope = fc.oneof(
    { weight: 6, arbitrary: fc.constant([CP]) },
    { weight: 2, arbitrary: fc.array(fc.oneof(fc.constant(CP), weird), { maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.constant(CP),
        fc.integer(),
        fc.constant(null),
        fc.array(fc.integer(), { maxLength: 2 }),
      ),
    },
  );
  const lifetime = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('3600s', '1s', '0.5s', '600s') },
    { weight: 2, arbitrary: fc.constantFrom('0s', '-1s', '3601s', '1e3s', '3600', 'NaNs') },
    { weight: 1, arbitrary: fc.oneof(fc.integer().map(String), fc.integer(), weird) },
  );
  const audience = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('https://example.com', 'https://svc.run.app') },
    { weight: 2, arbitrary: fc.stringMatching(/^https:\/\/[a-z0-9-]{1,12}\.run\.app$/) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'https://a.b.run.app',
        'https://evil.com/.run.app',
        'https://evil.com#.run.app',
        'https://example.com.evil.com',
        'https://x.run.app\n',
      ),
    },
    { weight: 1, arbitrary: weird },
  );
  const base =
    kind === 'access'
      ? fc.record(
          {
            scope,
            lifetime,
            delegates: fc.oneof(
              { weight: 3, arbitrary: fc.constant([]) },
              { weight: 1, arbitrary: fc.array(printable, { maxLength: 2 }) },
            ),
          },
          { requiredKeys: ['scope'] },
        )
      : fc.record(
          {
            audience,
            includeEmail: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: weird }),
            delegates: fc.constant([]),
          },
          { requiredKeys: ['audience'] },
        );
  const polluted = fc.tuple(base, fc.constantFrom(...POLLUTION), fc.jsonValue({ maxDepth: 2 })).map(
    ([b, key, value]) =>
      // Written as text: an object literal with "__proto__" would set the prototype, not a key.
      `{"${key}":${JSON.stringify(key === 'constructor' ? { prototype: { polluted: 'yes' } } : { polluted: 'yes', v: value })},${JSON.stringify(b).slice(1)}`,
  );
  const duplicated = base.map(
    (b) =>
      `${JSON.stringify(b).slice(0, -1)},${kind === 'access' ? `"scope":["https://www.googleapis.com/auth/gmail.send"]` : `"audience":"https://evil.example.com"`}}`,
  );
  return fc.oneof(
    { weight: 10, arbitrary: base.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: polluted },
    { weight: 1, arbitrary: duplicated },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 30_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 30_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 60_000, max: 70_000 })
        .map((n) => JSON.stringify({ scope: ['x'.repeat(n)] })),
    },
    { weight: 1, arbitrary: fc.tuple(base, unicode).map(([b, u]) => JSON.stringify({ ...b, [u]: u })) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        printable,
        unicode,
        fc.constantFrom('', 'null', '[]', '"x"', '{', '{"scope":', '\u0000'),
      ),
    },
  );
}

function formBody(
  pool: CredentialPool,
): fc.Arbitrary<{ body: string; credential: Credential; authorization?: string }> {
  const grant = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom('client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'),
    },
    { weight: 1, arbitrary: weird },
  );
  const cred = fc.constantFrom<Credential>(
    { kind: 'client', token: pool.clientSecret, valid: true },
    { kind: 'client-wrong', token: `${pool.clientSecret.slice(0, -2)}xx`, valid: false },
    { kind: 'google', token: pool.google, valid: true },
    { kind: 'ci', token: pool.ci, valid: true },
    ...pool.forged.map((token): Credential => ({ kind: 'forged', token, valid: false })),
    { kind: 'none', valid: false },
  );
  return fc
    .record({
      grant,
      cred,
      basic: fc.boolean(),
      sa: saArb.map((s) => decodeURIComponentSafe(s)),
      scope: fc.oneof(
        { weight: 5, arbitrary: fc.constant(CP) },
        { weight: 1, arbitrary: fc.constantFrom(`${CP} ${CP}`, `${CP} https://x`, `${CP}\n`, '') },
        { weight: 1, arbitrary: weird },
      ),
      extra: fc.array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(
              ...POLLUTION,
              '__proto__[polluted]',
              'constructor[prototype][polluted]',
              'scope',
              'grant_type',
              'client_id',
            ),
            printable,
          ),
          weird,
        ),
        { maxLength: 3 },
      ),
    })
    .map(({ grant, cred, basic, sa, scope, extra }) => {
      const params: Array<[string, string]> = [
        ['grant_type', grant],
        ['service_account', sa],
        ['scope', scope],
      ];
      let authorization: string | undefined;
      if (cred.kind === 'client' || cred.kind === 'client-wrong') {
        if (basic) authorization = `Basic ${Buffer.from(`${CLIENT_ID}:${cred.token}`).toString('base64')}`;
        else params.push(['client_id', CLIENT_ID], ['client_secret', cred.token!]);
      } else if (cred.token) {
        params.push(
          ['subject_token_type', 'urn:ietf:params:oauth:token-type:jwt'],
          ['subject_token', cred.token],
        );
      }
      params.push(...extra);
      const body = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
      return { body, credential: cred, authorization };
    });
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Every kind of request, weighted towards the token endpoints. */
export function fuzzRequest(pool: CredentialPool): fc.Arbitrary<FuzzRequest> {
  const bearer = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Credential>({ kind: 'google', token: pool.google, valid: true }) },
    { weight: 1, arbitrary: fc.constant<Credential>({ kind: 'ci', token: pool.ci, valid: true }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        ...pool.forged.map((token): Credential => ({ kind: 'forged', token, valid: false })),
      ),
    },
    { weight: 1, arbitrary: fc.constant<Credential>({ kind: 'none', valid: false }) },
  );
  const garbage = printable.map((h): Authz => ({ header: h, credential: { kind: 'garbage', valid: false } }));
  const authz: fc.Arbitrary<Authz> = fc.oneof(
    {
      weight: 6,
      arbitrary: bearer.map((c): Authz => ({
        header: c.token ? `Bearer ${c.token}` : undefined,
        credential: c,
      })),
    },
    { weight: 1, arbitrary: garbage },
    {
      weight: 1,
      arbitrary: fc.constantFrom(...pool.forged).map((t): Authz => ({
        header: `bearer  ${t}`,
        credential: { kind: 'forged', token: t, valid: false },
      })),
    },
  );
  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constant('POST') },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') },
  );
  const extraHeaders = fc.record(
    {
      'x-cloud-trace-context': printable,
      'function-execution-id': printable,
      'user-agent': printable,
      accept: printable,
    },
    { requiredKeys: [] },
  );
  const query = fc.oneof(
    { weight: 5, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: printable.map((q) => `?${encodeURI(q)}`) },
  );

  const iam = (endpoint: 'access' | 'id') =>
    fc
      .record({
        project: projectArb,
        sa: saArb,
        method,
        ct: jsonContentType,
        authz,
        body: jsonBody(endpoint),
        extra: extraHeaders,
        query,
        suffix: fc.oneof(
          { weight: 9, arbitrary: fc.constant('') },
          { weight: 1, arbitrary: fc.constantFrom('/', '%00', ':x', '/..') },
        ),
      })
      .map(({ project, sa, method: m, ct, authz: a, body, extra, query: q, suffix }): FuzzRequest => ({
        endpoint,
        method: m,
        path: `/v1/projects/${project}/serviceAccounts/${sa}:${endpoint === 'access' ? 'generateAccessToken' : 'generateIdToken'}${suffix}${q}`,
        headers: {
          ...extra,
          ...(ct ? { 'content-type': ct } : {}),
          ...(a.header !== undefined ? { authorization: a.header } : {}),
        },
        body: m === 'GET' || m === 'HEAD' ? undefined : body,
        credential: a.credential,
      }));
  const oauth = fc
    .record({
      form: formBody(pool),
      ct: fc.oneof(
        { weight: 8, arbitrary: fc.constant('application/x-www-form-urlencoded') },
        { weight: 1, arbitrary: jsonContentType },
      ),
      method,
      extra: extraHeaders,
    })
    .map(({ form, ct, method: m, extra }): FuzzRequest => ({
      endpoint: 'oauth',
      method: m,
      path: '/v1/token',
      headers: {
        ...extra,
        ...(ct ? { 'content-type': ct } : {}),
        ...(form.authorization ? { authorization: form.authorization } : {}),
      },
      body: m === 'GET' || m === 'HEAD' ? undefined : form.body,
      credential: form.credential,
    }));
  const other = fc
    .record({
      path: fc.oneof(
        fc.webPath().map((p) => p || '/'),
        fc.constantFrom(
          '/',
          '/healthz',
          '/healthz/',
          '/v1',
          '/v1/token/',
          '/V1/TOKEN',
          '/v1/projects/-/serviceAccounts/',
          '//v1/token',
          '/favicon.ico',
          '/robots.txt',
        ),
      ),
      method,
      authz,
      body: fc.option(printable, { nil: undefined }),
    })
    .map(({ path, method: m, authz: a, body }): FuzzRequest => ({
      endpoint: 'other',
      method: m,
      path,
      headers: a.header !== undefined ? { authorization: a.header } : {},
      body: m === 'GET' || m === 'HEAD' ? undefined : body,
      credential: a.credential,
    }));
  return fc.oneof(
    { weight: 4, arbitrary: iam('access') },
    { weight: 3, arbitrary: iam('id') },
    { weight: 3, arbitrary: oauth },
    { weight: 1, arbitrary: other },
    { weight: 2, arbitrary: allowedRequest(pool) },
  );
}

/** Requests the policy allows (unmutated seeds), so grants happen and the oracle is exercised both ways. */
function allowedRequest(pool: CredentialPool): fc.Arbitrary<FuzzRequest> {
  const caller = fc.constantFrom<Credential>(
    { kind: 'google', token: pool.google, valid: true },
    { kind: 'ci', token: pool.ci, valid: true },
  );
  const runApp = fc.stringMatching(/^https:\/\/[a-z0-9-]{1,12}\.run\.app$/);
  return fc.oneof(
    fc
      .record({
        cred: caller,
        lifetime: fc.option(fc.constantFrom('3600s', '60s', '0.5s'), { nil: undefined }),
      })
      .map(({ cred, lifetime }): FuzzRequest => ({
        endpoint: 'access',
        method: 'POST',
        path: `/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${cred.token}` },
        body: JSON.stringify({ scope: [CP], lifetime }),
        credential: cred,
      })),
    fc.record({ cred: caller, audience: runApp }).map(({ cred, audience }): FuzzRequest => ({
      endpoint: 'id',
      method: 'POST',
      path: `/v1/projects/-/serviceAccounts/${GEMINI}:generateIdToken`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cred.token}` },
      body: JSON.stringify({ audience, includeEmail: true }),
      credential: cred,
    })),
    fc
      .constantFrom<Credential>(
        { kind: 'client', token: pool.clientSecret, valid: true },
        { kind: 'google', token: pool.google, valid: true },
      )
      .map((cred): FuzzRequest => ({
        endpoint: 'oauth',
        method: 'POST',
        path: '/v1/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        credential: cred,
        body: new URLSearchParams(
          cred.kind === 'client'
            ? {
                grant_type: 'client_credentials',
                client_id: CLIENT_ID,
                client_secret: cred.token!,
                service_account: GEMINI,
                scope: CP,
              }
            : {
                grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
                subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
                subject_token: cred.token!,
                service_account: GEMINI,
                scope: CP,
              },
        ).toString(),
      })),
  );
}
