/**
 * The `verifying` phase alone (`verifyAndPromote`), run on a rotation claimed and created by the same run:
 * what a working credential is promoted to (aliases, state, claim, audit), how a failure is told
 * apart (Secret Manager down: retry later; anything else: VERIFY_FAILED, rolled back), and what a
 * rollback leaves (the secret idle as it was, nothing `current` names disabled).
 */
import { describe, expect, it } from 'vitest';
import type { Step } from '../../../../functions/rotate/report.js';
import { create } from '../../../../functions/rotate/steps/create.js';
import { verifyAndPromote } from '../../../../functions/rotate/steps/verify.js';
import {
  FailedPreconditionError,
  InternalError,
  UnavailableError,
  UpstreamUnavailable,
} from '../../../../shared/errors.js';
import { GRACE_MS, managedSecret, runStepContext } from './support/setup.js';

type Secret = ReturnType<typeof managedSecret>;
const OWNER = 'run-stopped';
const MODES = ['sa', 'api'] as const;
const KIND = { sa: 'sa-key', api: 'api-key' } as const;

/**
 * Starts a rotation of `t` as run OWNER, stopped right after its claim (as if it died there), then
 * runs that run's `creating` step: the secret is left `verifying`, claimed by OWNER.
 */
async function stopBeforeVerify(t: Secret, options: { force?: boolean } = {}): Promise<void> {
  const afterStep = (step: Step) => {
    if (step === 'claim') throw new Error('stopped');
  };
  await expect(t.run({ ...options, owner: OWNER, afterStep })).rejects.toThrow('stopped');
  await create((await stepContext(t)).ctx);
  expect(t.state()).toMatchObject({ phase: 'verifying', claim: { owner: OWNER } });
}

/** The step context of the stopped run, over the secret as stored now; it records marks and failures. */
const stepContext = (t: Secret) => runStepContext(t, { owner: OWNER });

/** A secret rotated once and purged back to idle, so its state has a current key and a rotation time. */
async function rotatedOnce(mode: 'sa' | 'api'): Promise<Secret> {
  const t = managedSecret(mode);
  expect(await t.run()).toMatchObject({ outcome: 'rotated' });
  for (let i = 0; i < 4 && t.state().phase !== 'idle'; i++) {
    t.clock.advance(GRACE_MS + 1);
    await t.run();
  }
  expect(t.state()).toMatchObject({ phase: 'idle', generation: 1 });
  expect(t.state().rotatedAtMs).toBeTypeOf('number');
  t.clock.advance(1000);
  return t;
}

const entry = (t: Secret, step: string) => t.audit.entries.filter((e) => e.step === step);

