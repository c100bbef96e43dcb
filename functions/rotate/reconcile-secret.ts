/**
 * One secret, one reconcile: read its state and move it forward as far as is due, every step
 * idempotent and every state change a compare-and-swap, so that a run killed anywhere is
 * finished by the next and two runs never both rotate.
 *
 *   idle ─(due: claim)→ creating ─(create, store)→ verifying ─(verify ok: promote)→ retiring
 *     ↑                                                 │ verify fails: rollback          │ grace over: disable old
 *     └──────────────────────────────←──────────────────┘                                 ↓
 *     └───────────────────────(grace over: delete old key, destroy old version)──── purging
 */
import type { SecretAdmin, SecretInfo } from '../../shared/gcp/secret-admin.js';
import { AbortedError, FailedPreconditionError } from '../../shared/errors.js';
import { asTvsError } from '../../shared/google-error.js';
import type { Credential } from './credentials/credential.js';
import { planFor } from './plan.js';
import type { SecretReport, Step } from './report.js';
import type { RotationAudit, RotationAuditFields } from './rotation-audit.js';
import { BusyError, ConflictError, SecretSession } from './secret-session.js';
import type { RotationBindings } from '../../shared/rotation-binding.js';
import { checkBinding } from './binding-check.js';
import { AnnotationError, type CredentialKind, type RotationState } from './state.js';
import { claim } from './steps/claim.js';
import type { StepContext } from './steps/context.js';
import { create } from './steps/create.js';
import { deleteOld, disableOld } from './steps/retire.js';
import { verifyAndPromote } from './steps/verify.js';
import { nextMove } from './schedule.js';

export interface ReconcileDeps {
  secrets: SecretAdmin;
  credentials: Record<CredentialKind, Credential>;
  now: () => number;
  /** This run's id (the claim owner). */
  owner: string;
  claimTtlMs: number;
  /** The deploy-time binding: the only source of what each secret rotates. */
  bindings: RotationBindings;
  audit: RotationAudit;
  /** Test hook, awaited after each step: throwing here simulates a crash right after that step. */
  afterStep?: (step: Step, secretId: string) => void | Promise<void>;
}

export interface ReconcileOptions {
  dryRun?: boolean;
  /** Rotate even if not due (never interrupts a rotation in progress). */
  force?: boolean;
  /** Set when a SECRET_ROTATE notice triggered the run: its publish time. */
  eventTimeMs?: number;
}

const MAX_MOVES = 12;

// Issue 16: the state each report was made from, for its rotation_health line (see stateAfterRun).
const statesAfterRun = new WeakMap<SecretReport, RotationState>();
function remember(state: RotationState, report: SecretReport): SecretReport {
  statesAfterRun.set(report, state);
  return report;
}

/** The rotation state the run left the secret in, if the run got as far as reading it. */
export function stateAfterRun(report: SecretReport): RotationState | undefined {
  return statesAfterRun.get(report);
}

class HookAbort extends Error {
  constructor(override readonly cause: unknown) {
    // Stryker disable next-line StringLiteral: never seen; reconcileSecret rethrows the cause, not this
    super('afterStep hook aborted the run');
  }
}

/**
 * Reconciles one managed secret and reports what happened. Never throws, except what the
 * `afterStep` hook throws: that aborts the run on the spot, as a crash would.
 */
