/** A managed secret over the fakes, and a run helper, for the reconcile tests. */
import { sweep, type SweepRequest } from '../../../../../functions/rotate/sweep.js';
import type { Step } from '../../../../../functions/rotate/report.js';
import { SecretSession } from '../../../../../functions/rotate/secret-session.js';
import { parseRotationState, type RotationState } from '../../../../../functions/rotate/state.js';
import type { StepContext } from '../../../../../functions/rotate/steps/context.js';
import type { TvsError } from '../../../../../shared/errors.js';
import type { RotationBinding } from '../../../../../shared/rotation-binding.js';
import { fakeClock, FakeKeys, FakeSecrets, recordingAudit } from './fakes.js';

export const HOUR = 3_600_000;
export const GRACE_MS = 2 * HOUR;
export const PERIOD_MS = 30 * 24 * HOUR;
export const CLAIM_TTL_MS = 10 * 60_000;

export const SA_TARGET = 'rotated@proj-12345.iam.gserviceaccount.com';
export const API_TARGET = 'projects/proj-12345/locations/global/keys/orig';

export function managedSecret(mode: 'sa' | 'api', options: { cap?: number } = {}) {
  const clock = fakeClock();
  const secrets = new FakeSecrets();
  const keys = new FakeKeys(mode, options.cap);
  keys.log = secrets.log;
  const audit = recordingAudit();
  const originalKey = keys.seed(mode === 'api' ? 'orig' : 'k0');
  const kind = mode === 'sa' ? ('sa-key' as const) : ('api-key' as const);
  const name = secrets.add(
    'my-secret',
    { 'tvs-managed': 'true', 'tvs-kind': kind },
    { 'other.tool': 'kept' },
    [`secret:${originalKey}`],
    { current: 1 },
  );
  // The deploy-time binding (TVS_ROTATION_BINDINGS); tests may add or change entries.
  const bindings = new Map<string, RotationBinding>([
    [
      'my-secret',
      { kind, target: mode === 'sa' ? SA_TARGET : API_TARGET, periodMs: PERIOD_MS, graceMs: GRACE_MS },
    ],
  ]);
  let runs = 0;
  const run = (
    request: SweepRequest & {
      owner?: string;
      afterStep?: (step: Step, secretId: string) => void | Promise<void>;
      eventTimeMs?: number;
    } = {},
  ) => {
    const { owner, afterStep, eventTimeMs, ...sweepRequest } = request;
    const deps = {
      secrets,
      credentials: { 'sa-key': keys, 'api-key': keys },
      now: clock.now,
      owner: owner ?? `run-${++runs}`,
      claimTtlMs: CLAIM_TTL_MS,
      bindings,
      audit,
      projectId: 'proj-12345',
      ...(afterStep ? { afterStep } : {}),
    };
    if (eventTimeMs !== undefined) {
      return import('../../../../../functions/rotate/reconcile-secret.js').then(async ({ reconcileSecret }) =>
        reconcileSecret(deps, await secrets.get(name), { eventTimeMs }),
      );
    }
    return sweep(deps, sweepRequest).then((r) => r.secrets[0]);
  };
  const state = () => parseRotationState(secrets.secret(name).info.annotations);
  return { clock, secrets, keys, audit, name, originalKey, run, state, bindings };
}

/**
 * The step context run `owner` (default `run-test`) builds over `t`'s secret as stored now, for
 * calling one step directly; `state`, when given, replaces the rotation state read. Its audit
 * fields are the run's (`secret`, `kind`); it records the steps marked, the foreign keys reported
 * and the errors audited as failed.
 */
export async function runStepContext(
  t: ReturnType<typeof managedSecret>,
  options: { owner?: string; state?: RotationState } = {},
) {
  const session = new SecretSession(
    { secrets: t.secrets, now: t.clock.now, owner: options.owner ?? 'run-test', claimTtlMs: CLAIM_TTL_MS },
    await t.secrets.get(t.name),
    t.bindings.get('my-secret')!,
  );
  if (options.state) session.state = options.state;
  const marks: Step[] = [];
  const foreign: string[] = [];
  const failures: TvsError[] = [];
  const ctx: StepContext = {
    session,
    credential: t.keys,
    secrets: t.secrets,
    now: t.clock.now,
    audit: {
      done: (step, fields, reason) => t.audit.done(step, fields, reason),
      failed(step, fields, error) {
        failures.push(error);
        t.audit.failed(step, fields, error);
      },
    },
    fields: (extra = {}) => ({ secret: session.secretId, kind: session.config.kind, ...extra }),
    foreign: (keyId) => void foreign.push(keyId),
    mark: (step) => Promise.resolve(void marks.push(step)),
  };
  return { ctx, session, marks, foreign, failures };
}
