/**
 * OAuth client attack corpus against the running token function, over HTTP: guessing and
 * mangling a client's secret, passing the hash, enumerating client ids, and getting around the
 * per-client-id throttle (bursts, interleaving with the real client, switching methods, cycling
 * ids to evict a record). Each refusal is checked against the baseline at the top (the real
 * secret IS accepted), never mints, and never leaks a secret into an answer or a log.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.js';
import { createCapture, type Capture } from '../support/capture.js';
import { recordFigures } from './support/figures.js';
import { leakedSecrets, oauthErrorProblem } from './support/invariants.js';
import { closeIdleSockets, postForm, postJson, type RawResponse } from './support/raw-http.js';
import {
  accessPath,
  CLIENT_ID,
  CP,
  GEMINI,
  startReliabilityStack,
  type ReliabilityStack,
} from './support/reliability-stack.js';

let r: ReliabilityStack;
let policyHash: string;
const extra: Array<{ stack: LocalStack; audit: Capture }> = [];
const presented: string[] = [];
let refused = 0;

beforeAll(async () => {
  // The mangling corpus tests secret verification, so the main stack's throttle stays out of its
  // way; the throttle is attacked on stacks of its own below. Every request here comes from one
  // source (loopback), so the per-source throttle is set out of the way too, for these stacks and
  // the ones derived from them (per-source throttling: integration/functions/token/quotas.test.ts,
  // unit/functions/token/oauth/source-throttle.test.ts).
  r = await startReliabilityStack({
    env: { TVS_OAUTH_MAX_FAILED_ATTEMPTS: '1000', TVS_OAUTH_MAX_FAILED_ATTEMPTS_PER_SOURCE: '10000' },
  });
  const policy = JSON.parse(readFileSync(r.stack.env.TVS_POLICY_FILE, 'utf8'));
  policyHash = policy.clients[CLIENT_ID].secretHash;
});

afterAll(async () => {
  const logs = (await r.logs()) + extra.map((e) => e.audit.text()).join('');
  recordFigures('oauth-attacks', {
    attacksRefused: refused,
    secretsLeaked: leakedSecrets(logs, [r.clientSecret, ...presented.filter((s) => s.length >= 16)]).length,
  });
  closeIdleSockets();
  await Promise.all(extra.map((e) => e.stack.stop()));
  await r?.stop();
});

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const FORM = { grant_type: 'client_credentials', service_account: GEMINI, scope: CP };

function viaBasic(url: string, id: string, secret: string): Promise<RawResponse> {
  presented.push(secret);
  return postForm(url, FORM, { authorization: basic(id, secret) });
}

function viaPost(url: string, id: string, secret: string): Promise<RawResponse> {
  presented.push(secret);
  return postForm(url, { ...FORM, client_id: id, client_secret: secret });
}

/** A second token function on the same emulator: its own throttle (fresh state) and captured audit. */
async function throttledStack(
  env: Record<string, string>,
): Promise<{ url: string; audit: Capture; flush(): Promise<void> }> {
  const audit = createCapture();
  const stack = await startLocalStack({
    emulator: r.stack.emulator,
    env: { ...r.stack.env, ...env },
    auditTransport: audit.stream,
    opsLogWrite: audit.write,
  });
  extra.push({ stack, audit });
  return { url: stack.tokenUrl, audit, flush: () => stack.token.flushAudit() };
}

/** What a client sees of an answer: status, RFC 6749 body, headers but the date. */
function visible(res: RawResponse): unknown {
  const { date: _date, 'keep-alive': _ka, connection: _c, ...headers } = res.headers;
  return { status: res.status, body: res.json, headers };
}

function expectRefusedClient(res: RawResponse, status = 401): void {
  expect(res.status).toBe(status);
  expect(oauthErrorProblem(res)).toBeUndefined();
  expect(res.json.error).toBe('invalid_client');
  expect(res.text).not.toContain(r.clientSecret);
  refused += 1;
}

describe('baseline', () => {
  it.each([
    ['client_secret_basic', viaBasic],
    ['client_secret_post', viaPost],
  ])('the real secret gets a token with %s', async (_name, via) => {
    const res = await via(r.url, CLIENT_ID, r.clientSecret);
    expect(res.status).toBe(200);
    expect(res.json.token_type).toBe('Bearer');
  });
});

