import { describe, expect, it } from 'vitest';
import { FailedPreconditionError, UnavailableError } from '../../../../shared/errors.js';
import type { Step } from '../../../../functions/rotate/report.js';
import { CLAIM_TTL_MS, GRACE_MS, HOUR, managedSecret, PERIOD_MS } from './support/setup.js';

const MODES = [['sa'], ['api']] as const;

describe('reconcileSecret: a full rotation', () => {
  it.each(MODES)(
    'rotates a %s credential, then retires the old one only after each grace period',
    async (mode) => {
      const t = managedSecret(mode);
      const first = await t.run();
      expect(first).toMatchObject({
        outcome: 'rotated',
        phase: 'retiring',
        oldKeyId: t.originalKey,
        newVersion: 2,
        actions: ['claim', 'create', 'store', 'verify', 'promote'],
      });
      const newKey = first.newKeyId!;
      expect(t.secrets.currentPayload(t.name)).toBe(`secret:${newKey}`);
      expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2, previous: 1 });
      expect(t.keys.keys.get(t.originalKey)).toBe('enabled');

      t.clock.advance(GRACE_MS - 1);
      expect(await t.run()).toMatchObject({
        outcome: 'waiting',
        actions: [],
        nextActionAt: new Date(t.clock.now() + 1).toISOString(),
      });
      expect(t.keys.keys.get(t.originalKey)).toBe('enabled');

      t.clock.advance(1);
      expect(await t.run()).toMatchObject({
        outcome: 'retired',
        phase: 'purging',
        actions: ['claim', 'disable'],
      });
      expect(t.keys.keys.get(t.originalKey)).toBe(mode === 'sa' ? 'disabled' : 'enabled'); // API Keys v2 cannot disable
      expect(t.secrets.secret(t.name).versions[0].state).toBe('DISABLED');

      t.clock.advance(GRACE_MS);
      expect(await t.run()).toMatchObject({ outcome: 'purged', phase: 'idle', actions: ['claim', 'delete'] });
      expect(t.keys.keys.get(t.originalKey)).toBe('deleted');
      expect(t.secrets.secret(t.name).versions[0].state).toBe('DESTROYED');
      expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2 });
      expect(t.keys.live()).toEqual([newKey]);
      expect(t.state()).toEqual({
        phase: 'idle',
        generation: 1,
        currentKey: newKey,
        rotatedAtMs: t.clock.now() - 2 * GRACE_MS,
      });
      expect(t.secrets.secret(t.name).info.annotations['other.tool']).toBe('kept');

      expect(await t.run()).toMatchObject({ outcome: 'not-due', actions: [] });
      t.clock.advance(PERIOD_MS - 2 * GRACE_MS);
      expect(await t.run()).toMatchObject({ outcome: 'rotated', oldKeyId: newKey, newVersion: 3 });
    },
  );

  it('writes one audit entry per action, with ids and never a payload', async () => {
    const t = managedSecret('sa');
    const report = await t.run();
    expect(t.audit.entries.map((e) => e.step)).toEqual(['claim', 'create', 'store', 'verify', 'promote']);
    expect(t.audit.entries.find((e) => e.step === 'promote')!.fields).toMatchObject({
      secret: 'my-secret',
      newKeyId: report.newKeyId,
      oldKeyId: 'k0',
      version: 2,
    });
    expect(JSON.stringify(t.audit.entries)).not.toContain('secret:');
  });

  it('is not due within the period and rotates when forced', async () => {
    const t = managedSecret('sa');
    await t.run();
    t.clock.advance(GRACE_MS);
    await t.run();
    t.clock.advance(GRACE_MS);
    expect(await t.run()).toMatchObject({ outcome: 'purged' });
    expect(await t.run()).toMatchObject({ outcome: 'not-due' });
    expect(await t.run({ force: true })).toMatchObject({ outcome: 'rotated', newVersion: 3 });
  });

  it('does not start a rotation while the previous one is still retiring, even when forced', async () => {
    const t = managedSecret('api');
    await t.run();
    expect(await t.run({ force: true })).toMatchObject({ outcome: 'waiting', phase: 'retiring' });
    expect(t.keys.creates).toBe(1);
  });
});

