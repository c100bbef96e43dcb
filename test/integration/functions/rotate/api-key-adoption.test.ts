/**
 * API-key rotation never adopts a key it did not create. Someone holding `apikeys.keys.create`
 * (but not the rotator's identity) pre-creates a key under the id the rotator will use, without
 * restrictions, hoping to have it promoted into the secret. Key ids are unpredictable; a 409 is
 * taken as the rotator's own earlier attempt only when the key carries the rotation's nonce and
 * exactly the restrictions the rotator would have set.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyIdFor } from '../../../../functions/rotate/credentials/api-key-credential.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';
import { API_SECRET, GRACE_MS, startRotationStack, type RotationStack } from './support/rotation-stack.js';

let t: RotationStack;
let restoreEnv: () => void;

beforeAll(async () => {
  t = await startRotationStack();
  restoreEnv = useEmulatorMetadata(t.stack.emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await t?.stack.stop();
});

beforeEach(() => t.crashAfter(undefined));

const emu = () => t.stack.emulator.state;
const RESTRICTIONS = { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] };
const current = () => emu().secrets.accessVersion(`${API_SECRET}/versions/current`).data.toString('utf8');
const versions = () =>
  emu()
    .secrets.listVersions(API_SECRET)
    .items.map((v) => `${v.version}:${v.state}`);

/** Sweeps (past every grace period) until the secret is idle again. */
async function settle(): Promise<void> {
  for (let i = 0; i < 6 && t.state(API_SECRET).phase !== 'idle'; i++) {
    t.clock.advance(GRACE_MS + 1);
    await t.stack.rotation.runSweep({ secrets: ['api-secret'] });
  }
  expect(t.state(API_SECRET).phase).toBe('idle');
}

describe('API-key ids and adoption', () => {
  it('does not promote a key pre-created under the id the previous scheme predicted (slug, hash of the secret id, generation)', async () => {
    const generation = t.state(API_SECRET).generation + 1;
    const predicted = `api-secret-${createHash('sha256').update('api-secret').digest('hex').slice(0, 6)}-g${generation}`;
    const planted = emu().apiKeys.create(predicted, { displayName: 'planted, unrestricted' });

    const report = (await t.stack.rotation.runSweep({ secrets: ['api-secret'], force: true })).secrets[0];
    expect(report).toMatchObject({ outcome: 'rotated' });
    expect(report.newKeyId).not.toBe(predicted);
    expect(report.newKeyId).toMatch(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/);
    expect(current()).not.toBe(planted.keyString);
    expect(emu().apiKeys.get(report.newKeyId!)?.restrictions).toEqual(RESTRICTIONS);
    expect(emu().apiKeys.get(predicted)?.deleteTime).toBeUndefined();
    await settle();
  });

  it('gives every rotation a fresh, unpredictable key id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2; i++) {
      ids.add(
        (await t.stack.rotation.runSweep({ secrets: ['api-secret'], force: true })).secrets[0].newKeyId!,
      );
      await settle();
    }
    expect(ids.size).toBe(2);
    for (const id of ids) expect(id).not.toMatch(/-g\d+$/);
  });

  it.each([
    [
      'without the nonce',
      (nonce: string) => ({
        annotations: { 'tvs-rotation-secret': API_SECRET, 'tvs-rotation-nonce': `${nonce}x` },
        restrictions: RESTRICTIONS,
      }),
    ],
    [
      'with the nonce but no restrictions',
      (nonce: string) => ({
        annotations: { 'tvs-rotation-secret': API_SECRET, 'tvs-rotation-nonce': nonce },
      }),
    ],
    [
      'with the nonce but other restrictions',
      (nonce: string) => ({
        annotations: { 'tvs-rotation-secret': API_SECRET, 'tvs-rotation-nonce': nonce },
        restrictions: { apiTargets: [{ service: 'aiplatform.googleapis.com' }] },
      }),
    ],
  ])('refuses a key found under its own id %s, creating nothing else', async (_what, planted) => {
    // A run killed right after its claim has recorded the nonce (readable by whoever reads the
    // secret's metadata): the attacker plants a key under the id that nonce leads to.
    t.crashAfter('claim');
    await expect(t.stack.rotation.runSweep({ secrets: ['api-secret'], force: true })).rejects.toThrow(
      'killed after claim',
    );
    const nonce = t.state(API_SECRET).nonce!;
    expect(nonce).toMatch(/^[a-z0-9]{16,64}$/);
    const keyId = apiKeyIdFor('api-secret', nonce);
    emu().apiKeys.create(keyId, { displayName: 'planted', ...planted(nonce) });
    const keysBefore = emu()
      .apiKeys.list()
      .map((k) => k.keyId)
      .sort();
    const versionsBefore = versions();
    const currentBefore = current();

    t.clock.advance(11 * 60_000); // past the dead run's claim
    const report = (await t.stack.rotation.runSweep({ secrets: ['api-secret'] })).secrets[0];
    expect(report).toMatchObject({
      outcome: 'failed',
      phase: 'idle',
      error: { code: 'FAILED_PRECONDITION', reason: 'API_KEY_ID_CONFLICT' },
    });
    expect(
      emu()
        .apiKeys.list()
        .map((k) => k.keyId)
        .sort(),
    ).toEqual(keysBefore);
    expect(versions()).toEqual(versionsBefore);
    expect(current()).toBe(currentBefore);
    expect(t.state(API_SECRET)).toMatchObject({ phase: 'idle', lastError: 'API_KEY_ID_CONFLICT' });

    // The next run starts over with a fresh nonce, hence a fresh id.
    const next = (await t.stack.rotation.runSweep({ secrets: ['api-secret'], force: true })).secrets[0];
    expect(next).toMatchObject({ outcome: 'rotated' });
    expect(next.newKeyId).not.toBe(keyId);
    emu().apiKeys.delete(keyId);
    await settle();
  });
});
