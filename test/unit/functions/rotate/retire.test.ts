/**
 * Retirement never breaks `current`: an operator who rolls back while the old credential is
 * retiring (docs/rotation.md › Rolling back, step 1: point `current` at the old version) keeps a working
 * credential — the version `current` names is neither disabled nor destroyed, and its key is not
 * deleted — whatever the rotation state still says.
 */
import { describe, expect, it } from 'vitest';
import { GRACE_MS, managedSecret, PERIOD_MS } from './support/setup.js';

/** Rotates, then moves `current` back to version 1 as the operator's rollback does. */
async function rotatedThenRolledBack(mode: 'sa' | 'api') {
  const t = managedSecret(mode);
  expect(await t.run({ force: true })).toMatchObject({
    outcome: 'rotated',
    phase: 'retiring',
    newVersion: 2,
  });
  const info = t.secrets.secret(t.name).info;
  await t.secrets.update(
    t.name,
    { annotations: info.annotations, aliases: { ...info.aliases, current: 1 } },
    info.etag,
  );
  expect(t.secrets.currentPayload(t.name)).toBe(`secret:${t.originalKey}`);
  return t;
}

const versionStates = (t: ReturnType<typeof managedSecret>) =>
  t.secrets.secret(t.name).versions.map((v) => v.state);

describe('retirement after an operator rolled current back to the old version', () => {
  it('api: the retiring step does not disable the version current names', async () => {
    const t = await rotatedThenRolledBack('api');
    t.clock.advance(GRACE_MS + 1);
    await t.run();
    expect(versionStates(t)[0]).toBe('ENABLED');
    expect(t.secrets.currentPayload(t.name)).toBe(`secret:${t.originalKey}`);
  });

  it('api: the purging step neither destroys the version current names nor deletes its key', async () => {
    const t = await rotatedThenRolledBack('api');
    t.clock.advance(GRACE_MS + 1);
    await t.run();
    t.clock.advance(GRACE_MS + 1);
    const purge = await t.run();
    expect(purge).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(versionStates(t)[0]).toBe('ENABLED');
    expect(t.keys.keys.get(t.originalKey)).toBe('enabled');
    expect(t.secrets.currentPayload(t.name)).toBe(`secret:${t.originalKey}`);
  });

  it('sa: the retiring step refuses to disable the key current holds, and leaves its version enabled', async () => {
    const t = await rotatedThenRolledBack('sa');
    t.clock.advance(GRACE_MS + 1);
    expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(versionStates(t)[0]).toBe('ENABLED');
    expect(t.keys.keys.get(t.originalKey)).toBe('enabled');
  });
});

describe('retirement state naming the current version as the old one (forged or stale)', () => {
  const forge = (t: ReturnType<typeof managedSecret>, phase: 'retiring' | 'purging') => {
    const info = t.secrets.secret(t.name).info;
    // Each grace period over, the next rotation not yet due.
    const past = new Date(t.clock.now() - GRACE_MS - 1).toISOString();
    info.annotations = {
      ...info.annotations,
      'tvs.rotation.phase': phase,
      'tvs.rotation.generation': '1',
      'tvs.rotation.old-version': '1',
      'tvs.rotation.rotated-at': past,
      'tvs.rotation.disabled-at': past,
    };
  };

  it.each(['sa', 'api'] as const)(
    '%s: the retiring step never disables the version current names',
    async (mode) => {
      const t = managedSecret(mode);
      forge(t, 'retiring');
      expect(await t.run()).toMatchObject({ outcome: 'retired' });
      expect(versionStates(t)).toEqual(['ENABLED']);
      expect(t.secrets.log).not.toContain('disable');
    },
  );

  it.each(['sa', 'api'] as const)(
    '%s: the purging step never destroys the version current names',
    async (mode) => {
      const t = managedSecret(mode);
      forge(t, 'purging');
      expect(await t.run()).toMatchObject({ outcome: 'purged', phase: 'idle' });
      expect(versionStates(t)).toEqual(['ENABLED']);
      expect(t.secrets.log).not.toContain('destroy');
      expect(t.secrets.currentPayload(t.name)).toBe(`secret:${t.originalKey}`);
    },
  );
});

