/**
 * Rotation under faults (reliability items of the rotation issue). The crash matrix (a run killed
 * after each step) lives with the rotation function: test/integration/functions/rotate/rotation.test.ts.
 * Here Google itself fails: each Google call a step makes answers 5xx or drops the connection while
 * the step runs; the run must report the failure (non-2xx), lose nothing, and the reruns must
 * converge to exactly one new credential, no orphan, the old one retired on schedule. After every
 * step of every run the credential `current` names is proved to work. Then concurrent sweeps under
 * a slow Secret Manager, and the token function serving without a single failure throughout a
 * faulty rotation of the key it uses. CI-sized by default, every row and fault with TVS_LONG=1.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Fault } from '../../emulator/index.js';
import type { Outcome, Step } from '../../functions/rotate/report.js';
import { useEmulatorMetadata } from '../support/google-env.js';
import { LONG, recordFigures } from './support/figures.js';
import {
  GEMINI,
  GRACE_MS,
  startRotationFaultStack,
  startTokenLoad,
  until,
  type KindName,
  type ManagedSecret,
  type RotationFaultStack,
} from './support/rotation-fault-stack.js';

const UPDATE = 'secretmanager.UpdateSecret';
const RUNS = ['rotate', 'retire', 'purge'] as const;
type Run = (typeof RUNS)[number];
const DONE: Record<Run, Outcome> = { rotate: 'rotated', retire: 'retired', purge: 'purged' };

interface Row {
  kind: KindName;
  step: string;
  endpoint: string;
  /** The run of the rotation that meets the fault. */
  run: Run;
  /** Inject once this step is done (the endpoint is also called earlier in the run); else at the run's start. */
  armAfter?: Step;
  expect: 'failed' | 'rolled-back';
  /** Part of the CI-sized run, with this fault (the long run tries every fault on every row). */
  ci?: '503' | 'reset';
}

const ROWS: Row[] = [
  { kind: 'sa-key', step: 'claim', endpoint: UPDATE, run: 'rotate', expect: 'failed', ci: '503' },
  { kind: 'sa-key', step: 'create', endpoint: 'iam.keys.create', run: 'rotate', expect: 'failed', ci: '503' },
  {
    kind: 'sa-key',
    step: 'store',
    endpoint: 'secretmanager.AddSecretVersion',
    run: 'rotate',
    expect: 'failed',
    ci: '503',
  },
  {
    kind: 'sa-key',
    step: 'store (record)',
    endpoint: UPDATE,
    run: 'rotate',
    armAfter: 'store',
    expect: 'failed',
  },
  {
    kind: 'sa-key',
    step: 'verify (read)',
    endpoint: 'secretmanager.AccessSecretVersion',
    run: 'rotate',
    armAfter: 'store',
    expect: 'failed',
  },
  {
    kind: 'sa-key',
    step: 'verify',
    endpoint: 'oauth.token',
    run: 'rotate',
    armAfter: 'store',
    expect: 'rolled-back',
    ci: '503',
  },
  {
    kind: 'sa-key',
    step: 'promote',
    endpoint: UPDATE,
    run: 'rotate',
    armAfter: 'verify',
    expect: 'failed',
    ci: '503',
  },
  {
    kind: 'sa-key',
    step: 'retire',
    endpoint: 'iam.keys.disable',
    run: 'retire',
    expect: 'failed',
    ci: '503',
  },
  {
    kind: 'sa-key',
    step: 'retire',
    endpoint: 'secretmanager.DisableSecretVersion',
    run: 'retire',
    expect: 'failed',
  },
  { kind: 'sa-key', step: 'purge', endpoint: 'iam.keys.delete', run: 'purge', expect: 'failed', ci: '503' },
  {
    kind: 'sa-key',
    step: 'purge',
    endpoint: 'secretmanager.DestroySecretVersion',
    run: 'purge',
    expect: 'failed',
  },
  { kind: 'api-key', step: 'claim', endpoint: UPDATE, run: 'rotate', expect: 'failed' },
  {
    kind: 'api-key',
    step: 'create',
    endpoint: 'apikeys.createKey',
    run: 'rotate',
    expect: 'failed',
    ci: 'reset',
  },
  {
    kind: 'api-key',
    step: 'create (operation)',
    endpoint: 'apikeys.getOperation',
    run: 'rotate',
    expect: 'failed',
  },
  {
    kind: 'api-key',
    step: 'store',
    endpoint: 'secretmanager.AddSecretVersion',
    run: 'rotate',
    expect: 'failed',
  },
  {
    kind: 'api-key',
    step: 'verify',
    endpoint: 'gemini.listModels',
    run: 'rotate',
    armAfter: 'store',
    expect: 'rolled-back',
    ci: '503',
  },
  { kind: 'api-key', step: 'promote', endpoint: UPDATE, run: 'rotate', armAfter: 'verify', expect: 'failed' },
  {
    kind: 'api-key',
    step: 'retire',
    endpoint: 'secretmanager.DisableSecretVersion',
    run: 'retire',
    expect: 'failed',
    ci: '503',
  },
  {
    kind: 'api-key',
    step: 'purge',
    endpoint: 'apikeys.deleteKey',
    run: 'purge',
    expect: 'failed',
    ci: '503',
  },
  {
    kind: 'api-key',
    step: 'purge',
    endpoint: 'secretmanager.DestroySecretVersion',
    run: 'purge',
    expect: 'failed',
  },
];

