/**
 * The `creating` phase alone: what it audits, and what a refusal that retrying cannot change leaves
 * behind (the secret back to idle as it was, with the reason, the claim released) versus a
 * transient failure (the rotation stays claimed in its phase, to be resumed).
 */
import { describe, expect, it } from 'vitest';
import {
  FailedPreconditionError,
  InvalidArgumentError,
  PermissionDeniedError,
  UnavailableError,
  type TvsError,
} from '../../../../shared/errors.js';
import type { Step } from '../../../../functions/rotate/report.js';
import { create } from '../../../../functions/rotate/steps/create.js';
import { CLAIM_TTL_MS, GRACE_MS, managedSecret, runStepContext } from './support/setup.js';

type Secret = ReturnType<typeof managedSecret>;
const OWNER = 'run-stopped';

/** Starts a rotation of `t` as run OWNER and stops it right after its claim, as if it died there. */
async function stopAfterClaim(t: Secret, options: { force?: boolean } = {}): Promise<void> {
  const afterStep = (step: Step) => {
    if (step === 'claim') throw new Error('stopped');
  };
  await expect(t.run({ ...options, owner: OWNER, afterStep })).rejects.toThrow('stopped');
  expect(t.state()).toMatchObject({ phase: 'creating', claim: { owner: OWNER } });
}

/** The step context of run OWNER over the secret as stored now. */
const stepContext = (t: Secret) => runStepContext(t, { owner: OWNER });

/** Every error the runs of `t` audit as failed, with its detail (which the audit log carries). */
function recordFailures(t: Secret): TvsError[] {
  const failures: TvsError[] = [];
  const failed = t.audit.failed.bind(t.audit);
  t.audit.failed = (step, fields, error) => {
    failures.push(error);
    failed(step, fields, error);
  };
  return failures;
}

/** A secret rotated once and purged back to idle, so its state has a current key and a rotation time. */
async function rotatedOnce(mode: 'sa' | 'api') {
  const t = managedSecret(mode);
  expect(await t.run({ force: true })).toMatchObject({ outcome: 'rotated' });
  for (let i = 0; i < 4 && t.state().phase !== 'idle'; i++) {
    t.clock.advance(GRACE_MS + 1);
    await t.run();
  }
  expect(t.state()).toMatchObject({ phase: 'idle', generation: 1 });
  expect(t.state().rotatedAtMs).toBeTypeOf('number');
  return t;
}

