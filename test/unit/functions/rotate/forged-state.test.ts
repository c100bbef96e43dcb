/**
 * Rotation state forged by someone who may edit the secret's annotations, naming the credential
 * in use as the rotator's own unfinished work: the rotator must not destroy the version an alias
 * names, nor delete the key it holds (found by review: a forged `creating` or `verifying` state).
 */
import { describe, expect, it } from 'vitest';
import { GRACE_MS, managedSecret } from './support/setup.js';

type Secret = ReturnType<typeof managedSecret>;
const forge = (t: Secret, annotations: Record<string, string>) =>
  Object.assign(t.secrets.secret(t.name).info.annotations, annotations);
const intact = (t: Secret) => {
  expect(t.secrets.secret(t.name).versions[0].state).toBe('ENABLED');
  expect(t.secrets.currentPayload(t.name)).toBe(`secret:${t.originalKey}`);
  expect(t.keys.keys.get(t.originalKey)).toBe('enabled');
  expect(t.secrets.log).not.toContain('destroy');
  expect(t.secrets.log).not.toContain('key-delete');
};

describe('forged rotation state naming the credential in use', () => {
  it.each(['sa', 'api'] as const)(
    '%s: a `creating` state whose new-key is the current key destroys and deletes nothing',
    async (mode) => {
      const t = managedSecret(mode);
      forge(t, {
        'tvs.rotation.phase': 'creating',
        'tvs.rotation.generation': '1',
        'tvs.rotation.new-key': t.originalKey,
      });
      expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
      intact(t);
    },
  );

  it.each(['sa', 'api'] as const)(
    '%s: a `verifying` state whose new key and version are the current ones is not rolled back onto them',
    async (mode) => {
      const t = managedSecret(mode);
      t.keys.failVerify = true;
      forge(t, {
        'tvs.rotation.phase': 'verifying',
        'tvs.rotation.generation': '1',
        'tvs.rotation.new-key': t.originalKey,
        'tvs.rotation.new-version': '1',
      });
      expect(await t.run()).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
      expect(t.keys.keys.get(t.originalKey)).toBe('enabled');
      expect(t.secrets.log).not.toContain('key-delete');
    },
  );
});

describe('retirement suppressed by deleting the old-key annotation', () => {
  it('sa: the key that was never retired is reported when the rotation ends, not forgotten', async () => {
    const t = managedSecret('sa');
    expect(await t.run({ force: true })).toMatchObject({ outcome: 'rotated', oldKeyId: t.originalKey });
    // Someone holding the old key (leaked) keeps it alive by erasing what the rotator would retire.
    delete t.secrets.secret(t.name).info.annotations['tvs.rotation.old-key'];
    t.clock.advance(GRACE_MS + 1);
    await t.run();
    t.clock.advance(GRACE_MS + 1);
    const purged = await t.run();
    expect(purged).toMatchObject({ outcome: 'purged', foreignKeyIds: [t.originalKey] });
    expect(t.audit.entries).toContainEqual(
      expect.objectContaining({
        reason: 'FOREIGN_KEY_KEPT',
        fields: expect.objectContaining({ keyId: t.originalKey }),
      }),
    );
  });
});
