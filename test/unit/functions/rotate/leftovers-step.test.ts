/**
 * Resuming `creating` after a crashed run (`steps/leftovers.ts`), called with a step context over
 * the fakes: what is provably the dead run's own is removed (each destructive call right after
 * re-asserting the claim) and audited; anything else is reported and kept; a state that names
 * something older than the rotation is refused with a `STATE_MISMATCH` detail saying what.
 */
import { describe, expect, it, vi } from 'vitest';
import type { RotationState } from '../../../../functions/rotate/state.js';
import { clearLeftovers } from '../../../../functions/rotate/steps/leftovers.js';
import { managedSecret, runStepContext } from './support/setup.js';

type Secret = ReturnType<typeof managedSecret>;

/**
 * A managed secret claimed for rotation when version 1 (holding the original key) was the newest;
 * `payloads` are the versions added since (2, 3, ...), each `secret:<keyId>`.
 */
function claimedWith(mode: 'sa' | 'api', ...payloads: string[]) {
  const t = managedSecret(mode);
  for (const p of payloads)
    t.secrets.secret(t.name).versions.push({ state: 'ENABLED', data: Buffer.from(p) });
  return t;
}

/** The step context a run would build for `t`, with `state` as the rotation state read. */
async function contextOf(t: Secret, state: Partial<RotationState>) {
  const { ctx, marks, foreign } = await runStepContext(t, {
    state: { phase: 'creating', generation: 1, baseVersion: 1, ...state },
  });
  return { ctx, actions: marks, foreign };
}

const versionStates = (t: Secret) => t.secrets.secret(t.name).versions.map((v) => v.state);
const mismatch = (detail: string) => ({ code: 'FAILED_PRECONDITION', reason: 'STATE_MISMATCH', detail });
/** An SA rotation claimed with `k0` current and live, which then recorded `newKey`. */
const saClaim = (newKey?: string): Partial<RotationState> => ({
  currentKey: 'k0',
  keysBefore: ['k0'],
  ...(newKey ? { newKey } : {}),
});

