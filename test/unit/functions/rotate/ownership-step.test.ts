/**
 * The ownership checks alone (`steps/ownership.ts`), called with a step context over the fakes:
 * which key each retirement or rollback may act on, which it finds already gone, and, for every
 * refusal, the `STATE_MISMATCH` detail the audit log gets (ids only), naming what disagreed.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  DeadlineExceededError,
  FailedPreconditionError,
  NotFoundError,
  UnavailableError,
} from '../../../../shared/errors.js';
import type { RotationState } from '../../../../functions/rotate/state.js';
import type { StepContext } from '../../../../functions/rotate/steps/context.js';
import {
  aliasedVersions,
  mayDeleteNew,
  mayDeleteOld,
  mayDisableOld,
  payloadOf,
  refuseIfInUse,
  status,
} from '../../../../functions/rotate/steps/ownership.js';
import { managedSecret, runStepContext } from './support/setup.js';

type Secret = ReturnType<typeof managedSecret>;

/**
 * A managed secret whose version 1 holds its original key and version 2 holds `k1` (a second live
 * key of the bound target), with the given aliases (default: `current` → 1).
 */
function twoVersions(mode: 'sa' | 'api', aliases: Record<string, number> = { current: 1 }) {
  const t = managedSecret(mode);
  t.keys.seed('k1');
  if (mode === 'api') t.keys.madeFor.set('k1', t.name);
  const stored = t.secrets.secret(t.name);
  stored.versions.push({ state: 'ENABLED', data: Buffer.from('secret:k1') });
  stored.info.aliases = aliases;
  return t;
}

/** The step context a run would build for `t`, with `state` as the rotation state read. */
async function contextOf(t: Secret, state: Partial<RotationState> = {}): Promise<StepContext> {
  return (await runStepContext(t, { state: { phase: 'retiring', generation: 1, ...state } })).ctx;
}

/** The refusal: nothing may be touched, and the detail says why. */
const mismatch = (detail: string) => ({ code: 'FAILED_PRECONDITION', reason: 'STATE_MISMATCH', detail });

describe('payloadOf', () => {
  it('reads the bytes of the numbered version', async () => {
    const t = twoVersions('sa');
    const ctx = await contextOf(t);
    expect((await payloadOf(ctx, 2))?.toString()).toBe('secret:k1');
    expect((await payloadOf(ctx, 1))?.toString()).toBe('secret:k0');
  });

  it('is undefined for no version, without reading any', async () => {
    const t = twoVersions('sa');
    const access = vi.spyOn(t.secrets, 'access');
    expect(await payloadOf(await contextOf(t), undefined)).toBeUndefined();
    expect(access).not.toHaveBeenCalled();
  });

  it.each([
    ['disabled', 'DISABLED'],
    ['destroyed', 'DESTROYED'],
  ] as const)('is undefined for a %s version', async (_name, state) => {
    const t = twoVersions('sa');
    await t.secrets[state === 'DISABLED' ? 'disable' : 'destroy'](`${t.name}/versions/2`);
    expect(await payloadOf(await contextOf(t), 2)).toBeUndefined();
  });

  it.each([
    ['missing (NOT_FOUND)', new NotFoundError('no version', { reason: 'SECRET_NOT_FOUND' })],
    ['refused (FAILED_PRECONDITION)', new FailedPreconditionError('no', { reason: 'VERSION_DISABLED' })],
  ])('is undefined for a version Secret Manager says is %s', async (_name, error) => {
    const t = twoVersions('sa');
    vi.spyOn(t.secrets, 'access').mockRejectedValueOnce(error);
    expect(await payloadOf(await contextOf(t), 2)).toBeUndefined();
  });

  it.each([
    ['UNAVAILABLE', new UnavailableError('later', { reason: 'SECRET_MANAGER_UNAVAILABLE' })],
    ['DEADLINE_EXCEEDED', new DeadlineExceededError('slow', { reason: 'DEADLINE_EXCEEDED' })],
    ['an unexpected error', new TypeError('bug')],
  ])('rethrows %s: a version that could not be read is not one that cannot be', async (_name, error) => {
    const t = twoVersions('sa');
    vi.spyOn(t.secrets, 'access').mockRejectedValueOnce(error);
    await expect(payloadOf(await contextOf(t), 2)).rejects.toBe(error);
  });
});

describe('aliasedVersions', () => {
  it.each([
    [{ current: 2, previous: 1 }, [2, 1]],
    [{ current: 2 }, [2]],
    [{ previous: 1 }, [1]],
    [{}, []],
    [{ current: 2, previous: 2, other: 1 }, [2]],
  ])('aliases %j name versions %j', async (aliases, versions) => {
    const t = twoVersions('sa', aliases);
    expect(aliasedVersions(await contextOf(t))).toEqual(new Set(versions));
  });
});