describe('reconcileSecret: dry run', () => {
  it.each(MODES)('changes nothing for %s and reports the plan', async (mode) => {
    const t = managedSecret(mode);
    const before = structuredClone(t.secrets.secret(t.name).info);
    const report = await t.run({ dryRun: true });
    expect(report.outcome).toBe('planned');
    expect(report.plan!.join('\n')).toMatch(/create a new .*\n.*store it as a new secret version/);
    expect(report.actions).toEqual([]);
    expect(t.secrets.secret(t.name).info).toEqual(before);
    expect(t.secrets.writes).toBe(0);
    expect(t.keys.creates).toBe(0);
    expect(t.audit.entries).toEqual([]);
  });
});

describe('reconcileSecret: crashes', () => {
  const STEPS: Step[] = ['claim', 'create', 'store', 'verify', 'promote', 'disable', 'delete'];
  const matrix = MODES.flatMap(([mode]) => STEPS.map((step) => [mode, step] as const));

  it.each(matrix)(
    '%s: a run killed right after %s, run again, converges to one new credential',
    async (mode, step) => {
      const t = managedSecret(mode);
      let crashed = 0;
      const afterStep = (s: Step) => {
        if (s === step && crashed === 0) {
          crashed++;
          throw new Error('killed');
        }
      };
      const outcomes: string[] = [];
      for (let i = 0; i < 8; i++) {
        try {
          outcomes.push((await t.run({ afterStep })).outcome);
        } catch (err) {
          expect((err as Error).message).toBe('killed');
          outcomes.push('crash');
        }
        // Past the dead run's claim and past each grace period.
        t.clock.advance(Math.max(GRACE_MS, CLAIM_TTL_MS) + 1);
      }
      expect(crashed).toBe(1);
      if (step !== 'promote') expect(outcomes).toContain('rotated');
      expect(outcomes).toContain('purged');
      const state = t.state();
      expect(state).toMatchObject({ phase: 'idle', generation: 1 });
      expect(state.claim).toBeUndefined();
      // Exactly one live key: the new one, which the current version holds; nothing orphaned.
      expect(t.keys.live()).toEqual([state.currentKey]);
      expect(state.currentKey).not.toBe(t.originalKey);
      expect(t.secrets.currentPayload(t.name)).toBe(`secret:${state.currentKey}`);
      expect(t.keys.keys.get(t.originalKey)).toBe('deleted');
      const versions = t.secrets.secret(t.name).versions.map((v) => v.state);
      expect(versions.filter((s) => s === 'ENABLED')).toHaveLength(1);
      if (mode === 'api') expect(t.keys.creates).toBeLessThanOrEqual(2); // a retried create reuses its key id
    },
  );

  it('keeps serving the old credential while a crashed rotation waits to be resumed', async () => {
    const t = managedSecret('sa');
    await expect(
      t.run({
        afterStep: (s) => {
          if (s === 'store') throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(t.secrets.currentPayload(t.name)).toBe('secret:k0');
    // The dead run's claim still holds: a new run is turned away until it expires.
    expect(await t.run()).toMatchObject({ outcome: 'busy' });
    t.clock.advance(CLAIM_TTL_MS + 1);
    const resumed = await t.run();
    expect(resumed).toMatchObject({
      outcome: 'rotated',
      actions: ['claim', 'discard-version', 'delete-orphan', 'create', 'store', 'verify', 'promote'],
    });
    expect(t.keys.live().sort()).toEqual(['k0', resumed.newKeyId].sort());
  });
});

describe('reconcileSecret: concurrency', () => {
  it.each(MODES)('%s: of two concurrent runs one rotates and the other reports busy', async (mode) => {
    const t = managedSecret(mode);
    const [a, b] = await Promise.all([t.run({ owner: 'run-a' }), t.run({ owner: 'run-b' })]);
    expect([a.outcome, b.outcome].sort()).toEqual(['busy', 'rotated']);
    expect(t.keys.creates).toBe(1);
    expect(t.secrets.secret(t.name).versions).toHaveLength(2);
  });
});

describe('reconcileSecret: SECRET_ROTATE notices', () => {
  it('rotates on a notice, and ignores duplicates and late deliveries', async () => {
    const t = managedSecret('sa');
    // Rotated and retired once; a period later Secret Manager announces the next rotation.
    await t.run();
    t.clock.advance(GRACE_MS);
    await t.run();
    t.clock.advance(GRACE_MS);
    expect(await t.run()).toMatchObject({ outcome: 'purged' });
    const noticeAt = t.clock.now() + PERIOD_MS - 2 * GRACE_MS;
    expect(await t.run({ eventTimeMs: t.clock.now() - 1000 })).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('rotated recently'),
    });
    t.clock.set(noticeAt + 1000);
    const [first, duplicate] = await Promise.all([
      t.run({ eventTimeMs: noticeAt, owner: 'e1' }),
      t.run({ eventTimeMs: noticeAt, owner: 'e2' }),
    ]);
    expect([first.outcome, duplicate.outcome].sort()).toEqual(['busy', 'rotated']);
    const creates = t.keys.creates;
    t.clock.advance(HOUR);
    expect(await t.run({ eventTimeMs: noticeAt })).toMatchObject({ outcome: 'waiting' });
    t.clock.advance(GRACE_MS);
    expect(await t.run()).toMatchObject({ outcome: 'retired' });
    t.clock.advance(GRACE_MS);
    expect(await t.run()).toMatchObject({ outcome: 'purged' });
    expect(await t.run({ eventTimeMs: noticeAt })).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('after the notice'),
    });
    expect(await t.run({ eventTimeMs: noticeAt - PERIOD_MS })).toMatchObject({ outcome: 'ignored' });
    expect(t.keys.creates).toBe(creates);
  });

  it('rotates a never-rotated secret on its first notice', async () => {
    const t = managedSecret('api');
    expect(await t.run({ eventTimeMs: t.clock.now() })).toMatchObject({ outcome: 'rotated' });
  });
});