describe('secret guessing and mangling is refused with 401 invalid_client', () => {
  const ATTACKS: Array<[string, () => [string, string]]> = [
    ['the secret with a trailing newline', () => [CLIENT_ID, `${r.clientSecret}\n`]],
    ['the secret with a NUL byte appended', () => [CLIENT_ID, `${r.clientSecret}\u0000`]],
    ['the secret missing its last character', () => [CLIENT_ID, r.clientSecret.slice(0, -1)]],
    [
      'the secret with its case flipped',
      () => [
        CLIENT_ID,
        r.clientSecret.replace(/[a-zA-Z]/g, (c) =>
          c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase(),
        ),
      ],
    ],
    [
      'the secret as standard base64 instead of base64url',
      () => [CLIENT_ID, Buffer.from(r.clientSecret, 'base64url').toString('base64')],
    ],
    [
      'the legacy unsalted SHA-256 of the secret (pass-the-hash)',
      () => [CLIENT_ID, createHash('sha256').update(r.clientSecret).digest('hex')],
    ],
    ['the policy hash string itself (pass-the-hash)', () => [CLIENT_ID, policyHash]],
    ['the derived key of the policy hash (pass-the-hash)', () => [CLIENT_ID, policyHash.split('$').at(-1)!]],
    ['the client id with another case', () => [CLIENT_ID.toUpperCase(), r.clientSecret]],
    ['the client id with a trailing space', () => [`${CLIENT_ID} `, r.clientSecret]],
    [
      'the client id with a look-alike Cyrillic letter',
      () => [CLIENT_ID.replace('c', '\u0441'), r.clientSecret],
    ],
    ['a client id named __proto__', () => ['__proto__', r.clientSecret]],
    ['a client id named constructor', () => ['constructor', r.clientSecret]],
    ['a client id named hasOwnProperty', () => ['hasOwnProperty', r.clientSecret]],
    ['a 10 KB client id', () => ['x'.repeat(10_000), r.clientSecret]],
    [
      'a client id with a colon (Basic splits at the first one)',
      () => [`${CLIENT_ID}:${r.clientSecret}`, r.clientSecret],
    ],
  ];

  describe.each([
    ['client_secret_basic', viaBasic],
    ['client_secret_post', viaPost],
  ])('via %s', (_label, via) => {
    it.each(ATTACKS)('%s', async (_name, make) => {
      const [id, secret] = make();
      const mintsBefore = r.stack.emulator.faults.count('oauth.token');
      const res = await via(r.url, id, secret);
      expectRefusedClient(res);
      expect(r.stack.emulator.faults.count('oauth.token')).toBe(mintsBefore);
    });
  });

  it('an empty secret in Basic is refused', async () => {
    expectRefusedClient(
      await postForm(r.url, FORM, {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:`).toString('base64')}`,
      }),
    );
  });
});

