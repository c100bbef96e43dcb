import { describe, expect, it } from 'vitest';
import { rotationHealth } from '../../../../functions/rotate/rotation-health.js';
import type { RotationState } from '../../../../functions/rotate/state.js';
import type { RotationBinding } from '../../../../shared/rotation-binding.js';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const DAY = 86_400_000;
const BINDING: RotationBinding = {
  kind: 'sa-key',
  target: 'svc-abcde@proj-abcde.iam.gserviceaccount.com',
  periodMs: 30 * DAY,
  graceMs: 2 * DAY,
};
const SECRET = 'projects/p/secrets/s';
const TTL = 600_000;
const idle = (extra: Partial<RotationState> = {}): RotationState => ({
  phase: 'idle',
  generation: 1,
  ...extra,
});

describe('rotationHealth', () => {
  it('an idle secret rotated 10 days ago: exact fields, INFO, no phase age, no lastError', () => {
    expect(
      rotationHealth(SECRET, idle({ rotatedAtMs: NOW - 10 * DAY }), BINDING, NOW, 'not_due', TTL),
    ).toEqual({
      severity: 'INFO',
      fields: {
        event: 'rotation_health',
        secret: SECRET,
        kind: 'sa-key',
        outcome: 'not_due',
        phase: 'idle',
        credentialAgeSeconds: 10 * 86_400,
        dueInSeconds: 20 * 86_400,
        periodSeconds: 30 * 86_400,
        graceSeconds: 2 * 86_400,
        phaseAgeSeconds: null,
        claimTtlSeconds: 600,
        overdue: false,
        stuck: false,
        credentialTooOld: false,
      },
    });
  });

  it('decides overdue, stuck and credentialTooOld at their exact boundaries (a log filter cannot compare fields)', () => {
    const at = (ageMs: number) =>
      rotationHealth(SECRET, idle({ rotatedAtMs: NOW - ageMs }), BINDING, NOW, 'skipped', TTL).fields;
    // period 30 d + grace 2 d: overdue and too old only past 32 days.
    expect(at(32 * DAY)).toMatchObject({ overdue: false, credentialTooOld: false });
    expect(at(32 * DAY + 1000)).toMatchObject({ overdue: true, credentialTooOld: true });
    const held = (heldMs: number) =>
      rotationHealth(
        SECRET,
        {
          phase: 'verifying',
          generation: 2,
          rotatedAtMs: NOW - DAY,
          claim: { expiresAtMs: NOW - heldMs + TTL },
        } as RotationState,
        BINDING,
        NOW,
        'in_progress',
        TTL,
      ).fields;
    expect(held(TTL)).toMatchObject({ phaseAgeSeconds: 600, stuck: false });
    expect(held(TTL + 1000)).toMatchObject({ phaseAgeSeconds: 601, stuck: true });
    expect(held(TTL + 1000).overdue).toBe(false);
  });

  it('a rotation under way with an old credential is too old but not overdue (a run has started it)', () => {
    const state = {
      phase: 'verifying',
      generation: 2,
      rotatedAtMs: NOW - 40 * DAY,
      claim: { expiresAtMs: NOW + TTL },
    } as RotationState;
    const { severity, fields } = rotationHealth(SECRET, state, BINDING, NOW, 'in_progress', TTL);
    expect(fields).toMatchObject({ overdue: false, credentialTooOld: true, dueInSeconds: -10 * 86_400 });
    expect(severity).toBe('INFO');
  });

  it('overdue by more than the grace is WARNING; overdue within grace is INFO', () => {
    const over = rotationHealth(SECRET, idle({ rotatedAtMs: NOW - 33 * DAY }), BINDING, NOW, 'skipped', TTL);
    expect(over.severity).toBe('WARNING');
    expect(over.fields.dueInSeconds).toBe(-3 * 86_400);
    const within = rotationHealth(
      SECRET,
      idle({ rotatedAtMs: NOW - 31 * DAY }),
      BINDING,
      NOW,
      'skipped',
      TTL,
    );
    expect(within.severity).toBe('INFO');
  });

  it('a failed run is ERROR with lastError; a never-rotated secret has null ages', () => {
    const failed = rotationHealth(SECRET, undefined, BINDING, NOW, 'failed', TTL, {
      code: 'UNAVAILABLE',
      reason: 'UPSTREAM_UNAVAILABLE',
    });
    expect(failed.severity).toBe('ERROR');
    expect(failed.fields).toMatchObject({
      credentialAgeSeconds: null,
      dueInSeconds: null,
      phase: 'idle',
      lastError: { code: 'UNAVAILABLE', reason: 'UPSTREAM_UNAVAILABLE' },
    });
  });

  it('a run in a phase reports how long its claim has been held', () => {
    const state: RotationState = {
      phase: 'verifying',
      generation: 2,
      claim: { owner: 'run-1', expiresAtMs: NOW + TTL - 90_000 },
      rotatedAtMs: NOW - 31 * DAY,
    };
    const h = rotationHealth(SECRET, state, BINDING, NOW, 'in_progress', TTL);
    expect(h.fields.phase).toBe('verifying');
    expect(h.fields.phaseAgeSeconds).toBe(90);
    expect(h.fields).not.toHaveProperty('lastError');
    const released = rotationHealth(
      SECRET,
      { phase: 'retiring', generation: 2, rotatedAtMs: NOW - 60_000 },
      BINDING,
      NOW,
      'in_progress',
      TTL,
    );
    expect(released.fields.phaseAgeSeconds).toBe(60);
  });
});
