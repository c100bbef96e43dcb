import { describe, expect, it } from 'vitest';
import { API_TARGET, GRACE_MS, managedSecret, PERIOD_MS, SA_TARGET } from './support/setup.js';

const OTHER_SA = 'other@proj-12345.iam.gserviceaccount.com';

describe('the rotation binding decides what a secret rotates', () => {
  it('rotates a secret whose leftover config annotations agree with the binding', async () => {
    const t = managedSecret('sa');
    Object.assign(t.secrets.secret(t.name).info.annotations, {
      'tvs.rotation.target': SA_TARGET,
      'tvs.rotation.period': `${PERIOD_MS / 1000}s`,
      'tvs.rotation.grace': `${GRACE_MS / 1000}s`,
    });
    expect(await t.run()).toMatchObject({ outcome: 'rotated' });
  });

  it.each([
    ['tvs.rotation.target', OTHER_SA, 'annotation tvs.rotation.target'],
    ['tvs.rotation.period', '7200000s', 'tvs.rotation.period'],
    ['tvs.rotation.grace', '60s', 'tvs.rotation.grace'],
  ])('refuses a secret whose %s annotation disagrees, touching nothing', async (key, value, named) => {
    const t = managedSecret('sa');
    t.secrets.secret(t.name).info.annotations[key] = value;
    const report = await t.run({ force: true });
    expect(report).toMatchObject({
      outcome: 'failed',
      actions: [],
      error: {
        code: 'FAILED_PRECONDITION',
        reason: 'BINDING_MISMATCH',
        message: expect.stringContaining(named),
      },
    });
    expect(report.error!.message).not.toContain(OTHER_SA);
    expect(t.secrets.writes).toBe(0);
    expect(t.keys.creates).toBe(0);
    expect(t.audit.entries).toEqual([
      { step: 'run', ok: false, reason: 'BINDING_MISMATCH', fields: { secret: 'my-secret' } },
    ]);
  });

  it('refuses a secret whose kind label disagrees with the binding', async () => {
    const t = managedSecret('api');
    t.secrets.secret(t.name).info.labels['tvs-kind'] = 'sa-key';
    expect(await t.run({ force: true })).toMatchObject({
      outcome: 'failed',
      error: { reason: 'BINDING_MISMATCH', message: expect.stringContaining('tvs-kind') },
    });
    expect(t.keys.creates).toBe(0);
  });

  it('refuses a labelled secret that is in no binding, on a sweep and on a notice', async () => {
    const t = managedSecret('sa');
    t.bindings.delete('my-secret');
    expect(await t.run({ force: true })).toMatchObject({
      secret: 'my-secret',
      outcome: 'failed',
      error: { reason: 'NOT_IN_BINDING' },
    });
    expect(await t.run({ eventTimeMs: t.clock.now() })).toMatchObject({
      outcome: 'failed',
      error: { reason: 'NOT_IN_BINDING' },
    });
    expect(t.keys.creates).toBe(0);
    expect(t.secrets.writes).toBe(0);
    expect(t.audit.entries.map((e) => e.reason)).toEqual(['NOT_IN_BINDING', 'NOT_IN_BINDING']);
  });

  it('uses the target of the binding, not of the annotations, when they are absent', async () => {
    const t = managedSecret('api');
    const seen: string[] = [];
    const create = t.keys.create.bind(t.keys);
    t.keys.create = async (config: any, context: any) => {
      seen.push(config.target);
      return create(config, context);
    };
    await t.run();
    expect(seen).toEqual([API_TARGET]);
  });

  it('reports a bound secret that Secret Manager does not list as managed', async () => {
    const t = managedSecret('sa');
    t.bindings.set('gone-secret', {
      kind: 'sa-key',
      target: SA_TARGET,
      periodMs: PERIOD_MS,
      graceMs: GRACE_MS,
    });
    const { sweep } = await import('../../../../functions/rotate/sweep.js');
    const report = await sweep({
      secrets: t.secrets,
      credentials: { 'sa-key': t.keys, 'api-key': t.keys },
      now: t.clock.now,
      owner: 'r',
      claimTtlMs: 600_000,
      bindings: t.bindings,
      audit: t.audit,
      projectId: 'proj-12345',
    });
    expect(report.ok).toBe(false);
    expect(report.secrets.map((s) => [s.secret, s.outcome, s.error?.reason])).toEqual([
      ['gone-secret', 'failed', 'BOUND_SECRET_MISSING'],
      ['my-secret', 'rotated', undefined],
    ]);
    expect(t.audit.entries.find((e) => e.reason === 'BOUND_SECRET_MISSING')?.fields).toEqual({
      secret: 'gone-secret',
    });
  });
});

