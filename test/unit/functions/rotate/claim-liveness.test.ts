/**
 * Destructive steps only under a live claim, and only on keys the rotator can prove it made:
 * interleavings of two runs whose claims expire mid-step, operators' keys made while a crashed
 * run waited, and keys created but never recorded.
 */
import { describe, expect, it } from 'vitest';
import type { Step } from '../../../../functions/rotate/report.js';
import { CLAIM_TTL_MS, GRACE_MS, managedSecret } from './support/setup.js';

const MODES = [['sa'], ['api']] as const;
const DESTRUCTIVE = new Set(['destroy', 'disable', 'key-delete', 'key-disable']);

/** A latch: `wait()` blocks until `open()`. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait: () => opened, open: () => open() };
}

describe("two runs: the older one's claim expires during its verify", () => {
  it.each(MODES)('%s: the older run does not delete or disable what the newer run promoted', async (mode) => {
    const t = managedSecret(mode);
    // Run A stalls in verify past its claim; run B resumes the rotation, verifies and promotes it.
    const stall = latch();
    let calls = 0;
    t.keys.verifyGate = async () => {
      if (++calls === 1) {
        await stall.wait();
        t.keys.failVerify = true; // A's verify then fails (a timeout, say): it wants to roll back
      }
    };
    const a = t.run({ owner: 'run-a' });
    await expect.poll(() => calls).toBe(1);
    t.clock.advance(CLAIM_TTL_MS + 1);
    const b = await t.run({ owner: 'run-b' });
    expect(b).toMatchObject({ outcome: 'rotated', phase: 'retiring' });
    const promoted = b.newKeyId!;

    stall.open();
    const late = await a;
    expect(late.outcome).not.toBe('rolled-back');
    expect(t.keys.keys.get(promoted)).toBe('enabled');
    expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2, previous: 1 });
    expect(t.secrets.secret(t.name).versions.map((v) => v.state)).toEqual(['ENABLED', 'ENABLED']);
    t.keys.failVerify = false;
    expect(t.state()).toMatchObject({ phase: 'retiring', currentKey: promoted });
  });

  it('the older run makes no destructive call on its stale view once a newer run has retired the key', async () => {
    const t = managedSecret('sa');
    expect(await t.run()).toMatchObject({ outcome: 'rotated' });
    t.clock.advance(GRACE_MS);
    // Run A claims the retirement and stalls right after its claim (slow, or paused by the platform).
    const stall = latch();
    const a = t.run({
      owner: 'run-a',
      afterStep: async (step) => {
        if (step === 'claim') await stall.wait();
      },
    });
    await expect.poll(() => t.state().claim?.owner).toBe('run-a');
    t.clock.advance(CLAIM_TTL_MS + 1);
    expect(await t.run({ owner: 'run-b' })).toMatchObject({ outcome: 'retired', phase: 'purging' });
    const writes = t.secrets.log.length;
    stall.open();
    expect((await a).outcome).not.toBe('retired');
    // Nothing destructive after B finished: A's re-assertion of its claim lost.
    expect(t.secrets.log.slice(writes).filter((w) => DESTRUCTIVE.has(w))).toEqual([]);
  });
});

describe('every destructive call follows a claim-renewing compare-and-swap', () => {
  it.each(MODES)('%s: across a rotation with a crash, a rollback and the retirement', async (mode) => {
    const t = managedSecret(mode);
    let crash: Step | undefined = 'store';
    const afterStep = (step: Step) => {
      if (step === crash) {
        crash = undefined;
        throw new Error('killed');
      }
    };
    await expect(t.run({ afterStep })).rejects.toThrow('killed');
    t.clock.advance(CLAIM_TTL_MS + 1);
    t.keys.failVerify = true;
    expect(await t.run()).toMatchObject({ outcome: 'rolled-back' });
    t.keys.failVerify = false;
    expect(await t.run()).toMatchObject({ outcome: 'rotated' });
    t.clock.advance(GRACE_MS);
    expect(await t.run()).toMatchObject({ outcome: 'retired' });
    t.clock.advance(GRACE_MS);
    expect(await t.run()).toMatchObject({ outcome: 'purged' });

    const log = t.secrets.log;
    const destructive = log.map((w, i) => [w, i] as const).filter(([w]) => DESTRUCTIVE.has(w));
    expect(destructive.length).toBeGreaterThanOrEqual(mode === 'sa' ? 6 : 4);
    for (const [w, i] of destructive) expect(`${log[i - 1]} before ${w}`).toBe(`update before ${w}`);
  });
});

describe('only keys the rotator can prove it made are deleted', () => {
  it('an operator key made while a crashed run waited survives the resume, and is reported', async () => {
    const t = managedSecret('sa');
    await expect(
      t.run({
        afterStep: (s) => {
          if (s === 'create') throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const orphan = t.state().newKey!;
    expect(orphan).toBeDefined(); // recorded right after create, before the version was stored
    const breakGlass = t.keys.seed('break-glass'); // an operator's key, made during the outage
    t.clock.advance(CLAIM_TTL_MS + 1);
    const resumed = await t.run();
    expect(resumed).toMatchObject({ outcome: 'rotated', foreignKeyIds: ['break-glass'] });
    expect(t.keys.keys.get(breakGlass)).toBe('enabled');
    expect(t.keys.keys.get(orphan)).toBe('deleted');
    expect(t.audit.entries.find((e) => e.reason === 'FOREIGN_KEY_KEPT')).toMatchObject({
      fields: { keyId: 'break-glass' },
    });
    expect(t.audit.entries.find((e) => e.reason === 'ORPHAN_KEY_DELETED')).toMatchObject({
      fields: { keyId: orphan },
    });
  });

  it('a key created but never recorded (the run died in between) is reported, never deleted', async () => {
    const t = managedSecret('sa');
    t.keys.loseNextCreate = true;
    expect(await t.run()).toMatchObject({ outcome: 'failed', phase: 'creating' });
    const unrecorded = t.keys.live().find((k) => k !== t.originalKey)!;
    expect(t.state().newKey).toBeUndefined();
    const resumed = await t.run();
    expect(resumed).toMatchObject({ outcome: 'rotated', foreignKeyIds: [unrecorded] });
    expect(t.keys.keys.get(unrecorded)).toBe('enabled');
  });

  it('api: a retried create adopts the recorded key instead of deleting it', async () => {
    const t = managedSecret('api');
    await expect(
      t.run({
        afterStep: (s) => {
          if (s === 'create') throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const recorded = t.state().newKey!;
    t.clock.advance(CLAIM_TTL_MS + 1);
    expect(await t.run()).toMatchObject({ outcome: 'rotated', newKeyId: recorded });
    expect(t.keys.keys.get(recorded)).toBe('enabled');
  });
});
