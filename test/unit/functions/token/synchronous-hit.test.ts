/**
 * The synchronous cache-hit path of the IAM routes: a caller whose token was verified before, a
 * policy that needs no re-read and a cached token are answered without a promise. It must be the
 * same decision as the promise path in every case, so each scenario here runs twice — once with
 * every synchronous shortcut available, once with none (no `authenticateCached`, a policy always
 * due for a re-read, a minter whose cached accessors always miss) — over a real loopback socket,
 * with the real compiled policy, minter, cache and quotas, and must give the same status, body,
 * Retry-After, audit entries and upstream mints.
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFingerprint, type AuditEntry } from '../../../../shared/audit-log.js';
import { UnauthenticatedError } from '../../../../shared/errors.js';
import type { ServiceAccountKeyStore } from '../../../../shared/minting/key-store.js';
import { createMinter, type KeylessBackend, type Minter } from '../../../../shared/minting/minter.js';
import type { CallerIdentity } from '../../../../functions/token/auth/types.js';
import type { FunctionRequest, RequestContext } from '../../../../functions/token/http/request-context.js';
import { generateAccessToken, generateIdToken } from '../../../../functions/token/iam-credentials.js';
import { createCallerLimits } from '../../../../functions/token/limits/caller-limits.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import { compilePolicy, type CompiledPolicy } from '../../../../functions/token/policy/compile-policy.js';
import type { PolicyProvider } from '../../../../functions/token/policy/policy-provider.js';
import type { TokenServices } from '../../../../functions/token/token-services.js';

const NOW = 1_800_000_000_000;
const SA = 'gemini@p.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const SELF = 'https://tvs.example.com';
const GOOD = 'eyJ.good-caller.sig';
const CALLER: CallerIdentity = {
  kind: 'id_token',
  issuer: 'https://accounts.google.com',
  subject: '1234',
  email: 'workload@p.iam.gserviceaccount.com',
  emailVerified: true,
  expiresAtMs: NOW + 600_000,
  claims: { email: 'workload@p.iam.gserviceaccount.com' },
};
/** The first token the upstream mints; scenario "leaked" lists its fingerprint in the deny section. */
const FIRST_TOKEN = 'ya29.minted-1';

function policyDoc(options: { requestsPerMinute?: number; leaked?: boolean } = {}): unknown {
  return {
    version: 1,
    serviceAccounts: { [SA]: {} },
    ...(options.requestsPerMinute
      ? { limits: { requestsPerMinute: options.requestsPerMinute, requestBurst: options.requestsPerMinute } }
      : {}),
    rules: [
      {
        name: 'workload',
        caller: { issuer: CALLER.issuer, email: CALLER.email },
        serviceAccounts: [SA],
        scopes: [CP],
        idTokenAudiences: ['https://svc.example.com'],
      },
    ],
    ...(options.leaked ? { deny: { tokenFingerprints: [tokenFingerprint(FIRST_TOKEN)] } } : {}),
  };
}

type Mode = 'synchronous shortcuts' | 'promises only';

interface Stack {
  deps: TokenServices;
  audit: AuditEntry[];
  mints: string[];
  /** What the handler returned for each request: a promise, or undefined when answered synchronously. */
  returned: Array<'promise' | 'sync'>;
  /** Replaces the policy (as a reload would). */
  setPolicy(doc: unknown): void;
}