describe('clearLeftovers: versions added since the claim', () => {
  it('sa: destroys the version holding the recorded new key, then deletes that key, each after re-asserting the claim', async () => {
    const t = claimedWith('sa', 'secret:k1');
    t.keys.seed('k1');
    const { ctx, actions, foreign } = await contextOf(t, saClaim('k1'));
    await clearLeftovers(ctx);
    expect(versionStates(t)).toEqual(['ENABLED', 'DESTROYED']);
    expect(t.keys.keys.get('k1')).toBe('deleted');
    expect(t.secrets.log).toEqual(['update', 'destroy', 'update', 'key-delete', 'update']);
    expect(t.audit.entries).toEqual([
      {
        step: 'discard-version',
        ok: true,
        reason: 'STRAY_VERSION_DESTROYED',
        fields: { secret: 'my-secret', kind: 'sa-key', version: 2, newKeyId: 'k1' },
      },
      {
        step: 'delete-orphan',
        ok: true,
        reason: 'ORPHAN_KEY_DELETED',
        fields: { secret: 'my-secret', kind: 'sa-key', keyId: 'k1' },
      },
    ]);
    expect(actions).toEqual(['discard-version', 'delete-orphan']);
    expect(foreign).toEqual([]);
    expect(t.state()).toMatchObject({ phase: 'creating', currentKey: 'k0' });
    expect(t.state().newKey).toBeUndefined();
    expect(t.keys.keys.get('k0')).toBe('enabled');
  });

  it('keeps and reports a version holding any other key (an operator may have added it)', async () => {
    const t = claimedWith('sa', 'secret:break-glass', 'secret:k1');
    t.keys.seed('k1');
    const { ctx, actions } = await contextOf(t, saClaim('k1'));
    await clearLeftovers(ctx);
    expect(versionStates(t)).toEqual(['ENABLED', 'ENABLED', 'DESTROYED']);
    expect(t.audit.entries[0]).toEqual({
      step: 'keep-foreign',
      ok: true,
      reason: 'FOREIGN_VERSION_KEPT',
      fields: { secret: 'my-secret', kind: 'sa-key', version: 2 },
    });
    expect(t.audit.entries[1]).toMatchObject({ reason: 'STRAY_VERSION_DESTROYED', fields: { version: 3 } });
    expect(actions).toEqual(['discard-version', 'delete-orphan']);
  });

  it('keeps and reports a disabled version, without reading it: its payload cannot prove it ours', async () => {
    const t = claimedWith('sa', 'secret:k1');
    t.keys.seed('k1');
    await t.secrets.disable(`${t.name}/versions/2`);
    const access = vi.spyOn(t.secrets, 'access');
    const { ctx } = await contextOf(t, saClaim('k1'));
    await clearLeftovers(ctx);
    expect(versionStates(t)).toEqual(['ENABLED', 'DISABLED']);
    expect(access).not.toHaveBeenCalledWith(`${t.name}/versions/2`);
    expect(t.audit.entries[0]).toMatchObject({ reason: 'FOREIGN_VERSION_KEPT', fields: { version: 2 } });
  });

  it('neither reads nor reports a destroyed version', async () => {
    const t = claimedWith('sa', 'secret:k1');
    await t.secrets.destroy(`${t.name}/versions/2`);
    const { ctx, actions } = await contextOf(t, saClaim());
    await clearLeftovers(ctx);
    expect(t.audit.entries).toEqual([]);
    expect(actions).toEqual([]);
  });

  it('leaves the versions up to the base version alone, whatever they hold', async () => {
    const t = claimedWith('sa', 'secret:k1');
    const { ctx } = await contextOf(t, { ...saClaim(), baseVersion: 2 });
    await clearLeftovers(ctx);
    expect(versionStates(t)).toEqual(['ENABLED', 'ENABLED']);
    expect(t.audit.entries).toEqual([]);
  });

  it('without a recorded new key, keeps every new version as foreign without asking whose key it holds', async () => {
    const t = claimedWith('sa', 'secret:k1');
    const holds = vi.spyOn(t.keys, 'holds');
    const { ctx } = await contextOf(t, saClaim());
    await clearLeftovers(ctx);
    expect(versionStates(t)).toEqual(['ENABLED', 'ENABLED']);
    expect(holds).not.toHaveBeenCalled();
    expect(t.audit.entries).toEqual([
      expect.objectContaining({
        reason: 'FOREIGN_VERSION_KEPT',
        fields: expect.objectContaining({ version: 2 }),
      }),
    ]);
  });

  it('refuses to destroy a version holding the new key that an alias names, touching nothing', async () => {
    const t = claimedWith('sa', 'secret:k1');
    t.keys.seed('k1');
    t.secrets.secret(t.name).info.aliases = { current: 2, previous: 1 };
    const { ctx } = await contextOf(t, saClaim('k1'));
    await expect(clearLeftovers(ctx)).rejects.toMatchObject(
      mismatch('version 2 holds new-key k1 but an alias names it'),
    );
    expect(versionStates(t)).toEqual(['ENABLED', 'ENABLED']);
    expect(t.secrets.log).toEqual([]);
  });
});