describe('the per-client-id throttle cannot be bypassed', () => {
  const K = 5;

  it('online guessing: after K failures even the right secret gets 429 with Retry-After, and each decision is audited once', async () => {
    const t = await throttledStack({
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: String(K),
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '600',
    });
    for (let i = 0; i < K; i++)
      expectRefusedClient(await viaBasic(t.url, CLIENT_ID, `attacker-guess-number-${i}`));
    const locked = await viaBasic(t.url, CLIENT_ID, r.clientSecret);
    expectRefusedClient(locked, 429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(600);
    await t.flush();
    const reasons = t.audit
      .entries()
      .filter((e) => e.caller?.clientId === CLIENT_ID)
      .map((e) => e.reason);
    expect(reasons).toEqual([...Array(K).fill('INVALID_CLIENT'), 'CLIENT_AUTH_THROTTLED']);
  });

  it('a burst of parallel guesses gets no more than K secret checks', async () => {
    const t = await throttledStack({
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: String(K),
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '600',
    });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => viaPost(t.url, CLIENT_ID, `parallel-attacker-guess-${i}`)),
    );
    for (const a of answers) expectRefusedClient(a, a.status);
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(K);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(40 - K);
  });

  it('interleaving guesses with the real client: its successes do not reset the count', async () => {
    const t = await throttledStack({
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: String(K),
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '600',
    });
    for (let i = 0; i < K - 1; i++)
      expectRefusedClient(await viaBasic(t.url, CLIENT_ID, `interleaved-guess-${i}`));
    expect((await viaBasic(t.url, CLIENT_ID, r.clientSecret)).status).toBe(200);
    expectRefusedClient(await viaBasic(t.url, CLIENT_ID, 'interleaved-guess-last'));
    expectRefusedClient(await viaBasic(t.url, CLIENT_ID, 'one-guess-too-many'), 429);
  });

  it('switching between client_secret_basic and client_secret_post shares one count', async () => {
    const t = await throttledStack({
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: String(K),
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '600',
    });
    for (let i = 0; i < K; i++)
      expectRefusedClient(await (i % 2 ? viaBasic : viaPost)(t.url, CLIENT_ID, `switching-guess-${i}`));
    expectRefusedClient(await viaPost(t.url, CLIENT_ID, r.clientSecret), 429);
    expectRefusedClient(await viaBasic(t.url, CLIENT_ID, r.clientSecret), 429);
  });

  it('cycling client ids to evict the target from a full table does not reset the target', async () => {
    const t = await throttledStack({
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: String(K),
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '600',
      TVS_OAUTH_THROTTLE_MAX_CLIENTS: '20',
    });
    for (let i = 0; i < K - 1; i++) expectRefusedClient(await viaBasic(t.url, CLIENT_ID, `evict-guess-${i}`));
    const cycled = [];
    for (let i = 0; i < 40; i++) cycled.push(await viaBasic(t.url, `cycled-${i}`, 'cycled-guess-0000000000'));
    for (const a of cycled) expectRefusedClient(a, a.status);
    // The table filled up: new ids were refused (fail closed) instead of evicting live records.
    expect(cycled.at(-1)!.status).toBe(429);
    expectRefusedClient(await viaBasic(t.url, CLIENT_ID, 'evict-guess-last'));
    expectRefusedClient(await viaBasic(t.url, CLIENT_ID, r.clientSecret), 429);
  });

  it('enumerating client ids: an unknown id is answered exactly like a known one, through the lockout', async () => {
    const t = await throttledStack({
      TVS_OAUTH_MAX_FAILED_ATTEMPTS: String(K),
      TVS_OAUTH_FAILURE_WINDOW_SECONDS: '600',
    });
    const known: unknown[] = [];
    const unknown: unknown[] = [];
    for (let i = 0; i < K + 2; i++) {
      known.push(visible(await viaBasic(t.url, CLIENT_ID, `enumeration-guess-${i}`)));
      unknown.push(visible(await viaBasic(t.url, 'no-such-client', `enumeration-guess-${i}`)));
      refused += 2;
    }
    expect(unknown).toEqual(known);
  });

  it('enumerating client ids by timing: an unknown id pays the same secret derivation as a known one', async () => {
    const t = await throttledStack({ TVS_OAUTH_MAX_FAILED_ATTEMPTS: '1000' });
    const timed = async (id: string) => {
      const started = performance.now();
      expectRefusedClient(await viaPost(t.url, id, 'timing-guess-0000000000'));
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await timed(CLIENT_ID));
      unknown.push(await timed(`unknown-${i}`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // Without the dummy derivation an unknown id answers in ~1 ms against tens of ms for a known one.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.4);
  });
});

describe('a flood of client authentications is shed, not queued without bound', () => {
  it('300 parallel guesses under distinct ids: 401 or 503 temporarily_unavailable with Retry-After, and other callers still get tokens', async () => {
    const t = await throttledStack({ TVS_OAUTH_MAX_FAILED_ATTEMPTS: '10' });
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        viaPost(t.url, `flood-${i}`, 'flood-guess-000000000000000000000000'),
      ),
    );
    const shed = answers.filter((a) => a.status === 503);
    for (const a of answers) {
      expect([401, 503]).toContain(a.status);
      expect(oauthErrorProblem(a)).toBeUndefined();
    }
    // 2 derivations run and 64 wait: most of a burst this size must be shed at once.
    expect(shed.length).toBeGreaterThan(0);
    for (const a of shed) {
      expect(a.json.error).toBe('temporarily_unavailable');
      expect(a.headers['retry-after']).toBe('1');
    }
    refused += answers.length;
    // The OIDC path does not wait behind client secret derivations.
    const workload = await postJson(
      t.url,
      accessPath(GEMINI),
      { scope: [CP] },
      `Bearer ${await r.googleIdToken({ audience: r.url })}`,
    );
    expect(workload.status).toBe(200);
  });
});

describe('a policy cannot turn client hashes into a denial of service', () => {
  it.each([
    ['a hash asking for 1 GiB per verification', 'scrypt$N=1048576,r=8,p=1'],
    ['a hash asking for 16x the work', 'scrypt$N=16384,r=8,p=16'],
    ['a legacy unsalted SHA-256', undefined],
  ])('%s is refused when the policy loads', async (_name, params) => {
    const dir = mkdtempSync(join(tmpdir(), 'tvs-oauth-attack-'));
    try {
      const policy = JSON.parse(readFileSync(r.stack.env.TVS_POLICY_FILE, 'utf8'));
      policy.clients[CLIENT_ID] = params
        ? { secretHash: `${params}$${policyHash.split('$')[2]}$${policyHash.split('$')[3]}` }
        : { secretSha256: createHash('sha256').update(r.clientSecret).digest('hex') };
      const file = join(dir, 'policy.json');
      writeFileSync(file, JSON.stringify(policy));
      await expect(
        startLocalStack({
          emulator: r.stack.emulator,
          env: { ...r.stack.env, TVS_POLICY_FILE: file },
          auditTransport: createCapture().stream,
          opsLogWrite: () => {},
        }),
      ).rejects.toThrow(/clients\.fuzz-client\.secret/);
      refused += 1;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('after the corpus', () => {
  it('no presented secret, and not the real one, reached an answer or a log', async () => {
    const logs = (await r.logs()) + extra.map((e) => e.audit.text()).join('');
    expect(
      leakedSecrets(logs, [
        r.clientSecret,
        ...presented.filter((s) => s.length >= 16 && !s.startsWith('scrypt$')),
      ]),
    ).toEqual([]);
  });
});
