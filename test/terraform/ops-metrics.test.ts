/**
 * The audit module's operability metrics, alerts and dashboard (issue 16): every metric filter is
 * rendered from the HCL and evaluated against entries shaped exactly as Cloud Run stores them.
 * Every token line comes from the real token function over real sockets against the emulator:
 * grants (minted by each backend, and from the cache), a refusal, an outage of each upstream
 * (emulator fault injection) and a stale policy. Where a filter's boundary needs a value the
 * emulator cannot produce on demand (a cache hit of exactly 50 ms), the test changes that one
 * number of a real line and says so. Rotation lines come from the rotator's own builder
 * (`rotationHealth`) through the real ops-log writer.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.js';
import { hashClientSecret } from '../../functions/token/oauth/client-secret-hash.js';
import type { Upstream } from '../../shared/minting/mint-info.js';
import { rotationHealth, type RotationOutcome } from '../../functions/rotate/rotation-health.js';
import type { RotationState } from '../../functions/rotate/state.js';
import type { RotationBinding } from '../../shared/rotation-binding.js';
import { createOpsLog } from '../../shared/ops-log.js';
import { createCapture, type Capture } from '../support/capture.js';
import { useEmulatorMetadata } from '../support/google-env.js';
import { requestLogEntry, storedEntry, type Workload } from './lib/cloud-run-entry.js';
import { instanceFilters } from './lib/for-each-filters.js';
import { locals, resources, loadTree, type Json, type TfTree } from './lib/hcl-tree.js';
import { compileFilter, type Entry, type Predicate } from './lib/log-filter.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));
const MODULE = fileURLToPath(new URL('../../terraform/modules/audit', import.meta.url));
const PROJECT = 'tvs-prod';
const TOKEN: Workload = { project: PROJECT, service: 'tvs-token' };
const ROTATE: Workload = { project: PROJECT, service: 'tvs-rotate' };
const OTHER: Workload = { project: PROJECT, service: 'billing-api' };
const VARS = { project_id: PROJECT, token_service_name: TOKEN.service, function_service_names: [TOKEN.service, ROTATE.service, 'tvs-rotate-on-event'] };
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const VERTEX = 'vertex-caller@tvs-local.iam.gserviceaccount.com';
const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const CLIENT_SECRET = 'b3BzLW1ldHJpY3MtY2xpZW50LXNlY3JldC0zMi1ieXRlcw';
const UPSTREAMS: readonly Upstream[] = ['token_endpoint', 'iam_credentials', 'secret_manager', 'sts'];

let tree: TfTree;
let stack: LocalStack;
let audit: Capture;
let counters: Record<string, Predicate>;
let distributions: Record<string, Predicate>;
let reloadFailures: Predicate;
let ops: Capture;
/**
 * Real lines of the token function: grants minted keyless and with a key, the keyless request again
 * from the cache, a refusal, a stale-policy error; and one error per upstream outage.
 */
const real: Record<'miss' | 'missKey' | 'hit' | 'denied' | 'stale', string> = {} as never;
const outage: Record<Upstream, string> = {} as never;
let dir: string;
let restoreEnv: (() => void) | undefined;

const token = (line: string, w: Workload = TOKEN): Entry => storedEntry(line, w, 'stdout');
const rotate = (line: string, w: Workload = ROTATE): Entry => storedEntry(line, w, 'stderr');

/** What a label or value extractor EXTRACT(path) yields for a stored entry (undefined: no value). */
function extract(extractor: string, entry: Entry): string | number | boolean | undefined {
  const m = /^EXTRACT\(([\w.]+)\)$/.exec(extractor);
  if (!m) throw new Error(`extractor ${extractor} not supported`);
  let v: unknown = entry;
  for (const k of m[1].split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
}

/** A local map of the audit module (hcl2json output), e.g. the labels of the counters. */
function localMap(name: string): Record<string, Json> {
  const v = locals(tree, 'modules/audit').get(name);
  expect(v !== null && typeof v === 'object' && !Array.isArray(v), `local.${name} is a map`).toBe(true);
  return v as Record<string, Json>;
}

/** A real line with some of its payload's numbers changed (for a filter's boundary values only). */
function withFields(line: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ ...(JSON.parse(line) as Record<string, unknown>), ...fields });
}

