/** When a secret's next step falls due, from its state, its config and the trigger. */
import type { SecretSession } from './secret-session.js';

export type Move =
  | { kind: 'act'; reason: string }
  | { kind: 'wait'; outcome: 'not-due' | 'waiting' | 'ignored'; reason: string; atMs?: number };

export interface MoveOptions {
  force?: boolean;
  eventTimeMs?: number;
  /** A rotation was promoted earlier in this run: never start another. */
  rotatedThisRun?: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function nextMove(session: SecretSession, nowMs: number, options: MoveOptions): Move {
  const { state, config } = session;
  switch (state.phase) {
    case 'creating':
    case 'verifying':
      return { kind: 'act', reason: `resume the rotation in phase ${state.phase}` };
    case 'retiring': {
      const atMs = (state.rotatedAtMs ?? 0) + config.graceMs;
      return nowMs >= atMs
        ? { kind: 'act', reason: 'grace period over: disable the old credential' }
        : { kind: 'wait', outcome: 'waiting', reason: 'old credential in its grace period', atMs };
    }
    case 'purging': {
      const atMs = (state.disabledAtMs ?? 0) + config.graceMs;
      return nowMs >= atMs
        ? { kind: 'act', reason: 'second grace period over: delete the old credential' }
        : { kind: 'wait', outcome: 'waiting', reason: 'old credential disabled, awaiting deletion', atMs };
    }
    case 'idle':
      break;
  }
  const rotatedAt = state.rotatedAtMs;
  const dueAt = rotatedAt === undefined ? undefined : rotatedAt + config.periodMs;
  if (options.rotatedThisRun)
    return {
      kind: 'wait',
      outcome: 'not-due',
      reason: 'rotated in this run',
      ...(dueAt !== undefined ? { atMs: dueAt } : {}),
    };
  if (options.eventTimeMs !== undefined) {
    // Notices are delivered at least once and possibly late: one already acted on, or one that
    // arrives within half a period of the last rotation, needs nothing.
    if (rotatedAt !== undefined && rotatedAt >= options.eventTimeMs)
      return {
        kind: 'wait',
        outcome: 'ignored',
        reason: `rotated at ${iso(rotatedAt)}, after the notice`,
        atMs: dueAt,
      };
    if (rotatedAt !== undefined && nowMs < rotatedAt + config.periodMs / 2)
      return {
        kind: 'wait',
        outcome: 'ignored',
        reason: `rotated recently (${iso(rotatedAt)})`,
        atMs: dueAt,
      };
    return { kind: 'act', reason: 'SECRET_ROTATE notice' };
  }
  if (options.force) return { kind: 'act', reason: 'forced' };
  if (dueAt === undefined) return { kind: 'act', reason: 'never rotated by this service' };
  return nowMs >= dueAt
    ? { kind: 'act', reason: 'rotation period elapsed' }
    : { kind: 'wait', outcome: 'not-due', reason: 'rotation period not elapsed', atMs: dueAt };
}
