/** Issue 16: a forced rotation run writes exactly one rotation_health ops line per managed secret. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEmulatorMetadata } from '../../../support/google-env.js';
import {
  API_SECRET,
  GRACE_MS,
  PERIOD_MS,
  ROTATION_BINDINGS,
  SA_SECRET,
  startRotationStack,
  type RotationStack,
} from './support/rotation-stack.js';

let t: RotationStack;
let restoreEnv: () => void;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  t = await startRotationStack({
    opsLogWrite: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  restoreEnv = useEmulatorMetadata(t.stack.emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await t?.stack.stop();
});

describe('rotation_health', () => {
  it('a forced sweep writes one line per managed secret with the contract fields', async () => {
    const before = lines.length;
    await t.stack.rotation.runSweep({ force: true });
    const health = lines.slice(before).filter((l) => l.event === 'rotation_health');
    expect(health.map((l) => l.secret).sort()).toEqual([API_SECRET, SA_SECRET].sort());
    expect(Object.keys(ROTATION_BINDINGS).length).toBe(2);
    for (const line of health) {
      expect(line).toMatchObject({
        component: 'rotate',
        event: 'rotation_health',
        periodSeconds: PERIOD_MS / 1000,
        graceSeconds: GRACE_MS / 1000,
        claimTtlSeconds: expect.any(Number) as number,
      });
      expect(['rotated', 'in_progress', 'not_due', 'failed', 'skipped']).toContain(line.outcome);
      expect(typeof line.phase).toBe('string');
      expect(line.severity).toBe(line.outcome === 'failed' ? 'ERROR' : 'INFO');
      if (line.outcome === 'rotated') {
        expect(line.credentialAgeSeconds).toBe(0);
        expect(line.dueInSeconds).toBe(PERIOD_MS / 1000);
      }
      expect(
        line.phase === 'idle' ? line.phaseAgeSeconds === null : typeof line.phaseAgeSeconds === 'number',
      ).toBe(true);
    }
  });
});