describe('the verifying phase: a credential that works', () => {
  it.each(MODES)(
    '%s: is promoted in one swap (current → new, previous → old), the claim released, verify and promote audited',
    async (mode) => {
      const t = managedSecret(mode);
      await stopBeforeVerify(t);
      const newKey = t.state().newKey!;
      t.clock.advance(1000);
      const { ctx, marks } = await stepContext(t);

      expect(await verifyAndPromote(ctx)).toBe('promoted');
      expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2, previous: 1 });
      expect(t.secrets.currentPayload(t.name)).toBe(`secret:${newKey}`);
      expect(t.state()).toEqual({
        phase: 'retiring',
        generation: 1,
        currentKey: newKey,
        oldKey: t.originalKey,
        oldVersion: 1,
        rotatedAtMs: t.clock.now(),
      });
      expect(marks).toEqual(['verify', 'promote']);
      expect(entry(t, 'verify')).toEqual([
        {
          step: 'verify',
          ok: true,
          reason: 'CREDENTIAL_WORKS',
          fields: { secret: 'my-secret', kind: KIND[mode], newKeyId: newKey, version: 2 },
        },
      ]);
      expect(entry(t, 'promote')).toEqual([
        {
          step: 'promote',
          ok: true,
          reason: 'PROMOTED',
          fields: {
            secret: 'my-secret',
            kind: KIND[mode],
            newKeyId: newKey,
            oldKeyId: t.originalKey,
            version: 2,
          },
        },
      ]);
    },
  );

  it('a first credential (the secret had no version) goes straight to idle: nothing to retire, no `previous`', async () => {
    const t = managedSecret('sa');
    t.secrets.add('my-secret', { 'tvs-managed': 'true', 'tvs-kind': 'sa-key' }, {}, [], {});
    await stopBeforeVerify(t);
    const newKey = t.state().newKey!;
    const { ctx } = await stepContext(t);

    expect(await verifyAndPromote(ctx)).toBe('promoted');
    expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 1 });
    expect(t.state()).toEqual({
      phase: 'idle',
      generation: 1,
      currentKey: newKey,
      rotatedAtMs: t.clock.now(),
    });
    expect(entry(t, 'promote')[0].fields).toEqual({
      secret: 'my-secret',
      kind: 'sa-key',
      newKeyId: newKey,
      version: 1,
    });
  });

  it('sa: a current version with no readable key is still retired (old version, no old key)', async () => {
    const t = managedSecret('sa');
    t.secrets.secret(t.name).versions[0].state = 'DISABLED'; // say, disabled by an operator after a leak
    await stopBeforeVerify(t);
    const newKey = t.state().newKey!;
    const { ctx } = await stepContext(t);

    expect(await verifyAndPromote(ctx)).toBe('promoted');
    expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2, previous: 1 });
    expect(t.state()).toEqual({
      phase: 'retiring',
      generation: 1,
      currentKey: newKey,
      oldVersion: 1,
      rotatedAtMs: t.clock.now(),
    });
  });

  it('a current key left with no version to retire (all disabled, no `current`) is still retired', async () => {
    const t = await rotatedOnce('sa');
    const before = t.state();
    t.secrets.secret(t.name).versions[1].state = 'DISABLED';
    t.secrets.secret(t.name).info.aliases = {};
    await stopBeforeVerify(t, { force: true });
    const newKey = t.state().newKey!;
    const { ctx } = await stepContext(t);

    expect(await verifyAndPromote(ctx)).toBe('promoted');
    expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 3 });
    expect(t.state()).toEqual({
      phase: 'retiring',
      generation: 2,
      currentKey: newKey,
      oldKey: before.currentKey,
      rotatedAtMs: t.clock.now(),
    });
  });

  it('refuses to promote a working credential that is not the key the state names, changing nothing', async () => {
    const t = managedSecret('sa');
    await stopBeforeVerify(t);
    const made = t.state().newKey!;
    const named = t.keys.seed('k9');
    t.secrets.secret(t.name).info.annotations['tvs.rotation.new-key'] = named;
    const { ctx, marks } = await stepContext(t);

    const error = (await verifyAndPromote(ctx).catch((e: unknown) => e)) as FailedPreconditionError;
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect(error.reason).toBe('STATE_MISMATCH');
    expect(error.detail).toBe('new-key k9 is not the key in new-version 2');
    expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 1 });
    expect(t.state()).toMatchObject({ phase: 'verifying', newKey: named, newVersion: 2 });
    expect([t.keys.keys.get(made), t.keys.keys.get(named)]).toEqual(['enabled', 'enabled']);
    expect(t.secrets.secret(t.name).versions.map((v) => v.state)).toEqual(['ENABLED', 'ENABLED']);
    expect(marks).toEqual([]);
    expect(entry(t, 'verify')).toEqual([]);
  });
});

