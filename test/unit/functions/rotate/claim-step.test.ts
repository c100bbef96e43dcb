/**
 * The claim step: what it audits when it starts a rotation and when it resumes one, and what it
 * carries from the idle state into the new rotation.
 */
import { describe, expect, it } from 'vitest';
import { UnavailableError, type FailedPreconditionError } from '../../../../shared/errors.js';
import { GRACE_MS, managedSecret } from './support/setup.js';

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
