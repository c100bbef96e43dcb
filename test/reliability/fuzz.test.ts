/**
 * Property-based fuzzing of every endpoint over HTTP (1,000 cases in `npm test`, 20,000 in
 * `npm run test:long`). Invariants, checked on every response:
 * - never a 5xx;
 * - errors are Google's error model (IAM routes, unknown paths) or RFC 6749 (`/v1/token`);
 * - a token only for a valid caller whose request the policy allows (an independent model of
 *   the demo policy decides; forged, garbage and missing credentials never get a 200);
 * - no secret (caller credential, client secret, private key) in any response, and no secret or
 *   minted token in the audit or operational log;
 * - afterwards, no prototype in the server process was polluted.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LONG, recordFigures } from './support/figures.js';
import { fuzzRequest, type CredentialPool, type FuzzRequest } from './support/fuzz-arbitraries.js';
import { googleErrorProblem, leakedSecrets, oauthErrorProblem } from './support/invariants.js';
import { startKeyServer, type KeyServer } from './support/key-server.js';
import { closeIdleSockets, send, type RawResponse } from './support/raw-http.js';
import { CP, GEMINI, startReliabilityStack, type ReliabilityStack } from './support/reliability-stack.js';

const CASES = LONG ? 20_000 : 1_000;
// A fixed seed in CI keeps `npm test` deterministic; the long run explores (the seed is printed).
const SEED = process.env.TVS_FUZZ_SEED
  ? Number(process.env.TVS_FUZZ_SEED)
  : LONG
    ? Date.now() % 2 ** 31
    : 20_260_101;

let r: ReliabilityStack;
let attacker: KeyServer;
let pool: CredentialPool;
const prototypeKeysBefore = new Map<string, string[]>();
const PROTOTYPES: Array<[string, object]> = [
  ['Object', Object.prototype],
  ['Array', Array.prototype],
  ['Function', Function.prototype],
  ['String', String.prototype],
];

beforeAll(async () => {
  for (const [name, proto] of PROTOTYPES)
    prototypeKeysBefore.set(name, Object.getOwnPropertyNames(proto).sort());
  r = await startReliabilityStack();
  attacker = await startKeyServer();
  const now = Math.floor(Date.now() / 1000);
  const googleClaims = {
    iss: 'https://accounts.google.com',
    sub: '1',
    aud: r.url,
    email: 'workload@tvs-local.iam.gserviceaccount.com',
    email_verified: true,
    iat: now,
    exp: now + 3600,
  };
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  pool = {
    google: await r.googleIdToken(),
    ci: await r.issuer.sign({
      iss: r.issuer.url,
      sub: 'repo:acme/app',
      aud: r.url,
      iat: now,
      exp: now + 3600,
    }),
    clientSecret: r.clientSecret,
    forged: [
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64(googleClaims)}.`,
      await attacker.sign(googleClaims),
      await attacker.sign(
        { ...googleClaims, iss: r.issuer.url, sub: 'repo:acme/app' },
        { kid: r.issuer.kid },
      ),
      await r.googleIdToken({ nowMs: Date.now() - 3 * 3600_000 }),
      await r.googleIdToken({ audience: 'https://other.example.com' }),
      await r.googleIdToken({ includeEmail: false }),
      await r.issuer.sign({ iss: r.issuer.url, sub: 'repo:evil/app', aud: r.url, iat: now, exp: now + 3600 }),
    ],
  };
});

afterAll(async () => {
  closeIdleSockets();
  await attacker?.stop();
  await r?.stop();
});

const FRAMEWORK_IGNORED = new Set(['/favicon.ico', '/robots.txt']);
const AUDIENCE_GOOGLE = /^https:\/\/(?:[^/.@:?#\s]+\.run\.app|example\.com)$/;
const AUDIENCE_CI = /^https:\/\/[^/.@:?#\s]+\.run\.app$/;

/** Why a 200 was wrong, by an independent model of the test policy; undefined when it was right. */
function grantProblem(req: FuzzRequest, res: RawResponse): string | undefined {
  const cred = req.credential;
  if (!cred.valid) return `a ${cred.kind} credential got a token`;
  if (req.endpoint === 'oauth') {
    const params = new URLSearchParams(req.body ?? '');
    if (params.get('service_account')?.toLowerCase() !== GEMINI)
      return 'token for a service account outside the policy';
    if (
      !(params.get('scope') ?? '')
        .split(' ')
        .filter(Boolean)
        .every((s) => s === CP)
    )
      return 'token with a scope outside the policy';
    if (typeof res.json?.access_token !== 'string' || res.json.token_type !== 'Bearer')
      return '200 without an RFC 6749 token response';
    return undefined;
  }
  const sa = decodeURIComponent(/serviceAccounts\/([^/:]+):/.exec(req.path)?.[1] ?? '').toLowerCase();
  if (sa !== GEMINI) return `token for ${sa}`;
  if (cred.kind !== 'google' && cred.kind !== 'ci') return `token for a ${cred.kind} caller on an IAM route`;
  const body = JSON.parse(req.body ?? 'null');
  if (req.endpoint === 'access') {
    if (!Array.isArray(body.scope) || !body.scope.every((s: unknown) => s === CP))
      return 'token with a scope outside the policy';
    if (typeof res.json?.accessToken !== 'string') return '200 without accessToken';
  } else if (req.endpoint === 'id') {
    if (!(cred.kind === 'google' ? AUDIENCE_GOOGLE : AUDIENCE_CI).test(body.audience))
      return `ID token for audience ${JSON.stringify(body.audience)}`;
    if (typeof res.json?.token !== 'string') return '200 without token';
  } else {
    return '200 on an unknown route';
  }
  return undefined;
}