describe('the verifying phase: a credential that does not work', () => {
  it.each(MODES)(
    '%s: is rolled back (key deleted, version disabled), the secret idle as it was with VERIFY_FAILED',
    async (mode) => {
      const t = await rotatedOnce(mode);
      const before = t.state();
      await stopBeforeVerify(t, { force: true });
      const newKey = t.state().newKey!;
      t.keys.failVerify = true;
      const { ctx, marks, failures } = await stepContext(t);

      expect(await verifyAndPromote(ctx)).toBe('rolled-back');
      expect(t.keys.keys.get(newKey)).toBe('deleted');
      expect(t.secrets.secret(t.name).versions[2].state).toBe('DISABLED');
      expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2 });
      expect(t.secrets.currentPayload(t.name)).toBe(`secret:${before.currentKey}`);
      expect(t.state()).toEqual({
        phase: 'idle',
        generation: 2,
        currentKey: before.currentKey,
        rotatedAtMs: before.rotatedAtMs,
        lastError: 'VERIFY_FAILED',
      });
      expect(marks).toEqual(['rollback']);
      expect(entry(t, 'rollback')).toEqual([
        {
          step: 'rollback',
          ok: false,
          reason: 'VERIFY_FAILED',
          fields: { secret: 'my-secret', kind: KIND[mode], newKeyId: newKey, version: 3 },
        },
      ]);
      // The credential's own VERIFY_FAILED is kept, with its detail, not re-wrapped.
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ reason: 'VERIFY_FAILED', message: 'did not work' });
    },
  );

  it.each([
    [
      'another UNAVAILABLE reason',
      new UnavailableError('token endpoint down', { reason: 'UPSTREAM_UNAVAILABLE' }),
    ],
    [
      'a SECRET_MANAGER_UNAVAILABLE reason on a non-UNAVAILABLE error',
      new InternalError('odd', { reason: 'SECRET_MANAGER_UNAVAILABLE' }),
    ],
    ['a plain Error', new Error('socket hang up')],
    ['a thrown non-Error', 'boom'],
  ] as const)('a verification failing with %s is VERIFY_FAILED and rolled back', async (_name, thrown) => {
    const t = managedSecret('api');
    await stopBeforeVerify(t);
    const newKey = t.state().newKey!;
    // A library rejecting with a non-Error is what the `unknown` detail is for.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    t.keys.verify = () => Promise.reject(thrown);
    const { ctx, failures } = await stepContext(t);

    expect(await verifyAndPromote(ctx)).toBe('rolled-back');
    expect(t.keys.keys.get(newKey)).toBe('deleted');
    expect(t.state()).toMatchObject({ phase: 'idle', currentKey: t.originalKey, lastError: 'VERIFY_FAILED' });
    expect(failures).toHaveLength(1);
    const failure = failures[0];
    expect(failure).toBeInstanceOf(FailedPreconditionError);
    expect(failure.message).toBe('The new credential could not be verified.');
    expect(failure.reason).toBe('VERIFY_FAILED');
    expect(failure.detail).toBe(thrown instanceof Error ? thrown.message : 'unknown');
    expect(failure.cause).toBe(thrown);
  });

  it('Secret Manager being unavailable says nothing about the credential: thrown, nothing rolled back', async () => {
    const t = managedSecret('sa');
    await stopBeforeVerify(t);
    const newKey = t.state().newKey!;
    const outage = new UpstreamUnavailable('Secret Manager is unavailable; try again later.', {
      reason: 'SECRET_MANAGER_UNAVAILABLE',
    });
    const access = t.secrets.access.bind(t.secrets);
    t.secrets.access = (version) =>
      version === `${t.name}/versions/2` ? Promise.reject(outage) : access(version);
    const { ctx, marks } = await stepContext(t);

    await expect(verifyAndPromote(ctx)).rejects.toBe(outage);
    expect(t.state()).toMatchObject({ phase: 'verifying', newKey, newVersion: 2, claim: { owner: OWNER } });
    expect(t.keys.keys.get(newKey)).toBe('enabled');
    expect(t.secrets.secret(t.name).versions.map((v) => v.state)).toEqual(['ENABLED', 'ENABLED']);
    expect(marks).toEqual([]);
    expect(t.audit.entries.filter((e) => !e.ok)).toEqual([]);
  });

  it('a rollback never disables the version `current` names, even the new one', async () => {
    const t = managedSecret('sa');
    await stopBeforeVerify(t);
    const newKey = t.state().newKey!;
    // An operator pointed consumers at the new version; its key is gone, so it cannot work.
    t.secrets.secret(t.name).info.aliases = { current: 2 };
    t.keys.keys.set(newKey, 'deleted');
    const { ctx } = await stepContext(t);

    expect(await verifyAndPromote(ctx)).toBe('rolled-back');
    expect(t.secrets.secret(t.name).versions.map((v) => v.state)).toEqual(['ENABLED', 'ENABLED']);
    expect(t.secrets.log).not.toContain('disable');
    expect(t.secrets.secret(t.name).info.aliases).toEqual({ current: 2 });
    expect(t.state()).toMatchObject({ phase: 'idle', lastError: 'VERIFY_FAILED' });
  });
});
