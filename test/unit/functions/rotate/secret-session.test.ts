/**
 * The session writes rotation state only by compare-and-swap against the etag it read: a change
 * made by anyone in between (another run, an operator) is never overwritten.
 */
import { describe, expect, it } from 'vitest';
import { BusyError, ConflictError, SecretSession } from '../../../../functions/rotate/secret-session.js';
import { AbortedError, PermissionDeniedError } from '../../../../shared/errors.js';
import { fakeClock, FakeSecrets } from './support/fakes.js';
import { GRACE_MS, PERIOD_MS, SA_TARGET } from './support/setup.js';

const CONFIG = { kind: 'sa-key' as const, target: SA_TARGET, periodMs: PERIOD_MS, graceMs: GRACE_MS };

function setup() {
  const secrets = new FakeSecrets();
  const clock = fakeClock();
  const name = secrets.add('s', { 'tvs-managed': 'true' }, { 'other.tool': 'kept' }, ['secret:k0'], {
    current: 1,
  });
  const open = async (owner: string) =>
    new SecretSession(
      { secrets, now: clock.now, owner, claimTtlMs: 600_000 },
      await secrets.get(name),
      CONFIG,
    );
  return { secrets, clock, name, open };
}

describe('SecretSession.save', () => {
  it('writes the state with the etag it read, renewing its claim', async () => {
    const { secrets, name, open } = setup();
    const session = await open('run-a');
    await session.save({ ...session.state, phase: 'creating', generation: 1 });
    expect(secrets.secret(name).info.annotations).toMatchObject({
      'tvs.rotation.phase': 'creating',
      'other.tool': 'kept',
    });
    expect(session.holdsClaim()).toBe(true);
  });

  it('loses the swap, and overwrites nothing, when someone changed the secret after it was read', async () => {
    const { secrets, name, open } = setup();
    const session = await open('run-a');
    // An operator edits the secret between the run's read and its write.
    const fresh = await secrets.get(name);
    await secrets.update(
      name,
      { annotations: { ...fresh.annotations, 'operator.note': 'paused' } },
      fresh.etag,
    );

    await expect(session.save({ ...session.state, phase: 'creating', generation: 1 })).rejects.toBeInstanceOf(
      ConflictError,
    );
    const stored = secrets.secret(name).info.annotations;
    expect(stored['operator.note']).toBe('paused');
    expect(stored['tvs.rotation.phase']).toBeUndefined();
    // The session re-read the secret: its next write is based on what is there now.
    expect(session.info.annotations['operator.note']).toBe('paused');
  });

  it('reports the secret busy when the concurrent writer was another run that holds the claim', async () => {
    const { open } = setup();
    const a = await open('run-a');
    const b = await open('run-b');
    await b.save({ ...b.state, phase: 'creating', generation: 1 });
    await expect(a.save({ ...a.state, phase: 'creating', generation: 1 })).rejects.toBeInstanceOf(BusyError);
  });

  it('reassert() renews the claim by the same swap, and fails once another run moved the secret', async () => {
    const { clock, open } = setup();
    const a = await open('run-a');
    await a.save({ ...a.state, phase: 'verifying', generation: 1 });
    clock.advance(700_000); // a's claim lapsed
    const b = await open('run-b');
    await b.save({ ...b.state });
    await expect(a.reassert()).rejects.toBeInstanceOf(BusyError);
  });
});

describe('SecretSession claims', () => {
  /** `a` has saved (claim until now + ttl); `b` is another run that read the secret afterwards. */
  async function claimedByA() {
    const t = setup();
    const a = await t.open('run-a');
    await a.save({ ...a.state, phase: 'creating', generation: 1 });
    const b = await t.open('run-b');
    const untilMs = t.clock.now() + 600_000;
    return { ...t, a, b, untilMs };
  }

  it('holds only its own claim: another run sees the claim but does not hold it', async () => {
    const { a, b } = await claimedByA();
    expect(a.holdsClaim()).toBe(true);
    expect(b.holdsClaim()).toBe(false);
  });

  it('a claim ends at its expiry instant: held one millisecond before, not at it', async () => {
    const { a, clock, untilMs } = await claimedByA();
    clock.set(untilMs - 1);
    expect(a.holdsClaim()).toBe(true);
    clock.set(untilMs);
    expect(a.holdsClaim()).toBe(false);
  });

  it('another run is busy until the claim expires, and free at the expiry instant', async () => {
    const { b, clock, untilMs } = await claimedByA();
    clock.set(untilMs - 1);
    let busy: unknown;
    try {
      b.assertNotClaimedByOther();
    } catch (err) {
      busy = err;
    }
    expect(busy).toBeInstanceOf(BusyError);
    expect(busy).toMatchObject({
      name: 'BusyError',
      message: 'claimed by run run-a',
      owner: 'run-a',
      untilMs,
    });
    clock.set(untilMs);
    expect(() => b.assertNotClaimedByOther()).not.toThrow();
  });
});

describe('SecretSession.save errors', () => {
  /** A session whose next update rejects with `error`. */
  async function failingUpdate(error: Error) {
    const t = setup();
    const session = await t.open('run-a');
    t.secrets.update = () => Promise.reject(error);
    return session;
  }

  it('a lost swap is a ConflictError naming the secret, caused by the ETAG_MISMATCH', async () => {
    const lost = new AbortedError('changed', { reason: 'ETAG_MISMATCH' });
    const session = await failingUpdate(lost);
    const err: unknown = await session.save({ ...session.state }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({
      name: 'ConflictError',
      message: 'secret s changed concurrently',
      cause: lost,
    });
  });

  it.each([
    [
      'an error of our model with another reason',
      new AbortedError('aborted', { reason: 'SECRET_MANAGER_ABORTED' }),
    ],
    ['a permission error', new PermissionDeniedError('denied', { reason: 'SECRET_MANAGER_DENIED' })],
    [
      'an error outside our model, even one carrying reason ETAG_MISMATCH',
      Object.assign(new Error('raw client error'), { reason: 'ETAG_MISMATCH' }),
    ],
  ])('passes %s through unchanged', async (_name, error) => {
    const session = await failingUpdate(error);
    await expect(session.save({ ...session.state })).rejects.toBe(error);
  });
});