const FAULTS: Array<[string, Fault]> = [
  ['503', { status: 503 }],
  ['reset', { reset: true }],
];
/** CI: the `ci` rows with their fault; long: every row with every fault. */
const entry = (row: Row, [name, fault]: [string, Fault]): [string, string, Row, Fault] => [
  `${row.kind} ${row.step} (${row.endpoint})`,
  name,
  row,
  fault,
];
const MATRIX = LONG
  ? ROWS.flatMap((row) => FAULTS.map((f) => entry(row, f)))
  : ROWS.filter((r) => r.ci).map((row) =>
      entry(
        row,
        FAULTS.find(([name]) => name === row.ci)!,
      ),
    );

let t: RotationFaultStack;
let restoreEnv: () => void;
/** Everything the per-step probes found wrong; each test asserts it stays empty. */
let violations: string[] = [];
/** Keys of the rotated identities that are not the rotator's (the demo seed gives gemini-caller a second key): they must survive every rotation. */
const foreign: Record<KindName, string[]> = { 'sa-key': [], 'api-key': [] };
/** Live keys of `s` that are the rotator's to manage. */
const ownKeys = (s: ManagedSecret) => s.liveKeys().filter((k) => !foreign[s.kind].includes(k));
const figures = { faultsSurvived: 0, crashesConverged: 0, requests: 0 };

beforeAll(async () => {
  t = await startRotationFaultStack();
  restoreEnv = useEmulatorMetadata(t.stack.emulator.metadataHost);
  for (const s of Object.values(t.secrets))
    foreign[s.kind] = s.liveKeys().filter((k) => k !== s.currentKeyId());
});

afterAll(async () => {
  recordFigures('rotation-faults', figures);
  restoreEnv?.();
  await t?.stop();
});

beforeEach(() => {
  t.stack.emulator.faults.reset();
  t.onStep(undefined);
  violations = [];
});

/** Records a violation when the credential `current` names does not work right now. */
async function assertCurrentWorks(
  s: ManagedSecret,
  when: string,
  options: { inProcess?: boolean } = {},
): Promise<void> {
  const problem = await s.currentProblem(options);
  if (problem) violations.push(`${s.kind} ${when}: ${problem}`);
}

/** Watches every step of `s`: `current` works, and the old credential is retired no earlier than its grace allows. */
function watchSteps(
  s: ManagedSecret,
  before?: (step: Step) => void,
  inProcess: () => boolean = () => false,
): void {
  t.onStep(async (step, secretId) => {
    if (secretId !== s.id) return;
    const state = s.state();
    if (step === 'disable' && t.clock.now() < (state.rotatedAtMs ?? Infinity) + GRACE_MS)
      violations.push(`${s.kind}: disabled before the grace period after promotion ended`);
    if (step === 'delete' && t.clock.now() < (state.disabledAtMs ?? Infinity) + GRACE_MS)
      violations.push(`${s.kind}: deleted before the grace period after disabling ended`);
    before?.(step);
    await assertCurrentWorks(s, `after ${step}`, { inProcess: inProcess() });
  });
}

/** Waits until the token function signs with `keyId` (in production its 5-minute refresh sits well inside the grace period). */
const tokenFunctionUses = (s: ManagedSecret, keyId: string) =>
  until(
    async () =>
      (await t.stack.token.keys.get(`${s.name}/versions/current`, GEMINI).catch(() => undefined))?.keyId ===
      keyId,
    `the token function to load key ${keyId}`,
  );