describe('reconcileSecret: key cap and refusals', () => {
  it('fails clearly when the service account is at its key cap with no orphan, losing nothing', async () => {
    const t = managedSecret('sa');
    for (let i = 0; i < 9; i++) t.keys.seed(`foreign${i}`);
    const report = await t.run();
    expect(report).toMatchObject({
      outcome: 'failed',
      phase: 'idle',
      error: { code: 'FAILED_PRECONDITION', reason: 'KEY_CAP' },
    });
    expect(t.keys.creates).toBe(0);
    expect(t.keys.live()).toHaveLength(10);
    expect(t.secrets.currentPayload(t.name)).toBe('secret:k0');
    expect(t.state()).toMatchObject({ phase: 'idle', lastError: 'KEY_CAP', currentKey: 'k0' });
    expect(t.state().claim).toBeUndefined();
  });

  it('cleans an orphan left by a crashed run to get under the cap, then rotates', async () => {
    const t = managedSecret('sa');
    for (let i = 0; i < 8; i++) t.keys.seed(`foreign${i}`);
    await expect(
      t.run({
        afterStep: (s) => {
          if (s === 'create') throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(t.keys.live()).toHaveLength(10);
    t.clock.advance(CLAIM_TTL_MS + 1);
    const report = await t.run();
    expect(report).toMatchObject({
      outcome: 'rotated',
      actions: ['claim', 'delete-orphan', 'create', 'store', 'verify', 'promote'],
    });
    expect(t.keys.live()).toHaveLength(10);
    expect(t.keys.live().filter((k) => k.startsWith('foreign'))).toHaveLength(8);
  });

  it('reports an organization policy refusal once and returns to idle', async () => {
    const t = managedSecret('sa');
    t.keys.refuseCreate = new FailedPreconditionError('org policy', {
      reason: 'ORG_POLICY_BLOCKS_KEY_CREATION',
    });
    expect(await t.run()).toMatchObject({
      outcome: 'failed',
      phase: 'idle',
      error: { reason: 'ORG_POLICY_BLOCKS_KEY_CREATION' },
    });
    expect(t.audit.entries.filter((e) => !e.ok)).toHaveLength(1);
  });
});

describe('reconcileSecret: verification failure', () => {
  it.each(MODES)('%s: rolls back, leaving the old credential untouched and current', async (mode) => {
    const t = managedSecret(mode);
    t.keys.failVerify = true;
    const report = await t.run();
    expect(report).toMatchObject({
      outcome: 'rolled-back',
      phase: 'idle',
      actions: ['claim', 'create', 'store', 'rollback'],
      error: { reason: 'VERIFY_FAILED' },
    });
    expect(t.secrets.currentPayload(t.name)).toBe(`secret:${t.originalKey}`);
    expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 1 });
    expect(t.secrets.secret(t.name).versions[1].state).toBe('DISABLED');
    expect(t.keys.keys.get(report.newKeyId!)).toBe('deleted');
    expect(t.keys.keys.get(t.originalKey)).toBe('enabled');
    expect(t.state()).toMatchObject({ phase: 'idle', lastError: 'VERIFY_FAILED', currentKey: t.originalKey });
    // The next run tries again with a fresh credential.
    t.keys.failVerify = false;
    expect(await t.run()).toMatchObject({ outcome: 'rotated', newVersion: 3 });
  });
});

describe('reconcileSecret: corrupt state', () => {
  it('reports a secret whose state annotations are unreadable without touching it', async () => {
    const t = managedSecret('sa');
    t.secrets.secret(t.name).info.annotations['tvs.rotation.phase'] = 'rotating';
    expect(await t.run()).toMatchObject({
      outcome: 'failed',
      error: { reason: 'MISCONFIGURED', message: expect.stringContaining('phase') },
    });
    expect(t.secrets.writes).toBe(0);
  });
});

type Managed = ReturnType<typeof managedSecret>;

let edits = 0;

/** Another tool edits the secret's own annotations: its etag changes under the run. */
function editElsewhere(t: Managed) {
  const s = t.secrets.secret(t.name);
  s.info = {
    ...s.info,
    annotations: { ...s.info.annotations, 'other.tool': 'edited' },
    etag: `"edited-${++edits}"`,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('reconcileSecret: the report', () => {
  it('names the keys, the new version and when the old credential may be retired, and nothing else', async () => {
    const t = managedSecret('sa');
    const report = await t.run();
    const newKey = t.state().currentKey!;
    expect(newKey).not.toBe('k0');
    expect(report).toEqual({
      secret: 'my-secret',
      kind: 'sa-key',
      outcome: 'rotated',
      phase: 'retiring',
      actions: ['claim', 'create', 'store', 'verify', 'promote'],
      currentKeyId: newKey,
      newKeyId: newKey,
      oldKeyId: 'k0',
      newVersion: 2,
      nextActionAt: iso(t.clock.now() + GRACE_MS),
    });
  });

  it('a forced run that rotates a secret with nothing to retire rotates it once, not again', async () => {
    const t = managedSecret('api');
    const s = t.secrets.secret(t.name);
    s.versions = [];
    s.info.aliases = {};
    expect(await t.run({ force: true })).toEqual({
      secret: 'my-secret',
      kind: 'api-key',
      outcome: 'rotated',
      phase: 'idle',
      actions: ['claim', 'create', 'store', 'verify', 'promote'],
      currentKeyId: 'key-g1',
      newKeyId: 'key-g1',
      newVersion: 1,
      nextActionAt: iso(t.clock.now() + PERIOD_MS),
    });
    expect(t.keys.creates).toBe(1);
    expect(t.state()).toMatchObject({ phase: 'idle', generation: 1 });
  });

  it('rolled back: tells the caller the new credential was removed and the current one kept', async () => {
    const t = managedSecret('api');
    t.keys.failVerify = true;
    expect((await t.run()).error).toEqual({
      code: 'FAILED_PRECONDITION',
      reason: 'VERIFY_FAILED',
      message: 'The new credential did not work; it was removed and the current one kept.',
    });
  });

  it('busy: names the run holding the claim and when its claim expires', async () => {
    const t = managedSecret('sa');
    const afterStep = (s: Step) => {
      if (s === 'store') throw new Error('killed');
    };
    await expect(t.run({ owner: 'run-a', afterStep })).rejects.toThrow('killed');
    expect(await t.run({ owner: 'run-b' })).toEqual({
      secret: 'my-secret',
      kind: 'sa-key',
      outcome: 'busy',
      phase: 'creating',
      actions: [],
      currentKeyId: 'k0',
      reason: `another run (run-a) holds the claim until ${iso(t.clock.now() + CLAIM_TTL_MS)}`,
    });
  });

  it('misconfigured: says so, with what is wrong, and audits the refusal', async () => {
    const t = managedSecret('sa');
    t.secrets.secret(t.name).info.annotations['tvs.rotation.phase'] = 'rotating';
    expect((await t.run()).error).toEqual({
      code: 'FAILED_PRECONDITION',
      reason: 'MISCONFIGURED',
      message: expect.stringMatching(
        /^The secret is not configured for rotation correctly\. bad rotation state: tvs\.rotation\.phase: /,
      ),
    });
    expect(t.audit.entries).toEqual([
      { step: 'run', ok: false, reason: 'MISCONFIGURED', fields: { secret: 'my-secret' } },
    ]);
  });
});

describe('reconcileSecret: failures and lost compare-and-swaps', () => {
  it('a run that fails before it claims the secret reports and audits it, and writes nothing', async () => {
    const t = managedSecret('sa');
    t.secrets.listVersions = () =>
      Promise.reject(
        new UnavailableError('Secret Manager is unavailable.', { reason: 'SECRET_MANAGER_UNAVAILABLE' }),
      );
    expect(await t.run()).toEqual({
      secret: 'my-secret',
      kind: 'sa-key',
      outcome: 'failed',
      phase: 'idle',
      actions: [],
      error: {
        code: 'UNAVAILABLE',
        reason: 'SECRET_MANAGER_UNAVAILABLE',
        message: 'Secret Manager is unavailable.',
      },
    });
    expect(t.audit.entries).toEqual([
      {
        step: 'run',
        ok: false,
        reason: 'SECRET_MANAGER_UNAVAILABLE',
        fields: { secret: 'my-secret', kind: 'sa-key', phase: 'idle' },
      },
    ]);
    expect(t.secrets.writes).toBe(0);
  });

  it('sa: a lost compare-and-swap mid-create is retried; the unrecorded key and each foreign key are reported once', async () => {
    const t = managedSecret('sa');
    await expect(
      t.run({
        afterStep: (s) => {
          if (s === 'claim') throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    t.keys.seed('break-glass'); // an operator's key, made after the claim
    t.clock.advance(CLAIM_TTL_MS + 1);
    // The key is made, then another tool edits the secret before the run records the key.
    const create = t.keys.create.bind(t.keys);
    const made: string[] = [];
    t.keys.create = async (...args) => {
      const key = await create(...args);
      if (made.push(key.keyId) === 1) editElsewhere(t);
      return key;
    };
    const report = await t.run();
    expect(made).toHaveLength(2);
    expect(report).toMatchObject({
      outcome: 'rotated',
      actions: ['claim', 'create', 'store', 'verify', 'promote'],
      newKeyId: made[1],
      foreignKeyIds: ['break-glass', made[0]],
    });
    expect(t.keys.keys.get(made[0])).toBe('enabled');
    expect(t.keys.keys.get('break-glass')).toBe('enabled');
  });

  it('gives up after 12 moves when every write loses its compare-and-swap, having created nothing, and audits the failure', async () => {
    const t = managedSecret('sa');
    const update = t.secrets.update.bind(t.secrets);
    let attempts = 0;
    t.secrets.update = async (...args) => {
      attempts++;
      editElsewhere(t);
      return update(...args);
    };
    expect(await t.run()).toEqual({
      secret: 'my-secret',
      kind: 'sa-key',
      outcome: 'failed',
      phase: 'idle',
      actions: [],
      error: {
        code: 'ABORTED',
        reason: 'ROTATION_TOO_MANY_MOVES',
        message: 'Too many moves in one run (12); the secret kept changing.',
      },
    });
    expect(t.audit.entries).toEqual([
      {
        step: 'run',
        ok: false,
        reason: 'ROTATION_TOO_MANY_MOVES',
        fields: { secret: 'my-secret', kind: 'sa-key', phase: 'idle' },
      },
    ]);
    expect(attempts).toBe(12);
    expect(t.keys.creates).toBe(0);
    expect(t.state()).toEqual({ phase: 'idle', generation: 0 });
  });
});