describe('what retirement audits', () => {
  const entry = (t: Secret, step: string) => t.audit.entries.filter((e) => e.step === step);
  type Secret = ReturnType<typeof managedSecret>;

  it.each(['sa', 'api'] as const)('%s: one entry per step, naming the old key and version', async (mode) => {
    const t = managedSecret(mode);
    await t.run({ force: true });
    t.clock.advance(GRACE_MS + 1);
    await t.run();
    const kind = mode === 'sa' ? 'sa-key' : 'api-key';
    expect(entry(t, 'disable')).toEqual([
      {
        step: 'disable',
        ok: true,
        reason: 'OLD_CREDENTIAL_DISABLED',
        fields: { secret: 'my-secret', kind, phase: 'retiring', oldKeyId: t.originalKey, version: 1 },
      },
    ]);
    t.clock.advance(GRACE_MS + 1);
    await t.run();
    expect(entry(t, 'delete')).toEqual([
      {
        step: 'delete',
        ok: true,
        reason: 'OLD_CREDENTIAL_DELETED',
        fields: { secret: 'my-secret', kind, phase: 'purging', oldKeyId: t.originalKey, version: 1 },
      },
    ]);
    expect(t.keys.keys.get(t.originalKey)).toBe('deleted');
    expect(t.secrets.secret(t.name).versions[0].state).toBe('DESTROYED');
  });

  it('sa: an old key already gone is audited as such, and the rotation still ends idle', async () => {
    const t = managedSecret('sa');
    await t.run({ force: true });
    t.keys.keys.set(t.originalKey, 'deleted');
    t.clock.advance(GRACE_MS + 1);
    expect(await t.run()).toMatchObject({ outcome: 'retired', phase: 'purging' });
    expect(entry(t, 'disable').map((e) => e.reason)).toEqual(['OLD_KEY_ALREADY_GONE']);
    t.clock.advance(GRACE_MS + 1);
    expect(await t.run()).toMatchObject({ outcome: 'purged', phase: 'idle' });
    expect(entry(t, 'delete').map((e) => e.reason)).toEqual(['OLD_KEY_ALREADY_GONE']);
    expect(t.secrets.log.filter((l) => l === 'key-disable' || l === 'key-delete')).toEqual([]);
  });
});

describe('retirement in a later rotation', () => {
  it.each(['sa', 'api'] as const)(
    '%s: retires the old version the state names, not the first one (already destroyed)',
    async (mode) => {
      const t = managedSecret(mode);
      for (let cycle = 0; cycle < 2; cycle++) {
        if (cycle > 0) t.clock.advance(PERIOD_MS);
        expect(await t.run({ force: true })).toMatchObject({ outcome: 'rotated' });
        t.clock.advance(GRACE_MS + 1);
        expect(await t.run()).toMatchObject({ outcome: 'retired' });
        if (cycle > 0) expect(versionStates(t)).toEqual(['DESTROYED', 'DISABLED', 'ENABLED']);
        t.clock.advance(GRACE_MS + 1);
        expect(await t.run()).toMatchObject({ outcome: 'purged', phase: 'idle' });
      }
      expect(versionStates(t)).toEqual(['DESTROYED', 'DESTROYED', 'ENABLED']);
      expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 3 });
      expect(t.audit.entries.filter((e) => e.step === 'delete').map((e) => e.fields.version)).toEqual([1, 2]);
    },
  );
});

describe('what the purging step writes, in order', () => {
  const purgeLog = async (t: ReturnType<typeof managedSecret>) => {
    t.clock.advance(GRACE_MS + 1);
    const from = t.secrets.log.length;
    expect(await t.run()).toMatchObject({ outcome: 'purged', phase: 'idle' });
    return t.secrets.log.slice(from);
  };

  it.each(['sa', 'api'] as const)(
    '%s: drops the previous alias before destroying the version it names',
    async (mode) => {
      const t = managedSecret(mode);
      await t.run({ force: true });
      t.clock.advance(GRACE_MS + 1);
      await t.run();
      expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2, previous: 1 });
      // claim, re-assert, delete the key, drop `previous`, re-assert, destroy, idle state.
      expect(await purgeLog(t)).toEqual([
        'update',
        'update',
        'key-delete',
        'update',
        'update',
        'destroy',
        'update',
      ]);
      expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2 });
    },
  );

  it.each(['sa', 'api'] as const)(
    '%s: makes no alias write when no previous alias is left (an operator removed it)',
    async (mode) => {
      const t = managedSecret(mode);
      await t.run({ force: true });
      t.clock.advance(GRACE_MS + 1);
      await t.run();
      const info = t.secrets.secret(t.name).info;
      await t.secrets.update(t.name, { annotations: info.annotations, aliases: { current: 2 } }, info.etag);
      // claim, re-assert, delete the key, re-assert, destroy, idle state.
      expect(await purgeLog(t)).toEqual(['update', 'update', 'key-delete', 'update', 'destroy', 'update']);
      expect(versionStates(t)).toEqual(['DESTROYED', 'ENABLED']);
    },
  );
});