describe('clearLeftovers: the recorded new key (SA keys: unstored material is lost)', () => {
  it('deletes a recorded key that was never stored and forgets it', async () => {
    const t = claimedWith('sa');
    t.keys.seed('k1');
    const { ctx, actions } = await contextOf(t, saClaim('k1'));
    await clearLeftovers(ctx);
    expect(t.keys.keys.get('k1')).toBe('deleted');
    expect(t.secrets.log).toEqual(['update', 'key-delete', 'update']);
    expect(actions).toEqual(['delete-orphan']);
    expect(t.state().newKey).toBeUndefined();
  });

  it('forgets a recorded key already gone, deleting and auditing nothing', async () => {
    const t = claimedWith('sa');
    const { ctx, actions } = await contextOf(t, saClaim('k1'));
    await clearLeftovers(ctx);
    expect(t.secrets.log).toEqual(['update']);
    expect(t.audit.entries).toEqual([]);
    expect(actions).toEqual([]);
    expect(t.state()).toMatchObject({ phase: 'creating', currentKey: 'k0', keysBefore: ['k0'] });
    expect(t.state().newKey).toBeUndefined();
  });

  it.each([
    ['the current key', { currentKey: 'k0', keysBefore: ['other'] }],
    ['a key live at the claim', { currentKey: 'other', keysBefore: ['k0'] }],
  ])('refuses a new key that is %s, deleting nothing', async (_name, state) => {
    const t = claimedWith('sa');
    t.keys.seed('other');
    const { ctx } = await contextOf(t, { ...state, newKey: 'k0' });
    await expect(clearLeftovers(ctx)).rejects.toMatchObject(
      mismatch('new-key k0 existed before this rotation was claimed'),
    );
    expect(t.keys.keys.get('k0')).toBe('enabled');
    expect(t.secrets.log).toEqual([]);
  });

  it('refuses a new key an aliased version up to the base holds (state recorded without the current key)', async () => {
    const t = claimedWith('sa');
    const { ctx } = await contextOf(t, { newKey: 'k0' });
    await expect(clearLeftovers(ctx)).rejects.toMatchObject(
      mismatch('new-key k0 is the key version 1 holds, which an alias names'),
    );
    expect(t.keys.keys.get('k0')).toBe('enabled');
    expect(t.secrets.log).toEqual([]);
  });

  it('refuses a new key the bound target does not own, naming it as the new key', async () => {
    const t = claimedWith('sa');
    t.keys.seed('k1');
    vi.spyOn(t.keys, 'keyStatus').mockResolvedValue('foreign');
    const { ctx } = await contextOf(t, saClaim('k1'));
    await expect(clearLeftovers(ctx)).rejects.toMatchObject(
      mismatch('new-key k1 is not a key of the bound target made for this secret'),
    );
    expect(t.keys.keys.get('k1')).toBe('enabled');
  });

  it('api: keeps the recorded new key for the retried create to adopt', async () => {
    const t = claimedWith('api');
    t.keys.seed('key-g1');
    t.keys.madeFor.set('key-g1', t.name);
    const { ctx, actions } = await contextOf(t, { currentKey: 'orig', newKey: 'key-g1' });
    await clearLeftovers(ctx);
    expect(t.keys.keys.get('key-g1')).toBe('enabled');
    expect(t.secrets.log).toEqual([]);
    expect(actions).toEqual([]);
    expect(ctx.session.state.newKey).toBe('key-g1');
  });
});

describe('clearLeftovers: keys that appeared since the claim', () => {
  it('sa: reports and keeps a key neither live at the claim nor recorded', async () => {
    const t = claimedWith('sa');
    t.keys.seed('break-glass');
    const { ctx, foreign } = await contextOf(t, saClaim());
    await clearLeftovers(ctx);
    expect(foreign).toEqual(['break-glass']);
    expect(t.audit.entries).toEqual([
      {
        step: 'keep-foreign',
        ok: true,
        reason: 'FOREIGN_KEY_KEPT',
        fields: { secret: 'my-secret', kind: 'sa-key', keyId: 'break-glass' },
      },
    ]);
    expect(t.keys.keys.get('break-glass')).toBe('enabled');
  });

  it('sa: never reports the current key, even in a state claimed without keys-before', async () => {
    const t = claimedWith('sa');
    t.keys.seed('break-glass');
    const { ctx, foreign } = await contextOf(t, { currentKey: 'k0' });
    await clearLeftovers(ctx);
    expect(foreign).toEqual(['break-glass']);
  });
});