describe('refuseIfInUse', () => {
  it.each([
    [{ current: 1 }, 1],
    [{ current: 2, previous: 1 }, 1],
  ])('refuses a key an aliased version holds (aliases %j)', async (aliases, version) => {
    const ctx = await contextOf(twoVersions('sa', aliases));
    await expect(refuseIfInUse(ctx, 'k0', 'some-role')).rejects.toMatchObject(
      mismatch(`some-role k0 is the key version ${version} holds, which an alias names`),
    );
  });

  it('lets a key pass that no aliased version holds', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 1 }));
    await expect(refuseIfInUse(ctx, 'k1', 'new-key')).resolves.toBeUndefined();
  });
});

describe('status', () => {
  it('refuses a live API key that is neither the bound key nor made for this secret, naming its role', async () => {
    const t = twoVersions('api');
    t.keys.seed('stranger');
    await expect(status(await contextOf(t), 'stranger', 'current-key')).rejects.toMatchObject(
      mismatch('current-key stranger is not a key of the bound target made for this secret'),
    );
  });

  it.each([
    ['api', 'orig', 'enabled'],
    ['api', 'k1', 'enabled'],
    ['api', 'never-made', 'absent'],
    ['sa', 'k0', 'enabled'],
    ['sa', 'never-made', 'absent'],
  ] as const)('%s: key %s is %s', async (mode, keyId, expected) => {
    const t = twoVersions(mode);
    expect(await status(await contextOf(t), keyId, 'old-key')).toBe(expected);
  });

  it('sa: a disabled key is disabled', async () => {
    const t = twoVersions('sa');
    t.keys.keys.set('k1', 'disabled');
    expect(await status(await contextOf(t), 'k1', 'old-key')).toBe('disabled');
  });
});

describe('mayDisableOld (the retiring step)', () => {
  it('sa: acts on the enabled old key its old version holds while current holds another', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 2, previous: 1 }), { oldVersion: 1 });
    expect(await mayDisableOld(ctx, 'k0')).toBe('act');
  });

  it('sa: refuses an enabled key its old version does not hold', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 2, previous: 1 }), { oldVersion: 2 });
    await expect(mayDisableOld(ctx, 'k0')).rejects.toMatchObject(
      mismatch('old-key k0 is not the key in old-version 2'),
    );
  });

  it('sa: refuses an enabled key when the state records no old version', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 2, previous: 1 }));
    await expect(mayDisableOld(ctx, 'k0')).rejects.toMatchObject(
      mismatch('old-key k0 is not the key in old-version (none)'),
    );
  });

  it('sa: refuses the key the current version holds, even when the old version holds it too', async () => {
    const t = twoVersions('sa', { current: 1 });
    t.secrets.secret(t.name).versions[1].data = Buffer.from('secret:k0');
    const ctx = await contextOf(t, { oldVersion: 2 });
    await expect(mayDisableOld(ctx, 'k0')).rejects.toMatchObject(
      mismatch('old-key k0 is the key the current version holds'),
    );
  });

  it('sa: acts when no alias names a current version', async () => {
    const ctx = await contextOf(twoVersions('sa', { previous: 1 }), { oldVersion: 1 });
    expect(await mayDisableOld(ctx, 'k0')).toBe('act');
  });

  it('sa: acts on an old key already disabled without checking versions (disabling it again changes nothing)', async () => {
    const t = twoVersions('sa', { current: 1 });
    t.keys.keys.set('k0', 'disabled');
    expect(await mayDisableOld(await contextOf(t), 'k0')).toBe('act');
  });

  it.each(['sa', 'api'] as const)('%s: an old key that no longer exists is gone', async (mode) => {
    const t = twoVersions(mode, { current: 2 });
    t.keys.keys.set('k1', 'deleted');
    expect(await mayDisableOld(await contextOf(t), 'k1')).toBe('gone');
  });

  it('api: acts on an owned key (API keys have no disabled state to check)', async () => {
    const ctx = await contextOf(twoVersions('api', { current: 1 }));
    expect(await mayDisableOld(ctx, 'k1')).toBe('act');
  });

  it('api: refuses a key not made for this secret, as the old key', async () => {
    const t = twoVersions('api');
    t.keys.seed('stranger');
    await expect(mayDisableOld(await contextOf(t), 'stranger')).rejects.toMatchObject(
      mismatch('old-key stranger is not a key of the bound target made for this secret'),
    );
  });
});