/**
 * Moves the clock through the grace period running now: first to 1 ms before it ends, where a
 * sweep must only wait (retired on schedule, not early), then past it and past any abandoned claim.
 */
async function throughGrace(s: ManagedSecret): Promise<void> {
  const state = s.state();
  const start =
    state.phase === 'retiring'
      ? state.rotatedAtMs
      : state.phase === 'purging'
        ? state.disabledAtMs
        : undefined;
  if (start !== undefined && state.claim === undefined && t.clock.now() < start + GRACE_MS - 1) {
    t.clock.advance(start + GRACE_MS - 1 - t.clock.now());
    const report = (await t.stack.rotation.runSweep({ secrets: [s.id] })).secrets[0];
    if (report.outcome !== 'waiting')
      violations.push(
        `${s.kind}: a sweep 1 ms before the ${state.phase} grace period ended: ${report.outcome} [${report.actions.join(', ')}]`,
      );
    await assertCurrentWorks(s, `while ${state.phase}`);
  }
  t.clock.advance(GRACE_MS + 1);
}

/** Reruns (clock through each grace period and past any abandoned claim) until the old credential is purged. */
async function converge(s: ManagedSecret, withTokenFunction: boolean): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < 6 && outcomes.at(-1) !== 'purged'; i++) {
    await throughGrace(s);
    const force = i === 0 && s.state().phase === 'idle';
    const report = (await t.stack.rotation.runSweep({ secrets: [s.id], ...(force ? { force } : {}) }))
      .secrets[0];
    outcomes.push(report.outcome);
    if (report.outcome === 'rotated' && withTokenFunction && s.kind === 'sa-key')
      await tokenFunctionUses(s, report.newKeyId!);
    await assertCurrentWorks(s, `after rerun ${i + 1} (${report.outcome})`);
  }
  return outcomes;
}

/** One row: a rotation whose `row.run` meets `fault` on `row.endpoint`, then reruns until it converges. */
async function faultyRotation(
  row: Row,
  fault: Fault,
  options: { withTokenFunction?: boolean } = {},
): Promise<void> {
  const s = t.secrets[row.kind];
  const faults = t.stack.emulator.faults;
  const withTokenFunction = options.withTokenFunction === true;
  const before = s.currentKeyId()!;
  const generation = s.state().generation;
  expect(ownKeys(s)).toEqual([before]);
  let armed = false;
  let active = false;
  const inject = () => {
    faults.inject({ endpoint: row.endpoint, times: Infinity, ...fault });
    active = true;
  };
  watchSteps(
    s,
    (step) => {
      if (armed && step === row.armAfter) {
        armed = false;
        inject();
      }
    },
    () => active && row.endpoint === 'oauth.token',
  );
  await assertCurrentWorks(s, 'before');

  let promoted: string | undefined;
  for (const run of RUNS.slice(0, RUNS.indexOf(row.run))) {
    const report = (
      await t.stack.rotation.runSweep({ secrets: [s.id], ...(run === 'rotate' ? { force: true } : {}) })
    ).secrets[0];
    expect(report.outcome, JSON.stringify(report)).toBe(DONE[run]);
    if (run === 'rotate') promoted = report.newKeyId;
    if (run === 'rotate' && withTokenFunction && s.kind === 'sa-key') await tokenFunctionUses(s, promoted!);
    await throughGrace(s);
  }

  const calls = faults.count(row.endpoint);
  if (row.armAfter) armed = true;
  else inject();
  const { status, json } = await t.post({
    secrets: [s.id],
    ...(row.run === 'rotate' ? { force: true } : {}),
  });
  const hits = faults.count(row.endpoint) - calls;
  faults.reset();
  active = false;
  expect(armed, `the run never reached ${row.armAfter}: ${JSON.stringify(json.secrets)}`).toBe(false);
  expect(hits, `the run never called ${row.endpoint} while it failed`).toBeGreaterThan(0);
  expect(status).toBe(500);
  expect(json).toMatchObject({ ok: false, secrets: [{ secret: s.id, outcome: row.expect }] });
  // Nothing lost: the credential that was current still is (and works), and nothing was retired early.
  expect(s.currentKeyId()).toBe(row.run === 'rotate' ? before : promoted);
  expect(s.liveKeys()).toContain(s.currentKeyId());
  if (row.run === 'rotate') expect(s.liveKeys()).toContain(before);
  await assertCurrentWorks(s, 'after the failed run');
  const abandoned = s.state().claim !== undefined;

  const outcomes = await converge(s, withTokenFunction);
  expect(outcomes).toEqual(
    RUNS.slice(row.run === 'rotate' || row.expect === 'rolled-back' ? 0 : RUNS.indexOf(row.run)).map(
      (r) => DONE[r],
    ),
  );
  const state = s.state();
  expect(state).toMatchObject({
    phase: 'idle',
    generation: generation + (row.expect === 'rolled-back' ? 2 : 1),
  });
  expect(state.claim).toBeUndefined();
  const after = s.currentKeyId();
  expect(after).toBe(state.currentKey);
  expect(after).not.toBe(before);
  if (promoted) expect(after).toBe(promoted);
  // Exactly one live credential (no orphan, nobody else's key touched), one enabled version, the old credential gone.
  expect(ownKeys(s)).toEqual([after]);
  expect(s.liveKeys()).toEqual([...foreign[s.kind], after!].sort());
  expect(s.enabledVersions()).toEqual([s.aliases().current]);
  expect(s.aliases().previous).toBeUndefined();
  const emu = t.stack.emulator.state;
  if (row.kind === 'sa-key') expect(emu.serviceAccounts.getKey(GEMINI, before)?.state).toBe('DELETED');
  else
    expect(
      emu.apiKeys.list({ showDeleted: true }).find((k) => k.keyId === before)?.deleteTime,
    ).toBeInstanceOf(Date);
  expect(violations).toEqual([]);
  figures.faultsSurvived += 1;
  if (abandoned) figures.crashesConverged += 1;
}

