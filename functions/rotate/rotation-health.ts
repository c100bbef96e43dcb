/**
 * Issue 16: the one `rotation_health` ops line each managed secret gets per rotation run (sweep or
 * event), built from the state the rotator keeps in annotations, so alerts and the status page read
 * the same numbers. Pure: (state, binding, now, outcome) in, the line's severity and fields out.
 */
import type { Severity } from '../../shared/ops-log.js';
import type { RotationBinding } from '../../shared/rotation-binding.js';
import type { SecretReport } from './report.js';
import type { RotationState } from './state.js';

export type RotationOutcome = 'rotated' | 'not_due' | 'in_progress' | 'failed' | 'skipped';

export interface RotationHealth {
  event: 'rotation_health';
  secret: string;
  kind: RotationBinding['kind'];
  outcome: RotationOutcome;
  phase: string;
  credentialAgeSeconds: number | null;
  dueInSeconds: number | null;
  periodSeconds: number;
  graceSeconds: number;
  phaseAgeSeconds: number | null;
  claimTtlSeconds: number;
  /**
   * The conditions the alerts count, decided here because a log filter cannot compare two fields:
   * - overdue: idle, and due more than the grace ago — no run has started the rotation (the
   *   scheduler is not firing, or every run skips the secret);
   * - stuck: a phase held longer than the claim TTL;
   * - credentialTooOld: the credential in use is older than its period plus grace, whatever the
   *   phase — also while a rotation is under way but has not promoted (creating/verifying), which
   *   `overdue` does not count. For an idle secret the two coincide.
   */
  overdue: boolean;
  stuck: boolean;
  credentialTooOld: boolean;
  lastError?: { code: string; reason: string };
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * - credentialAgeSeconds: since the current credential was stored (`rotatedAtMs`); null when the
 *   rotator has never recorded one (e.g. a secret adopted and not yet rotated).
 * - dueInSeconds: `rotatedAtMs + period - now` (negative = overdue); null with no rotation time.
 * - phaseAgeSeconds: how long the current non-idle phase's claim has been held, from the claim's
 *   expiry minus the claim TTL (the claim is taken, or renewed, when a phase starts); null when idle.
 *   A renewed claim restarts this clock: it measures time since the run last moved the secret.
 *   With no claim held: `retiring` dates from `rotatedAtMs`, `purging` from `disabledAtMs`;
 *   otherwise null (no timestamp recorded for that phase).
 */
export function rotationHealth(
  secret: string,
  state: RotationState | undefined,
  binding: RotationBinding,
  nowMs: number,
  outcome: RotationOutcome,
  claimTtlMs: number,
  error?: { code: string; reason: string },
): { severity: Severity; fields: RotationHealth } {
  const rotatedAtMs = state?.rotatedAtMs;
  const phase = state?.phase ?? 'idle';
  // A held claim dates the phase; a released one leaves the phase's own timestamp (retiring starts
  // at promotion, purging when the old version was disabled).
  const claimedAtMs = state?.claim
    ? state.claim.expiresAtMs - claimTtlMs
    : phase === 'retiring'
      ? state?.rotatedAtMs
      : phase === 'purging'
        ? state?.disabledAtMs
        : undefined;
  const credentialAgeSeconds = rotatedAtMs === undefined ? null : Math.max(0, seconds(nowMs - rotatedAtMs));
  const dueInSeconds = rotatedAtMs === undefined ? null : seconds(rotatedAtMs + binding.periodMs - nowMs);
  const periodSeconds = seconds(binding.periodMs);
  const graceSeconds = seconds(binding.graceMs);
  const phaseAgeSeconds =
    phase === 'idle' || claimedAtMs === undefined ? null : Math.max(0, seconds(nowMs - claimedAtMs));
  const claimTtlSeconds = seconds(claimTtlMs);
  const fields: RotationHealth = {
    event: 'rotation_health',
    secret,
    kind: binding.kind,
    outcome,
    phase,
    credentialAgeSeconds,
    dueInSeconds,
    periodSeconds,
    graceSeconds,
    phaseAgeSeconds,
    claimTtlSeconds,
    overdue: phase === 'idle' && dueInSeconds !== null && dueInSeconds < -graceSeconds,
    stuck: phaseAgeSeconds !== null && phaseAgeSeconds > claimTtlSeconds,
    credentialTooOld: credentialAgeSeconds !== null && credentialAgeSeconds > periodSeconds + graceSeconds,
  };
  const lastError = error ?? (state?.lastError ? { code: 'UNKNOWN', reason: state.lastError } : undefined);
  if (lastError) fields.lastError = { code: lastError.code, reason: lastError.reason };
  const severity: Severity = outcome === 'failed' ? 'ERROR' : fields.overdue ? 'WARNING' : 'INFO';
  return { severity, fields };
}

/**
 * The run's outcome in the contract's terms: a completed rotation is `rotated`; a step of a
 * rotation still under way (retire/purge pending, a grace running, another run holding the claim)
 * is `in_progress`, or `not_due` once the secret is idle again; a dry run or an ignored event is
 * `skipped`; a failure or a rollback is `failed`.
 */
export function healthOutcome(report: Pick<SecretReport, 'outcome' | 'phase'>): RotationOutcome {
  switch (report.outcome) {
    case 'rotated':
      return 'rotated';
    case 'not-due':
      return 'not_due';
    case 'failed':
    case 'rolled-back':
      return 'failed';
    case 'planned':
    case 'ignored':
      return 'skipped';
    default:
      return report.phase === undefined || report.phase === 'idle' ? 'not_due' : 'in_progress';
  }
}