/** How a secret stands, for the rotator's own rotation_health builder. */
interface Standing {
  outcome?: RotationOutcome;
  /** Seconds since the current credential was stored (default one day). */
  rotatedAgoSeconds?: number;
  /** A run holding a phase for this many seconds. */
  phase?: { name: 'creating' | 'verifying' | 'retiring'; heldSeconds: number };
  error?: { code: string; reason: string };
}

const PERIOD_SECONDS = 2_592_000;
const GRACE_SECONDS = 86_400;
const CLAIM_TTL_SECONDS = 900;

/**
 * One rotation_health line as the rotator writes it: its own builder (`rotationHealth`, which also
 * decides severity and the overdue/stuck/credentialTooOld booleans) through the real ops-log writer.
 */
function health(standing: Standing = {}): string {
  const now = Date.UTC(2026, 11, 6);
  const state = {
    phase: standing.phase?.name ?? 'idle',
    generation: 2,
    rotatedAtMs: now - (standing.rotatedAgoSeconds ?? 86_400) * 1000,
    ...(standing.phase
      ? { claim: { owner: 'run-1', expiresAtMs: now - standing.phase.heldSeconds * 1000 + CLAIM_TTL_SECONDS * 1000 } }
      : {}),
  } as RotationState;
  const binding: RotationBinding = {
    kind: 'sa-key',
    target: GEMINI,
    periodMs: PERIOD_SECONDS * 1000,
    graceMs: GRACE_SECONDS * 1000,
  };
  const { severity, fields } = rotationHealth(
    `projects/${PROJECT}/secrets/gemini-key`,
    state,
    binding,
    now,
    standing.outcome ?? 'not_due',
    CLAIM_TTL_SECONDS * 1000,
    standing.error,
  );
  const lines: string[] = [];
  createOpsLog('rotate', (l) => lines.push(l))(severity, 'rotation health', { ...fields });
  return lines[0].trimEnd();
}

async function call(path: string, init: RequestInit): Promise<number> {
  const res = await fetch(`${stack.tokenUrl}${path}`, { method: 'POST', ...init });
  await res.arrayBuffer();
  return res.status;
}

async function lastAuditLine(): Promise<string> {
  await stack.token.flushAudit();
  const lines = audit.text().split('\n').filter(Boolean);
  return lines[lines.length - 1];
}

/** Sends a request, expects its status, and returns the audit line it wrote. */
async function lineOf(path: string, init: RequestInit, status: number): Promise<string> {
  const before = audit.text().split('\n').filter(Boolean).length;
  expect(await call(path, init)).toBe(status);
  const line = await lastAuditLine();
  expect(audit.text().split('\n').filter(Boolean).length).toBe(before + 1);
  return line;
}

/** With an endpoint of the emulator answering 503 to every call, sends a request and returns its line. */
async function duringOutage(endpoint: string, send: () => Promise<string>): Promise<string> {
  stack.emulator.faults.inject({ endpoint, times: Infinity, status: 503 });
  try {
    return await send();
  } finally {
    stack.emulator.faults.reset();
    stack.token.minter.cache.clear();
  }
}