describe('mayDeleteOld (the purging step)', () => {
  it.each(['sa', 'api'] as const)(
    '%s: refuses the key the state records as current, before looking anything up',
    async (mode) => {
      const t = twoVersions(mode, { current: 2, previous: 1 });
      const keyStatus = vi.spyOn(t.keys, 'keyStatus');
      const ctx = await contextOf(t, { phase: 'purging', currentKey: 'k1' });
      await expect(mayDeleteOld(ctx, 'k1')).rejects.toMatchObject(mismatch('old-key k1 is the current key'));
      expect(keyStatus).not.toHaveBeenCalled();
    },
  );

  it('sa: acts on the disabled old key when current holds another', async () => {
    const t = twoVersions('sa', { current: 2, previous: 1 });
    t.keys.keys.set('k0', 'disabled');
    const ctx = await contextOf(t, { phase: 'purging', currentKey: 'k1' });
    expect(await mayDeleteOld(ctx, 'k0')).toBe('act');
  });

  it('sa: refuses an old key still enabled (it was never disabled a grace period before)', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 2, previous: 1 }), { phase: 'purging' });
    await expect(mayDeleteOld(ctx, 'k0')).rejects.toMatchObject(
      mismatch('old-key k0 is enabled: the rotator deletes only keys it disabled a grace period before'),
    );
  });

  it.each([
    ['sa', 'disabled'],
    ['api', 'enabled'],
  ] as const)('%s: refuses the %s old key the current version holds (a rollback)', async (mode, keyState) => {
    const t = twoVersions(mode, { current: 1, previous: 2 });
    t.keys.keys.set(t.originalKey, keyState);
    const ctx = await contextOf(t, { phase: 'purging', currentKey: 'k1' });
    await expect(mayDeleteOld(ctx, t.originalKey)).rejects.toMatchObject(
      mismatch(`old-key ${t.originalKey} is the key the current version holds`),
    );
  });

  it('api: acts on an owned old key when current holds another', async () => {
    const ctx = await contextOf(twoVersions('api', { current: 2, previous: 1 }), { phase: 'purging' });
    expect(await mayDeleteOld(ctx, 'orig')).toBe('act');
  });

  it('api: acts when no alias names a current version', async () => {
    const ctx = await contextOf(twoVersions('api', { previous: 1 }), { phase: 'purging' });
    expect(await mayDeleteOld(ctx, 'orig')).toBe('act');
  });

  it.each(['sa', 'api'] as const)('%s: an old key that no longer exists is gone', async (mode) => {
    const t = twoVersions(mode, { current: 1 });
    t.keys.keys.set('k1', 'deleted');
    const ctx = await contextOf(t, { phase: 'purging' });
    expect(await mayDeleteOld(ctx, 'k1')).toBe('gone');
  });

  it('api: refuses a key not made for this secret, as the old key', async () => {
    const t = twoVersions('api');
    t.keys.seed('stranger');
    const ctx = await contextOf(t, { phase: 'purging' });
    await expect(mayDeleteOld(ctx, 'stranger')).rejects.toMatchObject(
      mismatch('old-key stranger is not a key of the bound target made for this secret'),
    );
  });
});

describe('mayDeleteNew (a rollback)', () => {
  const verifying = { phase: 'verifying', newKey: 'k1', newVersion: 2 } as const;
  const payload = Buffer.from('secret:k1');

  it.each(['sa', 'api'] as const)('%s: acts on the new key its version holds', async (mode) => {
    const ctx = await contextOf(twoVersions(mode, { current: 1 }), verifying);
    expect(await mayDeleteNew(ctx, 'k1', payload)).toBe('act');
  });

  it.each(['sa', 'api'] as const)(
    '%s: a new key that no longer exists is gone, whatever its version held',
    async (mode) => {
      const t = twoVersions(mode, { current: 1 });
      t.keys.keys.set('k1', 'deleted');
      expect(await mayDeleteNew(await contextOf(t, verifying), 'k1', undefined)).toBe('gone');
    },
  );

  it('refuses a new key an aliased version holds', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 1, previous: 2 }), verifying);
    await expect(mayDeleteNew(ctx, 'k1', payload)).rejects.toMatchObject(
      mismatch('new-key k1 is the key version 2 holds, which an alias names'),
    );
  });

  it('refuses a new key when its version could not be read', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 1 }), verifying);
    await expect(mayDeleteNew(ctx, 'k1', undefined)).rejects.toMatchObject(
      mismatch('new-key k1 is not the key in new-version 2'),
    );
  });

  it('refuses a new key its version does not hold', async () => {
    const t = twoVersions('sa', { current: 1 });
    t.keys.seed('k2');
    const ctx = await contextOf(t, { ...verifying, newKey: 'k2' });
    await expect(mayDeleteNew(ctx, 'k2', payload)).rejects.toMatchObject(
      mismatch('new-key k2 is not the key in new-version 2'),
    );
  });

  it('refuses a new key when the state records no new version', async () => {
    const ctx = await contextOf(twoVersions('sa', { current: 1 }), { phase: 'verifying', newKey: 'k1' });
    await expect(mayDeleteNew(ctx, 'k1', undefined)).rejects.toMatchObject(
      mismatch('new-key k1 is not the key in new-version (none)'),
    );
  });

  it('api: refuses a key not made for this secret, as the new key', async () => {
    const t = twoVersions('api');
    t.keys.seed('stranger');
    const ctx = await contextOf(t, { ...verifying, newKey: 'stranger' });
    await expect(mayDeleteNew(ctx, 'stranger', Buffer.from('secret:stranger'))).rejects.toMatchObject(
      mismatch('new-key stranger is not a key of the bound target made for this secret'),
    );
  });
});
