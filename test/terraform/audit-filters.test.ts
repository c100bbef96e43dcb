/**
 * The audit module's sink, metric and alert filters, rendered from the HCL and evaluated against
 * log entries shaped exactly as Cloud Run stores what our code writes: the lines come from the
 * real token function (its audit log, over real sockets against the emulator) and the real
 * ops-log writer, wrapped as the platform wraps a stdout/stderr line.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../scripts/local-stack.js';
import { createOpsLog } from '../../shared/ops-log.js';
import { policyHealthLog } from '../../functions/token/policy/policy-health-log.js';
import { createCapture, type Capture } from '../support/capture.js';
import { requestLogEntry, storedEntry, type Workload } from './lib/cloud-run-entry.js';
import { instanceFilters } from './lib/for-each-filters.js';
import { evaluateJson, moduleScope } from './lib/hcl-eval.js';
import type { TfTree } from './lib/hcl-tree.js';
import { loadTree, resources } from './lib/hcl-tree.js';
import { compileFilter, type Entry, type Predicate } from './lib/log-filter.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));
const PROJECT = 'tvs-prod';
const TOKEN: Workload = { project: PROJECT, service: 'tvs-token' };
const ROTATE: Workload = { project: PROJECT, service: 'tvs-rotate' };
const OTHER: Workload = { project: PROJECT, service: 'billing-api' };
const VARS = { project_id: PROJECT, token_service_name: TOKEN.service, function_service_names: [TOKEN.service, ROTATE.service, 'tvs-rotate-on-event'] };
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';

/** A request the token function answered: its audit line (as written) and its HTTP status. */
interface Answered {
  line: string;
  status: number;
}

let tree: TfTree;
let stack: LocalStack;
let audit: Capture;
const answered: Record<'granted' | 'unauthenticated' | 'oauthDenied', Answered> = {} as never;

/** The `filter` of a resource in modules/audit, rendered with VARS. */
function filterOf(type: string, name: string): string {
  const r = resources(tree, type).find((x) => x.name === name && x.file.dir === 'modules/audit');
  expect(r, `${type}.${name} in modules/audit`).toBeDefined();
  const value = evaluateJson(r!.body.filter, moduleScope(tree, 'modules/audit', VARS));
  expect(typeof value).toBe('string');
  return value as string;
}

const count = (p: Predicate, entries: Entry[]) => entries.filter(p).length;

async function call(path: string, init: RequestInit): Promise<number> {
  const res = await fetch(`${stack.tokenUrl}${path}`, { method: 'POST', ...init });
  await res.arrayBuffer();
  return res.status;
}

/** The audit line the function wrote for the last request. */
async function lastAuditLine(): Promise<string> {
  await stack.token.flushAudit();
  const lines = audit.text().split('\n').filter(Boolean);
  return lines[lines.length - 1];
}