/** Every invariant for one exchange; returns the first broken one. */
function problem(req: FuzzRequest, res: RawResponse, secrets: string[]): string | undefined {
  if (res.status >= 500) return `HTTP ${res.status}`;
  const leaks = leakedSecrets(res.text, [
    ...secrets,
    ...(req.credential.token && req.credential.token.length >= 16 ? [req.credential.token] : []),
  ]);
  if (leaks.length > 0) return `response echoes a secret (${leaks.join(', ')})`;
  const path = req.path.split('?', 1)[0];
  if (req.method === 'HEAD') return res.text === '' ? undefined : 'HEAD answered with a body';
  if (FRAMEWORK_IGNORED.has(path))
    return res.status === 404 ? undefined : `framework-ignored path answered ${res.status}`;
  if (path === '/healthz' && req.method === 'GET')
    return res.status === 200 && res.json?.status === 'ok' ? undefined : 'health check failed';
  if (res.status === 200) return grantProblem(req, res);
  if (path === '/v1/token' && req.method === 'POST') return oauthErrorProblem(res);
  return googleErrorProblem(res);
}

describe(`fuzzing every endpoint (${CASES} cases, seed ${SEED})`, () => {
  it(
    'never answers 5xx, always answers in the right error shape, grants only allowed requests and leaks nothing',
    async () => {
      const secrets = r.secrets();
      const minted = new Set<string>();
      const granted = { access: 0, id: 0, oauth: 0, other: 0 };
      const statuses = new Map<number, number>();
      let tried = 0;
      let fiveHundreds = 0;
      await fc.assert(
        fc.asyncProperty(fuzzRequest(pool), async (req) => {
          tried += 1;
          const res = await send(r.url, req);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) fiveHundreds += 1;
          const broken = problem(req, res, secrets);
          if (broken !== undefined)
            throw new Error(
              `${broken}: ${req.method} ${req.path.slice(0, 120)} → ${res.status} ${res.text.slice(0, 200)}`,
            );
          if (res.status === 200 && req.endpoint !== 'other') {
            granted[req.endpoint] += 1;
            minted.add(String(res.json.accessToken ?? res.json.token ?? res.json.access_token));
          }
        }),
        { numRuns: CASES, seed: SEED },
      );

      if (process.env.TVS_FUZZ_DEBUG) console.log(granted, [...statuses].sort());
      // The generators reach minting on every token route (else the "never a wrong token" check is vacuous).
      expect(granted.access).toBeGreaterThan(CASES / 100);
      expect(granted.id).toBeGreaterThan(CASES / 100);
      expect(granted.oauth).toBeGreaterThan(CASES / 200);
      // ...and refusals of every kind happen.
      for (const status of [400, 401, 403, 404, 405, 413, 415])
        expect(statuses.get(status) ?? 0, `HTTP ${status} seen`).toBeGreaterThan(0);

      const logLeaks = leakedSecrets(await r.logs(), [
        ...secrets,
        pool.google,
        pool.ci,
        ...pool.forged,
        ...minted,
      ]);
      expect(logLeaks).toEqual([]);
      recordFigures('fuzz', {
        casesTried: tried,
        fiveHundredsSeen: fiveHundreds,
        secretsLeaked: logLeaks.length,
      });
    },
    LONG ? 600_000 : 60_000,
  );

  it('left every prototype in the server process unpolluted', () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
    for (const [name, proto] of PROTOTYPES)
      expect(Object.getOwnPropertyNames(proto).sort(), name).toEqual(prototypeKeysBefore.get(name));
  });
});