describe('the creating phase', () => {
  it.each(['sa', 'api'] as const)('%s: audits the created key, then the stored version', async (mode) => {
    const t = managedSecret(mode);
    await t.run({ force: true });
    const create = t.audit.entries.find((e) => e.step === 'create');
    const store = t.audit.entries.find((e) => e.step === 'store');
    const newKey = t.state().currentKey;
    expect(newKey).not.toBe(t.originalKey);
    expect(create).toMatchObject({ ok: true, reason: 'KEY_CREATED', fields: { newKeyId: newKey } });
    expect(store).toMatchObject({
      ok: true,
      reason: 'VERSION_ADDED',
      fields: { newKeyId: newKey, version: 2 },
    });
  });

  it.each([
    ['FAILED_PRECONDITION', new FailedPreconditionError('no', { reason: 'KEY_CAP_REACHED' })],
    ['PERMISSION_DENIED', new PermissionDeniedError('no', { reason: 'IAM_PERMISSION_DENIED' })],
    ['INVALID_ARGUMENT', new InvalidArgumentError('no', { reason: 'BAD_RESTRICTIONS' })],
  ] as const)(
    'a definite refusal (%s) gives the secret back idle as it was, with the reason, and releases the claim',
    async (_code, refusal) => {
      const t = await rotatedOnce('api');
      const before = t.state();
      t.keys.refuseCreate = refusal as unknown as FailedPreconditionError;
      t.clock.advance(1000);
      const result = await t.run({ force: true });
      expect(result).toMatchObject({ outcome: 'failed' });
      const after = t.state();
      expect(after).toMatchObject({
        phase: 'idle',
        generation: before.generation + 1, // the claim's generation, so the next run starts a new one
        currentKey: before.currentKey,
        rotatedAtMs: before.rotatedAtMs,
        lastError: (refusal as TvsError).reason,
      });
      expect(after.claim).toBeUndefined();
      expect(t.secrets.secret(t.name).versions.filter((v) => v.state === 'ENABLED')).toHaveLength(1);
    },
  );

  it('a transient failure keeps the rotation claimed in its phase, to be resumed', async () => {
    const t = await rotatedOnce('api');
    t.keys.refuseCreate = new UnavailableError('later', {
      reason: 'UPSTREAM_UNAVAILABLE',
    }) as unknown as FailedPreconditionError;
    t.clock.advance(1000);
    expect(await t.run({ force: true })).toMatchObject({ outcome: 'failed' });
    expect(t.state()).toMatchObject({
      phase: 'creating',
      generation: 2,
      lastError: 'UPSTREAM_UNAVAILABLE',
    });
    t.keys.refuseCreate = undefined;
    expect(await t.run()).toMatchObject({ outcome: 'rotated' });
  });

  it('refuses to create an API key from a current key this secret does not own', async () => {
    const t = await rotatedOnce('api');
    const current = t.state().currentKey!;
    t.keys.madeFor.delete(current);
    const failures = recordFailures(t);
    t.clock.advance(1000);
    const result = await t.run({ force: true });
    expect(result).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(t.keys.creates).toBe(1);
    // The audit log's detail names the key and its role, so an operator knows which annotation lies.
    expect(failures.map((e) => e.detail)).toEqual([
      `current-key ${current} is not a key of the bound target made for this secret`,
    ]);
  });

  it('a resumed rotation creates with the nonce drawn at the claim, not a new one', async () => {
    const t = managedSecret('api');
    const nonces: Array<string | undefined> = [];
    const create = t.keys.create.bind(t.keys);
    t.keys.create = (c: unknown, context: { generation: number; secretName: string; nonce?: string }) => {
      nonces.push(context.nonce);
      return create(c, context);
    };
    t.keys.loseNextCreate = true;
    expect(await t.run({ force: true })).toMatchObject({ outcome: 'failed' });
    expect(await t.run()).toMatchObject({ outcome: 'rotated' });
    expect(nonces).toHaveLength(2);
    expect(nonces[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(nonces[1]).toBe(nonces[0]);
  });

  it('a rotation claimed before nonces existed draws one and records it before creating the key', async () => {
    const t = managedSecret('api');
    await stopAfterClaim(t);
    delete t.secrets.secret(t.name).info.annotations['tvs.rotation.nonce'];
    const seen: Array<{ given?: string; recorded?: string }> = [];
    const create = t.keys.create.bind(t.keys);
    t.keys.create = (c: unknown, context: { generation: number; secretName: string; nonce?: string }) => {
      seen.push({ given: context.nonce, recorded: t.state().nonce });
      return create(c, context);
    };
    t.clock.advance(CLAIM_TTL_MS + 1);
    expect(await t.run()).toMatchObject({ outcome: 'rotated' });
    expect(seen).toHaveLength(1);
    expect(seen[0].given).toMatch(/^[0-9a-f]{32}$/);
    expect(seen[0].recorded).toBe(seen[0].given);
  });
});

describe('the creating step on its own', () => {
  it('releases the claim itself on a definite refusal, leaving the secret idle as it was', async () => {
    const t = await rotatedOnce('sa');
    const before = t.state();
    await stopAfterClaim(t, { force: true });
    const refusal = new FailedPreconditionError('cap', { reason: 'KEY_CAP' });
    t.keys.refuseCreate = refusal;
    const { ctx, session } = await stepContext(t);

    await expect(create(ctx)).rejects.toBe(refusal);
    expect(session.state.claim).toBeUndefined();
    expect(t.state()).toEqual({
      phase: 'idle',
      generation: 2,
      currentKey: before.currentKey,
      rotatedAtMs: before.rotatedAtMs,
      lastError: 'KEY_CAP',
    });
  });

  it('keeps the claim on a transient failure, for the caller to resume or release', async () => {
    const t = managedSecret('sa');
    await stopAfterClaim(t);
    const outage = new UnavailableError('later', { reason: 'UPSTREAM_UNAVAILABLE' });
    t.keys.refuseCreate = outage as unknown as FailedPreconditionError;
    const { ctx } = await stepContext(t);

    await expect(create(ctx)).rejects.toBe(outage);
    expect(t.state()).toMatchObject({ phase: 'creating', generation: 1, claim: { owner: OWNER } });
    expect(t.state().lastError).toBeUndefined();
  });
});