beforeAll(async () => {
  tree = await loadTree(ROOT);
  audit = createCapture();
  stack = await startLocalStack({ auditTransport: audit.stream, opsLogWrite: () => {} });
  const access = `/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`;
  const json = { 'content-type': 'application/json' };
  const body = JSON.stringify({ scope: ['https://www.googleapis.com/auth/cloud-platform'] });

  const subject = stack.emulator.state.serviceAccounts.get(WORKLOAD)!;
  const idToken = await stack.emulator.state.signingKeys.signIdToken({ audience: stack.tokenUrl, subject });
  let status = await call(access, { headers: { ...json, authorization: `Bearer ${idToken}` }, body });
  answered.granted = { line: await lastAuditLine(), status };

  status = await call(access, { headers: json, body });
  answered.unauthenticated = { line: await lastAuditLine(), status };

  status = await call('/v1/token', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password&username=a&password=b' });
  answered.oauthDenied = { line: await lastAuditLine(), status };
});

afterAll(async () => {
  await stack?.stop();
});

describe('what the token function writes', () => {
  it('answers the three requests as expected, each with one audit line', () => {
    expect([answered.granted.status, answered.unauthenticated.status, answered.oauthDenied.status]).toEqual([200, 401, 400]);
    expect(JSON.parse(answered.granted.line)).toMatchObject({ decision: 'granted', httpStatus: 200 });
    expect(JSON.parse(answered.unauthenticated.line)).toMatchObject({ decision: 'denied', httpStatus: 401 });
    expect(JSON.parse(answered.oauthDenied.line)).toMatchObject({ decision: 'denied', httpStatus: 400, action: 'oauthToken:password' });
  });

  it('is stored under the platform log name, with the line\'s logName inside jsonPayload', () => {
    const stored = storedEntry(answered.oauthDenied.line, TOKEN, 'stdout');
    expect(stored.logName).toBe(`projects/${PROJECT}/logs/run.googleapis.com%2Fstdout`);
    expect(stored.jsonPayload).toMatchObject({ decision: 'denied', logName: expect.stringMatching(/\/logs\/token-vending-audit$/) });
    expect(stored.labels).toMatchObject({ component: 'token-vending', decision: 'denied' });
    expect(stored.severity).toBe('NOTICE');
  });
});

describe('the denied-authentications metric', () => {
  let denied: Predicate;
  beforeAll(() => {
    denied = compileFilter(filterOf('google_logging_metric', 'denied'));
  });

  /** What the platform stores for one answered request: the function's audit entry and Cloud Run's request log. */
  const storedRequest = (a: Answered, w: Workload = TOKEN): Entry[] => [storedEntry(a.line, w, 'stdout'), requestLogEntry(w, a.status, '/v1/token')];

  it('counts an OAuth refusal answered with 400 exactly once', () => {
    expect(count(denied, storedRequest(answered.oauthDenied))).toBe(1);
  });

  it('counts a 401 refusal of the function exactly once', () => {
    expect(count(denied, storedRequest(answered.unauthenticated))).toBe(1);
  });

  it("counts a refusal of Cloud Run's IAM check, which never reaches the function", () => {
    expect(count(denied, [requestLogEntry(TOKEN, 403, '/v1/token')])).toBe(1);
  });

  it('does not count a granted request', () => {
    expect(count(denied, storedRequest(answered.granted))).toBe(0);
  });

  it('counts refusals exactly once when the platform labels the function as cloud_function (no Cloud Run request log)', () => {
    const cf: Workload = { ...TOKEN, resource: 'cloud_function' };
    expect(count(denied, [storedEntry(answered.oauthDenied.line, cf, 'stdout')])).toBe(1);
    expect(count(denied, [storedEntry(answered.unauthenticated.line, cf, 'stdout')])).toBe(1);
    expect(count(denied, [storedEntry(answered.granted.line, cf, 'stdout')])).toBe(0);
  });

  it('ignores the same entries from another service', () => {
    expect(count(denied, [...storedRequest(answered.oauthDenied, OTHER), ...storedRequest(answered.unauthenticated, OTHER)])).toBe(0);
  });

  it('counts credential API calls that Cloud Audit Logs record as PERMISSION_DENIED', () => {
    const entry = {
      logName: `projects/${PROJECT}/logs/cloudaudit.googleapis.com%2Fdata_access`,
      resource: { type: 'service_account', labels: { project_id: PROJECT, email_id: GEMINI } },
      severity: 'ERROR',
      protoPayload: { '@type': 'type.googleapis.com/google.cloud.audit.AuditLog', serviceName: 'iamcredentials.googleapis.com', methodName: 'GenerateAccessToken', status: { code: 7, message: 'PERMISSION_DENIED' } },
    };
    expect(count(denied, [entry])).toBe(1);
    expect(count(denied, [{ ...entry, protoPayload: { ...entry.protoPayload, status: {} } }])).toBe(0);
  });
});

describe('the audit sinks', () => {
  it.each(['gcs', 'bigquery'])('the %s sink exports every audit entry of the functions and their request logs, and nothing of other services', (name) => {
    const sink = compileFilter(filterOf('google_logging_project_sink', name));
    for (const a of Object.values(answered)) {
      expect(sink(storedEntry(a.line, TOKEN, 'stdout'))).toBe(true);
      expect(sink(storedEntry(a.line, ROTATE, 'stdout'))).toBe(true);
      expect(sink(storedEntry(a.line, { ...TOKEN, resource: 'cloud_function' }, 'stdout'))).toBe(true);
      expect(sink(requestLogEntry(TOKEN, a.status, '/v1/token'))).toBe(true);
      expect(sink(storedEntry(a.line, OTHER, 'stdout'))).toBe(false);
      expect(sink(requestLogEntry(OTHER, a.status, '/v1/token'))).toBe(false);
    }
    const ops = captureOpsLine('token', 'WARNING', 'slow upstream', { upstream: 'secretmanager' });
    expect(sink(storedEntry(ops, TOKEN, 'stderr'))).toBe(false);
  });
});

describe('the policy reload failure metric', () => {
  let reload: Predicate;
  beforeAll(() => {
    reload = compileFilter(filterOf('google_logging_metric', 'policy_reload_failures'));
  });

  it("matches the token function's ops-log line for a failed reload, stored from stderr", () => {
    const line = captureOpsLine('token', 'ERROR', 'policy reload failed; keeping the last good policy', { event: 'policy_reload_failed', error: 'policy: rules[0].name is required' });
    expect(reload(storedEntry(line, TOKEN, 'stderr'))).toBe(true);
    // The line the policy provider's own health log writes, stale or not.
    for (const stale of [false, true]) {
      const lines: string[] = [];
      const health = policyHealthLog(createOpsLog('token', (l) => lines.push(l)), 'secret:projects/p/secrets/tvs-policy/versions/latest', 3600);
      health.onReloadError!(new Error('policy: rules[0].name is required'), { stale, lastGoodAgeMs: 4_000_000, consecutiveFailures: 3 });
      expect(reload(storedEntry(lines[0].trimEnd(), TOKEN, 'stderr'))).toBe(true);
    }
    expect(reload(storedEntry(line, { ...TOKEN, resource: 'cloud_function' }, 'stdout'))).toBe(true);
  });

  it('ignores other ops lines, audit entries and other services', () => {
    expect(reload(storedEntry(captureOpsLine('token', 'ERROR', 'upstream failed', { event: 'upstream_failed' }), TOKEN, 'stderr'))).toBe(false);
    expect(reload(storedEntry(answered.oauthDenied.line, TOKEN, 'stdout'))).toBe(false);
    expect(reload(storedEntry(captureOpsLine('rotate', 'ERROR', 'x', { event: 'policy_reload_failed' }), OTHER, 'stderr'))).toBe(false);
  });

  it('has an alert policy on it', () => {
    const alerts = resources(tree, 'google_monitoring_alert_policy').filter((a) => JSON.stringify(a.body).includes('google_logging_metric.policy_reload_failures.name'));
    expect(alerts.map((a) => a.name)).toEqual(['policy_reload_failed']);
  });
});

describe('the failed-rotation metric', () => {
  let failed: Predicate;
  let refusal: string;
  let done: string | undefined;
  beforeAll(async () => {
    failed = compileFilter(filterOf('google_logging_metric', 'rotation_failures'));
    // A real refusal by the rotator: a secret carrying the managed label that no binding names.
    const name = `projects/${stack.emulator.projectId}/secrets/plain`;
    const secrets = stack.emulator.state.secrets;
    secrets.updateSecret({ name, labels: { ...secrets.getSecret(name).labels, 'tvs-managed': 'true' } }, ['labels']);
    const report = await stack.rotation.runSweep({ secrets: ['plain'] });
    expect(report.secrets[0]).toMatchObject({ outcome: 'failed', error: { reason: 'NOT_IN_BINDING' } });
    await stack.rotation.flushAudit();
    const lines = audit.text().split('\n').filter(Boolean);
    refusal = lines.find((l) => l.includes('"NOT_IN_BINDING"'))!;
    done = lines.find((l) => l.includes('"rotation.') && l.includes('"decision":"done"'));
  });

  it("counts the rotator's refusal of a secret, from either rotation function", () => {
    expect(refusal).toBeDefined();
    expect(failed(storedEntry(refusal, ROTATE, 'stdout'))).toBe(true);
    expect(failed(storedEntry(refusal, { ...ROTATE, service: 'tvs-rotate-on-event' }, 'stdout'))).toBe(true);
    expect(failed(storedEntry(refusal, { ...ROTATE, resource: 'cloud_function' }, 'stdout'))).toBe(true);
  });

  it('ignores token decisions, completed rotation steps and other services', () => {
    for (const a of Object.values(answered)) expect(failed(storedEntry(a.line, TOKEN, 'stdout'))).toBe(false);
    if (done) expect(failed(storedEntry(done, ROTATE, 'stdout'))).toBe(false);
    const completed = refusal.replaceAll('"decision":"error"', '"decision":"done"');
    expect(completed).not.toBe(refusal);
    expect(failed(storedEntry(completed, ROTATE, 'stdout'))).toBe(false);
    expect(failed(storedEntry(refusal, OTHER, 'stdout'))).toBe(false);
  });

  it('has an alert policy on it', () => {
    const alerts = resources(tree, 'google_monitoring_alert_policy').filter((a) => JSON.stringify(a.body).includes('google_logging_metric.rotation_failures.name'));
    expect(alerts.map((a) => a.name)).toEqual(['rotation_failed']);
  });
});

describe('every filter in the audit module', () => {
  it('never depends on the log name a function line is stored under', () => {
    const names = ['run.googleapis.com/stdout', 'run.googleapis.com/stderr', 'cloudfunctions.googleapis.com/cloud-functions'];
    // Every instance of every metric (for_each metrics: one filter per key) and every sink.
    const filters = [
      ...resources(tree, 'google_logging_metric').filter((r) => r.file.dir === 'modules/audit').flatMap((r) => Object.values(instanceFilters(tree, r, VARS))),
      ...resources(tree, 'google_logging_project_sink').filter((r) => r.file.dir === 'modules/audit').map((r) => filterOf('google_logging_project_sink', r.name)),
    ];
    expect(filters.length).toBeGreaterThanOrEqual(4);
    const reloadLine = captureOpsLine('token', 'ERROR', 'policy reload failed; keeping the last good policy', { event: 'policy_reload_failed' });
    for (const filter of filters) {
      const p = compileFilter(filter);
      for (const line of [...Object.values(answered).map((a) => a.line), reloadLine]) {
        const results = names.map((id) => p({ ...storedEntry(line, TOKEN, 'stdout'), logName: `projects/${PROJECT}/logs/${encodeURIComponent(id)}` }));
        expect(new Set(results).size, filter).toBe(1);
      }
    }
  });
});

/** One line written by the real ops-log writer. */
function captureOpsLine(component: string, severity: 'ERROR' | 'WARNING', message: string, fields: Record<string, unknown>): string {
  const lines: string[] = [];
  createOpsLog(component, (l) => lines.push(l))(severity, message, fields);
  return lines[0].trimEnd();
}
