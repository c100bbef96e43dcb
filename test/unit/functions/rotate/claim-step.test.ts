/**
 * The claim step: what it audits when it starts a rotation and when it resumes one, and what it
 * carries from the idle state into the new rotation.
 */
import { describe, expect, it } from 'vitest';
import { NotFoundError, UnavailableError, type FailedPreconditionError } from '../../../../shared/errors.js';
import type { VersionState } from '../../../../shared/gcp/secret-admin.js';
import { CLAIM_TTL_MS, GRACE_MS, managedSecret } from './support/setup.js';

type Managed = ReturnType<typeof managedSecret>;

/** Runs only the claim (the run is stopped right after it) and returns the state it recorded. */
async function claimOnly(t: Managed) {
  await expect(
    t.run({
      owner: 'run-a',
      afterStep: (step) => {
        if (step === 'claim') throw new Error('stopped after claim');
      },
    }),
  ).rejects.toThrow('stopped after claim');
  return t.state();
}

/** Replaces the secret's versions (payload `secret:<key>`) and aliases, as an operator might have left them. */
function setVersions(t: Managed, versions: Array<[key: string, state: VersionState]>, aliases = {}) {
  const s = t.secrets.secret(t.name);
  s.versions = versions.map(([key, state]) => ({ state, data: Buffer.from(`secret:${key}`) }));
  s.info.aliases = aliases;
}

describe('the claim step', () => {
  it.each([
    ['sa', 'k0'],
    ['api', 'orig'],
  ] as const)('%s: audits the start with the phase and the current key', async (mode, key) => {
    const t = managedSecret(mode);
    await t.run({ force: true });
    expect(t.audit.entries[0]).toEqual({
      step: 'claim',
      ok: true,
      reason: 'ROTATION_STARTED',
      fields: { secret: 'my-secret', kind: `${mode}-key`, phase: 'creating', keyId: key },
    });
  });

  it('audits a resumed rotation with the phase it resumes', async () => {
    const t = managedSecret('api');
    t.keys.refuseCreate = new UnavailableError('later', {
      reason: 'UPSTREAM_UNAVAILABLE',
    }) as unknown as FailedPreconditionError;
    await t.run({ force: true });
    t.keys.refuseCreate = undefined;
    const seen = t.audit.entries.length;
    await t.run();
    expect(t.audit.entries[seen]).toEqual({
      step: 'claim',
      ok: true,
      reason: 'RESUMED',
      fields: { secret: 'my-secret', kind: 'api-key', phase: 'creating' },
    });
  });

  it('carries the last rotation time into the next rotation until it completes', async () => {
    const t = managedSecret('api');
    await t.run({ force: true });
    for (let i = 0; i < 4 && t.state().phase !== 'idle'; i++) {
      t.clock.advance(GRACE_MS + 1);
      await t.run();
    }
    const rotatedAtMs = t.state().rotatedAtMs;
    expect(rotatedAtMs).toBeTypeOf('number');
    t.keys.refuseCreate = new UnavailableError('later', {
      reason: 'UPSTREAM_UNAVAILABLE',
    }) as unknown as FailedPreconditionError;
    t.clock.advance(1000);
    await t.run({ force: true });
    expect(t.state()).toMatchObject({ phase: 'creating', rotatedAtMs, oldVersion: 2 });
  });
});

describe('the claim step: what a new rotation records', () => {
  it('sa: the generation, a fresh nonce, the claim, the current key and version and every live key', async () => {
    const t = managedSecret('sa');
    t.keys.seed('operator-key');
    expect(await claimOnly(t)).toEqual({
      phase: 'creating',
      generation: 1,
      nonce: expect.stringMatching(/^[0-9a-f]{32}$/),
      claim: { owner: 'run-a', expiresAtMs: t.clock.now() + CLAIM_TTL_MS },
      currentKey: 'k0',
      oldVersion: 1,
      keysBefore: ['k0', 'operator-key'],
      baseVersion: 1,
    });
  });

  it('api: records no live keys (API keys are told apart by the secret they were made for)', async () => {
    const t = managedSecret('api');
    const state = await claimOnly(t);
    expect(state).toMatchObject({ phase: 'creating', currentKey: 'orig', oldVersion: 1, baseVersion: 1 });
    expect(state).not.toHaveProperty('keysBefore');
  });

  it('takes the version the current alias names, even when a newer one is enabled', async () => {
    const t = managedSecret('sa');
    t.keys.seed('k1');
    setVersions(
      t,
      [
        ['k0', 'ENABLED'],
        ['k1', 'ENABLED'],
      ],
      { current: 1 },
    );
    expect(await claimOnly(t)).toMatchObject({ currentKey: 'k0', oldVersion: 1, baseVersion: 2 });
  });

  it('without a current alias, takes the newest enabled version as current', async () => {
    const t = managedSecret('sa');
    setVersions(t, [
      ['k0', 'ENABLED'],
      ['k1', 'ENABLED'],
      ['k2', 'DISABLED'],
    ]);
    expect(await claimOnly(t)).toMatchObject({ currentKey: 'k1', oldVersion: 2, baseVersion: 3 });
  });

  it('api: a secret with no version has no current key, so the bound key is not adopted for retirement', async () => {
    const t = managedSecret('api');
    setVersions(t, []);
    const state = await claimOnly(t);
    expect(state).toMatchObject({ phase: 'creating', generation: 1, baseVersion: 0 });
    expect(state).not.toHaveProperty('currentKey');
    expect(state).not.toHaveProperty('oldVersion');
    expect(t.audit.entries).toEqual([
      {
        step: 'claim',
        ok: true,
        reason: 'ROTATION_STARTED',
        fields: { secret: 'my-secret', kind: 'api-key', phase: 'creating' },
      },
    ]);
  });

  it('sa: a current version that cannot be read (disabled) holds no key to retire', async () => {
    const t = managedSecret('sa');
    setVersions(t, [['k0', 'DISABLED']], { current: 1 });
    const state = await claimOnly(t);
    expect(state).toMatchObject({ phase: 'creating', oldVersion: 1 });
    expect(state).not.toHaveProperty('currentKey');
  });

  it('sa: a current version Secret Manager does not find holds no key to retire', async () => {
    const t = managedSecret('sa');
    t.secrets.access = () =>
      Promise.reject(new NotFoundError('no such version', { reason: 'SECRET_VERSION_NOT_FOUND' }));
    const state = await claimOnly(t);
    expect(state).toMatchObject({ phase: 'creating', oldVersion: 1 });
    expect(state).not.toHaveProperty('currentKey');
  });

  it('sa: any other failure to read the current version fails the run before anything is claimed', async () => {
    const t = managedSecret('sa');
    t.secrets.access = () =>
      Promise.reject(
        new UnavailableError('Secret Manager is unavailable.', { reason: 'SECRET_MANAGER_UNAVAILABLE' }),
      );
    expect(await t.run()).toMatchObject({
      outcome: 'failed',
      phase: 'idle',
      actions: [],
      error: { code: 'UNAVAILABLE', reason: 'SECRET_MANAGER_UNAVAILABLE' },
    });
    expect(t.state()).toEqual({ phase: 'idle', generation: 0 });
    expect(t.secrets.writes).toBe(0);
  });
});