beforeAll(async () => {
  tree = await loadTree(ROOT);
  counters = {};
  distributions = {};
  for (const r of resources(tree, 'google_logging_metric').filter((x) => x.file.dir === 'modules/audit')) {
    if (r.name === 'policy_reload_failures') reloadFailures = compileFilter(Object.values(instanceFilters(tree, r, VARS))[0]);
    const target = r.name === 'ops_distribution' ? distributions : r.name === 'ops_counter' ? counters : undefined;
    if (!target) continue;
    for (const [key, filter] of Object.entries(instanceFilters(tree, r, VARS))) target[key] = compileFilter(filter);
  }
  dir = mkdtempSync(join(tmpdir(), 'tvs-ops-metrics-'));
  const policyFile = join(dir, 'policy.json');
  const policy = {
    version: 1,
    serviceAccounts: {
      [GEMINI]: { backend: 'key', keySecret: 'projects/tvs-local/secrets/gemini-caller-key/versions/current' },
      [VERTEX]: { backend: 'keyless' },
    },
    clients: { 'ops-client': { secretHash: await hashClientSecret(CLIENT_SECRET) } },
    rules: [
      { name: 'workload', caller: { issuer: 'https://accounts.google.com', email: WORKLOAD }, serviceAccounts: [GEMINI, VERTEX], backend: 'any', scopes: [CP] },
      {
        name: 'bounded-client',
        caller: { client: 'ops-client' },
        serviceAccounts: [VERTEX],
        scopes: [CP],
        accessBoundary: [{ availableResource: '//storage.googleapis.com/projects/_/buckets/ops-reports', availablePermissions: ['inRole:roles/storage.objectViewer'] }],
      },
    ],
  };
  writeFileSync(policyFile, JSON.stringify(policy));
  audit = createCapture();
  ops = createCapture();
  stack = await startLocalStack({
    auditTransport: audit.stream,
    opsLogWrite: (line) => ops.write(line),
    env: { TVS_POLICY_FILE: policyFile, TVS_UPSTREAM_DEADLINE_MS: '1500', TVS_UPSTREAM_MAX_ATTEMPTS: '2', TVS_POLICY_TTL_SECONDS: '5', TVS_POLICY_MAX_STALENESS_SECONDS: '5' },
  });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
  const access = (sa: string) => `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`;
  const subject = stack.emulator.state.serviceAccounts.get(WORKLOAD)!;
  const idToken = await stack.emulator.state.signingKeys.signIdToken({ audience: stack.tokenUrl, subject });
  const init = { headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` }, body: JSON.stringify({ scope: [CP] }) };
  const client = {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', service_account: VERTEX, scope: CP, client_id: 'ops-client', client_secret: CLIENT_SECRET }).toString(),
  };
  // First, before the SA key was ever read: Secret Manager down.
  outage.secret_manager = await duringOutage('secretmanager.AccessSecretVersion', () => lineOf(access(GEMINI), init, 503));
  outage.token_endpoint = await duringOutage('oauth.token', () => lineOf(access(GEMINI), init, 503));
  outage.iam_credentials = await duringOutage('iamcredentials.generateAccessToken', () => lineOf(access(VERTEX), init, 503));
  outage.sts = await duringOutage('sts.token', () => lineOf('/v1/token', client, 503));
  real.miss = await lineOf(access(VERTEX), init, 200);
  real.hit = await lineOf(access(VERTEX), init, 200);
  real.missKey = await lineOf(access(GEMINI), init, 200);
  real.denied = await lineOf(access(GEMINI), { headers: { 'content-type': 'application/json' }, body: init.body }, 401);
  // Last: the policy file goes bad and outlives the maximum staleness (5 s, its minimum).
  writeFileSync(policyFile, '{"version": 1, not json');
  const staleBody = { ...init, body: JSON.stringify({ scope: [CP], lifetime: '600s' }) };
  for (let deadline = Date.now() + 20_000; (await call(access(VERTEX), staleBody)) !== 503; ) {
    if (Date.now() > deadline) throw new Error('the stale policy was never refused');
    await new Promise((r) => setTimeout(r, 250));
  }
  real.stale = await lastAuditLine();
}, 60_000);

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the real token function lines the metrics are built on', () => {
  it('writes minted grants (each backend), a cache hit of the same request, a refusal and a stale-policy error', () => {
    expect(JSON.parse(real.miss)).toMatchObject({ decision: 'granted', cacheHit: false, mint: { backend: 'keyless', attempts: 1 } });
    expect(JSON.parse(real.missKey)).toMatchObject({ decision: 'granted', cacheHit: false, mint: { backend: 'key', attempts: 1 } });
    expect(JSON.parse(real.hit)).toMatchObject({ decision: 'granted', cacheHit: true, latencyMs: expect.any(Number) });
    expect(JSON.parse(real.hit)).not.toHaveProperty('mint');
    expect(JSON.parse(real.denied)).toMatchObject({ decision: 'denied', httpStatus: 401 });
    expect(JSON.parse(real.stale)).toMatchObject({ decision: 'error', reason: 'POLICY_STALE', httpStatus: 503 });
    expect(JSON.parse(real.stale)).not.toHaveProperty('upstream');
  });

  it('writes a policy_reload_failed ops line that the reload-failure metric counts, and no audit line matches it', () => {
    const reloads = ops.text().split('\n').filter((l) => l.includes('"event":"policy_reload_failed"'));
    expect(reloads.length).toBeGreaterThan(0);
    for (const line of reloads) expect(reloadFailures(storedEntry(line, TOKEN, 'stderr'))).toBe(true);
    expect(reloadFailures(storedEntry(reloads[0], OTHER, 'stderr'))).toBe(false);
    for (const line of [...Object.values(real), ...Object.values(outage)]) expect(reloadFailures(token(line))).toBe(false);
  });

  it('writes an error naming the upstream for an outage of each', () => {
    for (const upstream of UPSTREAMS) expect(JSON.parse(outage[upstream]), upstream).toMatchObject({ decision: 'error', httpStatus: 503, upstream });
  });
});

describe('token decisions (counter by decision, reason, rule, cache hit)', () => {
  it('counts every token decision of the token service once, with its labels', () => {
    const labels = localMap('ops_counter_labels').token_decisions as Record<string, string>;
    for (const line of [real.miss, real.hit, real.denied]) {
      const e = token(line);
      expect(counters.token_decisions(e)).toBe(true);
      const p = e.jsonPayload as Record<string, unknown>;
      expect(extract(labels.decision, e)).toBe(p.decision);
      expect(extract(labels.reason, e)).toBe(p.reason);
      expect(extract(labels.cache_hit, e)).toBe(p.cacheHit);
    }
    expect(extract(labels.rule, token(real.miss))).toBe((JSON.parse(real.miss) as { rule: string }).rule);
    expect(String(extract(labels.cache_hit, token(real.hit)))).toBe('true');
  });

  it('ignores other services, the rotator and ops lines', () => {
    expect(counters.token_decisions(token(real.miss, OTHER))).toBe(false);
    expect(counters.token_decisions(token(real.miss, ROTATE))).toBe(false);
    expect(counters.token_decisions(rotate(health(), TOKEN))).toBe(false);
  });
});

describe('mint latency and upstream attempts (distributions by backend)', () => {
  it('take one value per minted request, from jsonPayload.mint, labelled by backend', () => {
    const dist = localMap('ops_distributions') as Record<string, { value: string; labels: Record<string, string> }>;
    for (const [line, backend] of [[real.missKey, 'key'], [real.miss, 'keyless']] as const) {
      const e = token(line);
      const mint = (JSON.parse(line) as { mint: { latencyMs: number; attempts: number } }).mint;
      expect(distributions.mint_latency(e)).toBe(true);
      expect(distributions.upstream_attempts(e)).toBe(true);
      expect(extract(dist.mint_latency.value, e)).toBe(mint.latencyMs);
      expect(extract(dist.upstream_attempts.value, e)).toBe(mint.attempts);
      expect(extract(dist.mint_latency.labels.backend, e)).toBe(backend);
      expect(extract(dist.upstream_attempts.labels.backend, e)).toBe(backend);
    }
    // A request that failed after trying upstream (twice: TVS_UPSTREAM_MAX_ATTEMPTS) minted too.
    const failed = token(outage.token_endpoint);
    expect(distributions.mint_latency(failed)).toBe(true);
    expect(extract(dist.upstream_attempts.value, failed)).toBe(2);
    expect(extract(dist.upstream_attempts.labels.backend, failed)).toBe('key');
  });

  it('take nothing from cache hits, refusals before minting, or other services', () => {
    for (const d of [distributions.mint_latency, distributions.upstream_attempts]) {
      expect(d(token(real.hit))).toBe(false);
      expect(d(token(real.denied))).toBe(false);
      expect(d(token(real.stale))).toBe(false);
      expect(d(token(real.missKey, OTHER))).toBe(false);
    }
  });
});

describe('upstream errors (counter by upstream)', () => {
  it('counts errors caused by each upstream, labelled by it', () => {
    const labels = localMap('ops_counter_labels').upstream_errors as Record<string, string>;
    for (const upstream of UPSTREAMS) {
      const e = token(outage[upstream]);
      expect(counters.upstream_errors(e)).toBe(true);
      expect(extract(labels.upstream, e)).toBe(upstream);
    }
  });

  it('ignores errors not caused by an upstream, grants, refusals and other services', () => {
    expect(counters.upstream_errors(token(real.stale))).toBe(false);
    expect(counters.upstream_errors(token(real.miss))).toBe(false);
    expect(counters.upstream_errors(token(real.denied))).toBe(false);
    expect(counters.upstream_errors(token(outage.sts, OTHER))).toBe(false);
  });
});

describe('cache-hit latency (distribution) and slow cache hits (the latency SLO bad events)', () => {
  it('the distribution takes every cache hit and no miss', () => {
    expect(distributions.cache_hit_latency(token(real.hit))).toBe(true);
    expect(distributions.cache_hit_latency(token(real.miss))).toBe(false);
    expect(distributions.cache_hit_latency(token(real.denied))).toBe(false);
  });

  it('counts a cache hit at or over 50 ms as bad, under 50 ms as good, and never a miss', () => {
    // The boundary values: the real cache-hit line with only its latency changed.
    const hit = (latencyMs: number) => withFields(real.hit, { latencyMs });
    expect(counters.slow_cache_hits(token(hit(50)))).toBe(true);
    expect(counters.slow_cache_hits(token(hit(812)))).toBe(true);
    expect(counters.slow_cache_hits(token(hit(49)))).toBe(false);
    expect(counters.slow_cache_hits(token(hit(0)))).toBe(false);
    expect(counters.slow_cache_hits(token(withFields(real.miss, { latencyMs: 900 })))).toBe(false);
    expect(counters.slow_cache_hits(token(hit(80), OTHER))).toBe(false);
    // The real cache hit, answered from memory in the test, is within the SLO.
    const realHit = JSON.parse(real.hit) as { latencyMs: number };
    expect(counters.slow_cache_hits(token(real.hit))).toBe(realHit.latencyMs >= 50);
  });
});

describe('token requests and 5xx (Cloud Run request log: the availability SLO)', () => {
  it('counts every request of the token service, and 5xx as bad', () => {
    for (const status of [200, 400, 401, 403, 429, 499]) {
      expect(counters.token_requests(requestLogEntry(TOKEN, status, '/v1/token'))).toBe(true);
      expect(counters.token_5xx(requestLogEntry(TOKEN, status, '/v1/token'))).toBe(false);
    }
    for (const status of [500, 502, 503, 504]) {
      expect(counters.token_requests(requestLogEntry(TOKEN, status, '/v1/token'))).toBe(true);
      expect(counters.token_5xx(requestLogEntry(TOKEN, status, '/v1/token'))).toBe(true);
    }
  });

  it("ignores other services and the function's own lines (which would count a request twice)", () => {
    expect(counters.token_5xx(requestLogEntry(OTHER, 503, '/v1/token'))).toBe(false);
    expect(counters.token_requests(requestLogEntry(OTHER, 200, '/v1/token'))).toBe(false);
    expect(counters.token_5xx(token(real.stale))).toBe(false);
    for (const upstream of UPSTREAMS) expect(counters.token_5xx(token(outage[upstream]))).toBe(false);
    expect(counters.token_requests(token(real.miss))).toBe(false);
  });
});

describe('rotation health', () => {
  const failed = () => health({ outcome: 'failed', phase: { name: 'verifying', heldSeconds: 30 }, error: { code: 'FAILED_PRECONDITION', reason: 'VERIFY_FAILED' } });
  const overdue = () => health({ outcome: 'not_due', rotatedAgoSeconds: PERIOD_SECONDS + 90_000 });
  const stuck = () => health({ outcome: 'in_progress', phase: { name: 'verifying', heldSeconds: 901 } });
  const tooOld = () => health({ rotatedAgoSeconds: PERIOD_SECONDS + GRACE_SECONDS + 1 });

  it('a failed run: counted by secret, with its reason', () => {
    const labels = localMap('ops_counter_labels').rotation_run_failed as Record<string, string>;
    const e = rotate(failed());
    expect(e.severity).toBe('ERROR');
    expect(counters.rotation_run_failed(e)).toBe(true);
    expect(extract(labels.secret, e)).toBe(`projects/${PROJECT}/secrets/gemini-key`);
    expect(extract(labels.reason, e)).toBe('VERIFY_FAILED');
    for (const other of [health(), health({ outcome: 'rotated' }), overdue(), stuck()]) expect(counters.rotation_run_failed(rotate(other))).toBe(false);
    expect(counters.rotation_run_failed(rotate(failed(), OTHER))).toBe(false);
    expect(counters.rotation_run_failed(rotate(failed(), { ...ROTATE, service: 'tvs-rotate-on-event' }))).toBe(true);
  });

  it('overdue by more than grace: by the contract severity WARNING, or the overdue flag when the run also failed', () => {
    const e = rotate(overdue());
    expect(e.severity).toBe('WARNING');
    expect(counters.rotation_overdue(e)).toBe(true);
    // Failed and overdue: severity is ERROR, the flag still says overdue.
    expect(counters.rotation_overdue(rotate(health({ outcome: 'failed', rotatedAgoSeconds: PERIOD_SECONDS + 90_000 })))).toBe(true);
    // Overdue within grace, not due, failed but not overdue: not counted.
    expect(counters.rotation_overdue(rotate(health({ rotatedAgoSeconds: PERIOD_SECONDS + 3600 })))).toBe(false);
    expect(counters.rotation_overdue(rotate(health()))).toBe(false);
    expect(counters.rotation_overdue(rotate(failed()))).toBe(false);
    expect(counters.rotation_overdue(rotate(overdue(), OTHER))).toBe(false);
    // Another ops line at WARNING is not rotation health.
    const lines: string[] = [];
    createOpsLog('rotate', (l) => lines.push(l))('WARNING', 'slow upstream', { event: 'upstream_slow' });
    expect(counters.rotation_overdue(rotate(lines[0].trimEnd()))).toBe(false);
  });

  it('stuck in a phase longer than the claim TTL', () => {
    expect(counters.rotation_stuck(rotate(stuck()))).toBe(true);
    expect(counters.rotation_stuck(rotate(health({ outcome: 'in_progress', phase: { name: 'verifying', heldSeconds: 899 } })))).toBe(false);
    expect(counters.rotation_stuck(rotate(health()))).toBe(false);
    expect(counters.rotation_stuck(rotate(stuck(), OTHER))).toBe(false);
    const labels = localMap('ops_counter_labels').rotation_stuck as Record<string, string>;
    expect(extract(labels.phase, rotate(stuck()))).toBe('verifying');
  });

  it('credential older than period plus grace', () => {
    expect(counters.credential_too_old(rotate(tooOld()))).toBe(true);
    expect(counters.credential_too_old(rotate(health({ rotatedAgoSeconds: 2_600_000 })))).toBe(false);
    // A rotation under way (not overdue: a run started it) whose credential is still the old one.
    const underWay = health({ outcome: 'in_progress', rotatedAgoSeconds: PERIOD_SECONDS + GRACE_SECONDS + 1, phase: { name: 'verifying', heldSeconds: 30 } });
    expect(counters.credential_too_old(rotate(underWay))).toBe(true);
    expect(counters.rotation_overdue(rotate(underWay))).toBe(false);
    // Overdue within grace is not too old either.
    expect(counters.credential_too_old(rotate(health({ rotatedAgoSeconds: PERIOD_SECONDS + 3600 })))).toBe(false);
    expect(counters.credential_too_old(rotate(tooOld(), OTHER))).toBe(false);
  });

  it('no rotation metric counts token decisions', () => {
    for (const m of ['rotation_run_failed', 'rotation_overdue', 'rotation_stuck', 'credential_too_old']) {
      for (const line of [...Object.values(real), ...Object.values(outage)]) expect(counters[m](token(line)), m).toBe(false);
    }
  });
});

describe('alerts', () => {
  it('every alert policy of the module notifies var.notification_channels', () => {
    const alerts = resources(tree, 'google_monitoring_alert_policy').filter((a) => a.file.dir === 'modules/audit');
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const a of alerts) expect(a.body.notification_channels, a.name).toBe('${var.notification_channels}');
  });

  it('each count alert watches its metric, and every metric behind one exists with a filter', () => {
    const alerts = localMap('ops_alerts');
    expect(Object.keys(alerts).sort()).toEqual(['credential_too_old', 'rotation_overdue', 'rotation_run_failed', 'rotation_stuck', 'upstream_errors']);
    for (const [key, a] of Object.entries(alerts)) {
      expect(counters[key], key).toBeDefined();
      expect(JSON.stringify(a)).toMatch(/"doc":"[^"]{60,}/);
    }
    const ops = resources(tree, 'google_monitoring_alert_policy').find((a) => a.name === 'ops')!;
    expect(JSON.stringify(ops.body)).toContain('google_logging_metric.ops_counter[each.key].name');
  });

  it('burn alerts: both SLOs, a fast and a slow window pair, bad over total from existing counters', () => {
    const slos = localMap('slos') as Record<string, { bad: string; total: string }>;
    expect(Object.keys(slos).sort()).toEqual(['availability', 'cache_hit_latency']);
    expect(slos.availability.bad).toBe('token_5xx');
    expect(slos.availability.total).toContain('_token_requests');
    expect(slos.cache_hit_latency.bad).toBe('slow_cache_hits');
    expect(slos.cache_hit_latency.total).toContain('_token_decisions');
    expect(slos.cache_hit_latency.total).toContain('metric.label.cache_hit="true"');
    const windows = localMap('burn_windows') as Record<string, { long: string; short: string; factor: number }>;
    expect(windows).toEqual({ fast: { long: '3600s', short: '300s', factor: 14.4 }, slow: { long: '21600s', short: '1800s', factor: 6 } });
    const burn = resources(tree, 'google_monitoring_alert_policy').find((a) => a.name === 'slo_burn')!;
    expect(burn.body.combiner).toBe('AND');
    const text = JSON.stringify(burn.body);
    expect(text).toContain('denominator_filter');
    expect(text).toContain('google_logging_metric.ops_counter[each.value.bad].name');
  });
});

describe('the dashboard', () => {
  const template = readFileSync(`${MODULE}/dashboard.json.tftpl`, 'utf8');
  const metricNames = () => [...Object.keys(counters), ...Object.keys(distributions), 'policy_reload_failures'];

  it('renders to JSON a Monitoring dashboard accepts: a title and a mosaic of charts', () => {
    const rendered = template.replaceAll(/\$\{metrics\.(\w+)\}/g, (_m, k: string) => `tvs_${k}`).replaceAll('${title}', 'Token vending (tvs)').replaceAll('$${', '${');
    expect(rendered).not.toMatch(/\$\{(?!metric\.labels\.)/);
    const dash = JSON.parse(rendered) as { displayName: string; mosaicLayout: { columns: number; tiles: Array<{ xPos: number; width: number; widget: { title: string } }> } };
    expect(dash.displayName).toBe('Token vending (tvs)');
    for (const t of dash.mosaicLayout.tiles) expect(t.xPos + t.width).toBeLessThanOrEqual(dash.mosaicLayout.columns);
    const titles = dash.mosaicLayout.tiles.map((t) => t.widget.title).join(' | ');
    for (const s of ['decisions by reason', 'Cache hit ratio', 'Mint latency p50 / p99 by backend', 'Upstream errors', '5xx', 'Policy reload failures', 'Rotation health']) expect(titles).toContain(s);
  });

  it('charts only metrics the module defines, and all of them', () => {
    const used = new Set([...template.matchAll(/\$\{metrics\.(\w+)\}/g)].map((m) => m[1]));
    const defined = new Set(metricNames());
    for (const k of used) expect(defined.has(k), k).toBe(true);
    for (const k of defined) expect(used.has(k), k).toBe(true);
  });

  it('is a google_monitoring_dashboard whose JSON comes from that template file', () => {
    const d = resources(tree, 'google_monitoring_dashboard').filter((r) => r.file.dir === 'modules/audit');
    expect(d).toHaveLength(1);
    expect(JSON.stringify(d[0].body.dashboard_json)).toContain('dashboard.json.tftpl');
  });
});