export async function reconcileSecret(
  deps: ReconcileDeps,
  secret: SecretInfo,
  options: ReconcileOptions = {},
): Promise<SecretReport> {
  const actions: Step[] = [];
  const foreignKeyIds: string[] = [];
  let session: SecretSession;
  try {
    session = new SecretSession(deps, secret, checkBinding(secret, deps.bindings.get(secret.secretId)));
  } catch (err) {
    if (err instanceof FailedPreconditionError) {
      // Not in the binding, or metadata that disagrees with it: refused, reported, audited.
      deps.audit.failed('run', { secret: secret.secretId }, err);
      return {
        secret: secret.secretId,
        outcome: 'failed',
        actions,
        error: {
          code: err.code,
          reason: err.reason,
          message: err.detail ? `${err.message} ${err.detail}` : err.message,
        },
      };
    }
    if (!(err instanceof AnnotationError)) throw err;
    const error = new FailedPreconditionError('The secret is not configured for rotation correctly.', {
      reason: 'MISCONFIGURED',
      detail: err.message,
    });
    deps.audit.failed('run', { secret: secret.secretId }, error);
    return {
      secret: secret.secretId,
      outcome: 'failed',
      actions,
      error: { code: error.code, reason: error.reason, message: `${error.message} ${err.message}` },
    };
  }
  const credential = deps.credentials[session.config.kind];
  const fields = (extra: Omit<RotationAuditFields, 'secret'> = {}): RotationAuditFields => ({
    secret: session.secretId,
    kind: session.config.kind,
    phase: session.state.phase,
    ...extra,
  });
  const ctx: StepContext = {
    session,
    credential,
    secrets: deps.secrets,
    now: deps.now,
    audit: deps.audit,
    fields,
    foreign(keyId) {
      if (!foreignKeyIds.includes(keyId)) foreignKeyIds.push(keyId);
    },
    async mark(step) {
      actions.push(step);
      try {
        await deps.afterStep?.(step, session.secretId);
      } catch (err) {
        throw new HookAbort(err);
      }
    },
  };
  const report = (outcome: SecretReport['outcome'], extra: Partial<SecretReport> = {}): SecretReport =>
    remember(session.state, {
      secret: session.secretId,
      kind: session.config.kind,
      outcome,
      phase: session.state.phase,
      actions,
      ...(session.state.currentKey ? { currentKeyId: session.state.currentKey } : {}),
      ...(foreignKeyIds.length > 0 ? { foreignKeyIds: [...foreignKeyIds] } : {}),
      ...extra,
    });

  let outcome: SecretReport['outcome'] | undefined;
  let promoted: { newKeyId?: string; oldKeyId?: string; newVersion?: number } = {};
  try {
    for (let moves = 0; moves < MAX_MOVES; moves++) {
      const move = nextMove(session, deps.now(), { ...options, rotatedThisRun: outcome === 'rotated' });
      if (move.kind === 'wait') {
        return report(outcome ?? move.outcome, {
          ...promoted,
          ...(move.atMs !== undefined ? { nextActionAt: new Date(move.atMs).toISOString() } : {}),
          ...(outcome ? {} : { reason: move.reason }),
        });
      }
      if (options.dryRun) return report('planned', { plan: planFor(session), reason: move.reason });
      try {
        session.assertNotClaimedByOther();
        if (!session.holdsClaim()) await claim(ctx);
        // From idle, claim() has moved the secret to creating.
        switch (session.state.phase) {
          case 'creating':
            await create(ctx);
            break;
          case 'verifying': {
            const before = session.state;
            const result = await verifyAndPromote(ctx);
            if (result === 'rolled-back') {
              return report('rolled-back', {
                ...(before.newKey ? { newKeyId: before.newKey } : {}),
                error: {
                  code: 'FAILED_PRECONDITION',
                  // Stryker disable next-line StringLiteral: unreachable (rollback saves lastError)
                  reason: session.state.lastError ?? 'VERIFY_FAILED',
                  message: 'The new credential did not work; it was removed and the current one kept.',
                },
              });
            }
            outcome = 'rotated';
            promoted = {
              ...(before.newKey ? { newKeyId: before.newKey } : {}),
              ...(before.currentKey ? { oldKeyId: before.currentKey } : {}),
              ...(before.newVersion ? { newVersion: before.newVersion } : {}),
            };
            break;
          }
          case 'retiring':
            await disableOld(ctx);
            outcome ??= 'retired';
            break;
          case 'purging':
            await deleteOld(ctx);
            outcome ??= 'purged';
            break;
        }
      } catch (err) {
        if (err instanceof ConflictError) continue;
        throw err;
      }
    }
    // Nothing settled within the bound (every write lost its compare-and-swap, or the state kept
    // changing under us): a failure like any other, audited, the claim (if any) released.
    if (outcome === undefined) {
      throw new AbortedError(`Too many moves in one run (${MAX_MOVES}); the secret kept changing.`, {
        reason: 'ROTATION_TOO_MANY_MOVES',
      });
    }
    return report(outcome, { ...promoted, reason: 'too many moves in one run' });
  } catch (err) {
    // The test hook aborts the run as a crash would: no clean-up, no report.
    if (err instanceof HookAbort) throw err.cause;
    if (err instanceof BusyError) {
      return report('busy', {
        reason: `another run (${err.owner}) holds the claim until ${new Date(err.untilMs).toISOString()}`,
      });
    }
    const error = asTvsError(err);
    deps.audit.failed('run', fields(), error);
    // Keep the phase (the next run resumes it) but let the next run in at once.
    if (session.holdsClaim())
      await session
        .save({ ...session.state, lastError: error.reason }, { release: true })
        .catch(() => undefined);
    return report('failed', {
      ...promoted,
      error: { code: error.code, reason: error.reason, message: error.message },
    });
  }
}

export type { SecretReport };