describe('Google failing mid-step', () => {
  it.each(MATRIX)(
    '%s answering %s: the run reports failure, nothing is lost, reruns converge',
    async (_name, _fault, row, fault) => {
      await faultyRotation(row, fault);
    },
    LONG ? 120_000 : 30_000,
  );
});

describe('concurrent runs under a slow Secret Manager', () => {
  const RACERS = LONG ? 4 : 2;
  const ROUNDS = LONG ? 3 : 1;

  it.each<KindName>(['sa-key', 'api-key'])(
    `%s: of ${RACERS} sweeps at once, exactly one rotates and the others report busy`,
    async (kind) => {
      const s = t.secrets[kind];
      watchSteps(s);
      for (let round = 0; round < ROUNDS; round++) {
        const keys = s.liveKeys().length;
        // Every claim waits in Secret Manager, so all racers read the same etag before any claim lands.
        t.stack.emulator.faults.inject({ endpoint: UPDATE, times: Infinity, latencyMs: 300 });
        const results = await Promise.all(
          Array.from({ length: RACERS }, () => t.post({ secrets: [s.id], force: true })),
        );
        t.stack.emulator.faults.reset();
        expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
        expect(results.map((r) => r.json.secrets[0].outcome).sort()).toEqual([
          ...Array.from({ length: RACERS - 1 }, () => 'busy'),
          'rotated',
        ]);
        expect(s.liveKeys()).toHaveLength(keys + 1);
        expect(await converge(s, false)).toEqual(['retired', 'purged']);
        expect(ownKeys(s)).toEqual([s.currentKeyId()]);
        figures.faultsSurvived += 1;
      }
      expect(violations).toEqual([]);
    },
    LONG ? 120_000 : 30_000,
  );
});

describe('the token function during a faulty rotation of its key', () => {
  const rows = ROWS.filter(
    (r) =>
      r.kind === 'sa-key' &&
      r.endpoint !== 'oauth.token' &&
      (LONG || ['verify (read)', 'promote'].includes(r.step) || r.endpoint === 'iam.keys.disable'),
  );

  it(
    `serves every request while ${rows.length} rotations each meet a fault mid-step and are rerun`,
    async () => {
      const load = startTokenLoad(t, LONG ? 3 : 1);
      try {
        await until(() => load.ok() >= 10 || load.failures().length > 0, 'the first tokens');
        for (const row of rows) {
          const served = load.ok();
          await faultyRotation(row, row.endpoint === UPDATE ? { reset: true } : { status: 503 }, {
            withTokenFunction: true,
          });
          await until(
            () => load.ok() >= served + 10 || load.failures().length > 0,
            'tokens after the rotation',
          );
        }
      } finally {
        await load.stop();
      }
      figures.requests += load.ok();
      expect(load.failures()).toEqual([]);
    },
    LONG ? 300_000 : 30_000,
  );
});