describe('the rotation state is checked against the binding before anything is destroyed', () => {
  const forge = (t: ReturnType<typeof managedSecret>, state: Record<string, string>) =>
    Object.assign(t.secrets.secret(t.name).info.annotations, state);
  const purging = (t: ReturnType<typeof managedSecret>, oldKey: string) =>
    forge(t, {
      'tvs.rotation.phase': 'purging',
      'tvs.rotation.generation': '1',
      'tvs.rotation.old-key': oldKey,
      'tvs.rotation.rotated-at': new Date(t.clock.now()).toISOString(),
      'tvs.rotation.disabled-at': '2020-01-01T00:00:00Z',
    });

  it('api: refuses to delete an API key that is neither the bound key nor made for this secret', async () => {
    const t = managedSecret('api');
    t.keys.seed('someone-elses');
    purging(t, 'someone-elses');
    expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(t.keys.keys.get('someone-elses')).toBe('enabled');
    expect(t.audit.entries.at(-1)).toMatchObject({ step: 'run', ok: false, reason: 'STATE_MISMATCH' });
  });

  it('api: refuses to copy the restrictions of a current-key it does not own, creating nothing', async () => {
    const t = managedSecret('api');
    t.keys.seed('unrestricted');
    forge(t, { 'tvs.rotation.current-key': 'unrestricted' });
    expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(t.keys.creates).toBe(0);
  });

  it('sa: never deletes an enabled key, and never reaches a key of another service account', async () => {
    const t = managedSecret('sa');
    const enabled = t.keys.seed('break-glass');
    purging(t, enabled);
    expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(t.keys.keys.get(enabled)).toBe('enabled');
    const other = t.keys.seed('other-sa-key');
    t.keys.otherSa.add(other);
    purging(t, other);
    expect(await t.run()).toMatchObject({ outcome: 'purged' });
    expect(t.keys.keys.get(other)).toBe('enabled');
    expect(t.audit.entries.find((e) => e.step === 'delete')).toMatchObject({
      reason: 'OLD_KEY_ALREADY_GONE',
      fields: { oldKeyId: other },
    });
  });

  it('sa: disables an old key only when the old version holds it and the current one does not', async () => {
    const t = managedSecret('sa');
    const other = t.keys.seed('break-glass');
    forge(t, {
      'tvs.rotation.phase': 'retiring',
      'tvs.rotation.generation': '1',
      'tvs.rotation.old-key': other,
      'tvs.rotation.old-version': '1',
      'tvs.rotation.rotated-at': '2020-01-01T00:00:00Z',
    });
    expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    forge(t, { 'tvs.rotation.old-key': t.originalKey });
    // k0 is in version 1, but version 1 is current: disabling it would cut the secret off.
    expect(await t.run()).toMatchObject({
      outcome: 'failed',
      error: { reason: 'STATE_MISMATCH', message: expect.any(String) },
    });
    expect(t.keys.live().sort()).toEqual(['break-glass', 'k0']);
    expect(t.keys.keys.get('k0')).toBe('enabled');
  });

  it.each([['sa'], ['api']] as const)(
    '%s: does not promote, or roll back, a new-key its version does not hold',
    async (mode) => {
      const t = managedSecret(mode);
      const victim = t.keys.seed(mode === 'api' ? 'victim' : 'victim');
      if (mode === 'api') t.keys.madeFor.set(victim, t.name);
      forge(t, {
        'tvs.rotation.phase': 'verifying',
        'tvs.rotation.generation': '1',
        'tvs.rotation.new-key': victim,
        'tvs.rotation.new-version': '1',
      });
      expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
      t.keys.failVerify = true;
      expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
      expect(t.keys.keys.get(victim)).toBe('enabled');
      expect(t.secrets.secret(t.name).versions[0].state).toBe('ENABLED');
    },
  );
});