function stack(mode: Mode, doc: unknown): Stack {
  let compiled: CompiledPolicy = compilePolicy(doc);
  const mints: string[] = [];
  const keyless: KeylessBackend = {
    accessToken: () => {
      mints.push('access');
      return Promise.resolve({ token: `ya29.minted-${mints.length}`, expiresAtMs: NOW + 3_600_000 });
    },
    idToken: (_email, audience) => {
      mints.push(`id ${audience}`);
      return Promise.resolve({ token: `eyJ.id-${mints.length}.sig`, expiresAtMs: NOW + 3_600_000 });
    },
  };
  const real = createMinter({
    keys: {} as ServiceAccountKeyStore,
    keyless,
    cache: { maxEntries: 100, refreshAheadMs: 300_000, minRemainingMs: 60_000 },
    upstream: { deadlineMs: 10_000, maxAttempts: 1 },
    now: () => NOW,
  });
  const sync = mode === 'synchronous shortcuts';
  const minter: Minter = sync
    ? real
    : { ...real, cachedAccessToken: () => undefined, cachedIdToken: () => undefined };
  const policy: PolicyProvider = {
    current: () => compiled,
    currentForRequest: () => Promise.resolve(compiled),
    currentIfFresh: () => (sync ? compiled : undefined),
    reload: () => Promise.resolve(compiled),
    refresh: () => Promise.resolve(compiled),
  };
  // Like the real authenticator: one header parser for both, a cache of verified tokens.
  const verified = new Set<string>();
  const bearer = (authorization: string | undefined): string => {
    if (!authorization?.startsWith('Bearer '))
      throw new UnauthenticatedError('Bearer expected.', { reason: 'CALLER_TOKEN_MISSING' });
    return authorization.slice(7);
  };
  // eslint-disable-next-line @typescript-eslint/require-await -- async: a parse error rejects, as the real one does
  const authenticate = async (authorization: string | undefined): Promise<CallerIdentity> => {
    const token = bearer(authorization);
    if (token !== GOOD)
      throw new UnauthenticatedError('The caller token is not valid.', { reason: 'CALLER_TOKEN_INVALID' });
    verified.add(token);
    return CALLER;
  };
  const audit: AuditEntry[] = [];
  const deps: TokenServices = {
    authenticate,
    ...(sync
      ? {
          authenticateCached: (authorization: string | undefined) =>
            verified.has(bearer(authorization)) ? CALLER : undefined,
        }
      : {}),
    verifySubjectToken: () => Promise.reject(new Error('not used by the IAM routes')),
    policy,
    acceptedAudiences: acceptedAudiences([SELF]),
    clientAuth: { authenticate: () => Promise.reject(new Error('not used by the IAM routes')) },
    minter,
    limits: createCallerLimits({
      maxCallers: 100,
      isCached: (key) => real.cache.peek(key) !== undefined || real.cache.pending(key),
      now: () => NOW,
    }),
    audit: { write: (entry) => void audit.push(entry), flush: () => Promise.resolve() },
    now: () => NOW,
  };
  return { deps, audit, mints, returned: [], setPolicy: (next) => (compiled = compilePolicy(next)) };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

let current: Stack;
let server: Server;
let port: number;
const CTX: RequestContext = { requestId: 'req', startedAtMs: NOW };

beforeAll(async () => {
  server = createServer((req: FunctionRequest, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      req.rawBody = Buffer.concat(chunks);
      const [action, serviceAccount] = (req.url ?? '').slice(1).split('/');
      const handle = action === 'generateAccessToken' ? generateAccessToken : generateIdToken;
      const returned = handle(current.deps, req, res, CTX, decodeURIComponent(serviceAccount));
      current.returned.push(returned === undefined ? 'sync' : 'promise');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function call(
  action: 'generateAccessToken' | 'generateIdToken',
  body: object,
  authorization = `Bearer ${GOOD}`,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/${action}/${encodeURIComponent(SA)}`,
        headers: { 'content-type': 'application/json', authorization },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const ACCESS = { scope: [CP] };
const ID = { audience: 'https://svc.example.com' };

interface Scenario {
  name: string;
  doc?: unknown;
  /** The policy the compared request is judged by, if not `doc`. */
  docAfter?: unknown;
  /** Requests before the one compared (they fill the caches and spend quota). */
  before: Array<['generateAccessToken' | 'generateIdToken', object]>;
  action: 'generateAccessToken' | 'generateIdToken';
  body: object;
  authorization?: string;
  /** What the compared request is answered with. */
  status: number;
  /** Whether the shortcut path answers it without a promise. */
  synchronous: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'a cached access token',
    before: [['generateAccessToken', ACCESS]],
    action: 'generateAccessToken',
    body: ACCESS,
    status: 200,
    synchronous: true,
  },
  {
    name: 'a cached ID token',
    before: [['generateIdToken', ID]],
    action: 'generateIdToken',
    body: ID,
    status: 200,
    synchronous: true,
  },
  {
    name: 'a token not cached yet (minted)',
    before: [['generateIdToken', ID]],
    action: 'generateAccessToken',
    body: ACCESS,
    status: 200,
    synchronous: false,
  },
  {
    name: 'the request quota spent, token cached (429, nothing minted)',
    doc: policyDoc({ requestsPerMinute: 2 }),
    before: [
      ['generateAccessToken', ACCESS],
      ['generateAccessToken', ACCESS],
    ],
    action: 'generateAccessToken',
    body: ACCESS,
    status: 429,
    synchronous: true,
  },
  {
    name: 'a scope the rule does not allow (403)',
    before: [['generateAccessToken', ACCESS]],
    action: 'generateAccessToken',
    body: { scope: ['https://www.googleapis.com/auth/drive'] },
    status: 403,
    synchronous: true,
  },
  {
    name: "an ID token for this service's own audience (403)",
    before: [['generateAccessToken', ACCESS]],
    action: 'generateIdToken',
    body: { audience: SELF },
    status: 403,
    synchronous: true,
  },
  {
    name: 'a malformed body from a verified caller (400)',
    before: [['generateAccessToken', ACCESS]],
    action: 'generateAccessToken',
    body: { scope: [CP], lifetime: 'forever' },
    status: 400,
    synchronous: true,
  },
  {
    name: 'the cached token is on the deny list (dropped, a new one minted)',
    docAfter: policyDoc({ leaked: true }),
    before: [['generateAccessToken', ACCESS]],
    action: 'generateAccessToken',
    body: ACCESS,
    status: 200,
    synchronous: false,
  },
  {
    name: 'a caller token never verified (401)',
    before: [['generateAccessToken', ACCESS]],
    action: 'generateAccessToken',
    body: ACCESS,
    authorization: 'Bearer eyJ.someone-else.sig',
    status: 401,
    synchronous: false,
  },
  {
    name: 'no bearer token (401)',
    before: [['generateAccessToken', ACCESS]],
    action: 'generateAccessToken',
    body: ACCESS,
    authorization: 'Basic d2hvOm1l',
    status: 401,
    synchronous: true,
  },
];

async function run(mode: Mode, scenario: Scenario) {
  current = stack(mode, scenario.doc ?? policyDoc());
  for (const [action, body] of scenario.before) await call(action, body);
  if (scenario.docAfter !== undefined) current.setPolicy(scenario.docAfter);
  const auditBefore = current.audit.length;
  const reply = await call(scenario.action, scenario.body, scenario.authorization);
  return {
    reply: { status: reply.status, body: reply.body, retryAfter: reply.headers['retry-after'] },
    audit: current.audit.slice(auditBefore),
    mints: [...current.mints],
    returned: current.returned.at(-1),
  };
}

describe('the synchronous cache-hit path decides exactly as the promise path', () => {
  it.each(SCENARIOS)('$name', async (scenario) => {
    const shortcut = await run('synchronous shortcuts', scenario);
    const promises = await run('promises only', scenario);
    expect(shortcut.reply.status).toBe(scenario.status);
    expect(shortcut.reply).toEqual(promises.reply);
    expect(shortcut.audit).toEqual(promises.audit);
    expect(shortcut.audit).toHaveLength(1);
    expect(shortcut.mints).toEqual(promises.mints);
    // The shortcut is taken exactly where it may be, and never without the shortcuts.
    expect(shortcut.returned).toBe(scenario.synchronous ? 'sync' : 'promise');
    expect(promises.returned).toBe('promise');
  });

  it('a cached token is served from the cache on both paths (hit audited, no mint)', async () => {
    const { audit, mints } = await run('synchronous shortcuts', SCENARIOS[0]);
    expect(mints).toEqual(['access']);
    expect(audit[0]).toMatchObject({ decision: 'granted', cacheHit: true });
    expect(audit[0].mint).toBeUndefined();
    expect(audit[0].tokenFingerprint).toBe(tokenFingerprint(FIRST_TOKEN));
  });

  it('the leaked cached token is never answered, on either path', async () => {
    const scenario = SCENARIOS.find((s) => s.docAfter !== undefined)!;
    for (const mode of ['synchronous shortcuts', 'promises only'] as const) {
      const { reply, audit } = await run(mode, scenario);
      expect(reply.body).toEqual({ accessToken: 'ya29.minted-2', expireTime: expect.any(String) as unknown });
      expect(audit[0].tokenFingerprint).toBe(tokenFingerprint('ya29.minted-2'));
    }
  });
});
