import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../../shared/crc32c.js';
import { SecretManagerError } from '../../../../emulator/secret-manager/secret-manager-error.js';
import type { SecretNotification } from '../../../../emulator/secret-manager/secret-model.js';
import { SecretStore } from '../../../../emulator/secret-manager/secret-store.js';

const T0 = new Date('2026-01-10T08:00:00Z');

function setup() {
  let now = T0;
  const store = new SecretStore({ projectId: 'proj', projectNumber: '42', now: () => now });
  const events: SecretNotification[] = [];
  store.on('notification', (n: SecretNotification) => events.push(n));
  return {
    store,
    events,
    advance: (ms: number): void => {
      now = new Date(now.getTime() + ms);
    },
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof SecretManagerError) return error.status;
    throw error;
  }
  throw new Error('expected a SecretManagerError');
}

describe('SecretStore', () => {
  it('seeds a secret with enabled versions and aliases, readable by id or number', () => {
    const { store } = setup();
    store.seedSecret('sa-key', { labels: { kind: 'sa-key' }, versionAliases: { current: 2 } }, [
      Buffer.from('one'),
      Buffer.from('two'),
    ]);
    const secret = store.getSecret('projects/42/secrets/sa-key');
    expect(secret.name).toBe('projects/42/secrets/sa-key');
    expect(secret.labels).toEqual({ kind: 'sa-key' });
    expect(secret.versionAliases).toEqual({ current: 2 });
    const accessed = store.accessVersion('projects/proj/secrets/sa-key/versions/current');
    expect(accessed).toEqual({
      name: 'projects/42/secrets/sa-key/versions/2',
      data: Buffer.from('two'),
      dataCrc32c: crc32c(Buffer.from('two')),
    });
  });

  it('refuses a seed whose alias points at a version that does not exist', () => {
    const { store } = setup();
    expect(codeOf(() => store.seedSecret('s', { versionAliases: { current: 3 } }, [Buffer.from('x')]))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('gives each change a new, increasing etag even within one millisecond', () => {
    const { store } = setup();
    store.seedSecret('s', {}, []);
    const etags = [store.getSecret('projects/proj/secrets/s').etag];
    for (let i = 0; i < 3; i++)
      etags.push(
        store.updateSecret({ name: 'projects/proj/secrets/s', labels: { i: String(i) } }, ['labels']).etag,
      );
    expect(new Set(etags).size).toBe(4);
    expect(etags.every((e) => /^"[0-9a-f]+"$/.test(e))).toBe(true);
  });

  it('lets exactly one of two updates carrying the same etag win', () => {
    const { store } = setup();
    store.seedSecret('s', {}, []);
    const { etag } = store.getSecret('projects/proj/secrets/s');
    store.updateSecret({ name: 'projects/proj/secrets/s', etag, labels: { a: '1' } }, ['labels']);
    expect(
      codeOf(() =>
        store.updateSecret({ name: 'projects/proj/secrets/s', etag, labels: { a: '2' } }, ['labels']),
      ),
    ).toBe('FAILED_PRECONDITION');
  });

  it('keeps the secret etag when a version changes, and the version etag when the secret changes', () => {
    const { store } = setup();
    store.seedSecret('s', {}, [Buffer.from('x')]);
    const secretEtag = store.getSecret('projects/proj/secrets/s').etag;
    store.disableVersion('projects/proj/secrets/s/versions/1');
    expect(store.getSecret('projects/proj/secrets/s').etag).toBe(secretEtag);
    const versionEtag = store.getVersion('projects/proj/secrets/s/versions/1').etag;
    store.updateSecret({ name: 'projects/proj/secrets/s', labels: {} }, ['labels']);
    expect(store.getVersion('projects/proj/secrets/s/versions/1').etag).toBe(versionEtag);
  });

  it('accepts only version numbers for enable, disable and destroy', () => {
    const { store } = setup();
    store.seedSecret('s', { versionAliases: { a: 1 } }, [Buffer.from('x')]);
    expect(codeOf(() => store.disableVersion('projects/proj/secrets/s/versions/a'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => store.destroyVersion('projects/proj/secrets/s/versions/latest'))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('deletes an expired secret at its expire time and announces the deletion', () => {
    const { store, events, advance } = setup();
    store.createSecret('projects/proj', 'short', {
      replication: { automatic: {} },
      ttlSeconds: 60,
      topics: [{ name: 'projects/p/topics/t' }],
    });
    expect(store.getSecret('projects/proj/secrets/short').expireTime).toEqual(
      new Date(T0.getTime() + 60_000),
    );
    advance(60_000);
    expect(codeOf(() => store.getSecret('projects/proj/secrets/short'))).toBe('NOT_FOUND');
    expect(events.map((e) => e.eventType)).toEqual(['SECRET_CREATE', 'SECRET_DELETE']);
  });

  it('schedules a delayed destroy, lets enable cancel it, and destroys when it comes due', () => {
    const { store, events, advance } = setup();
    store.createSecret('projects/proj', 'd', {
      replication: { automatic: {} },
      versionDestroyTtlSeconds: 3600,
      topics: [{ name: 'projects/p/topics/t' }],
    });
    store.addVersion('projects/proj/secrets/d', { data: Buffer.from('x') });
    const scheduled = store.destroyVersion('projects/proj/secrets/d/versions/1');
    expect(scheduled.state).toBe('DISABLED');
    expect(scheduled.scheduledDestroyTime).toEqual(new Date(T0.getTime() + 3_600_000));
    const restored = store.enableVersion('projects/proj/secrets/d/versions/1');
    expect(restored.scheduledDestroyTime).toBeUndefined();
    store.destroyVersion('projects/proj/secrets/d/versions/1');
    advance(3_600_000);
    const destroyed = store.getVersion('projects/proj/secrets/d/versions/1');
    expect(destroyed.state).toBe('DESTROYED');
    expect(destroyed.destroyTime).toEqual(new Date(T0.getTime() + 3_600_000));
    expect(codeOf(() => store.accessVersion('projects/proj/secrets/d/versions/1'))).toBe(
      'FAILED_PRECONDITION',
    );
    expect(events.map((e) => e.eventType)).toEqual([
      'SECRET_CREATE',
      'SECRET_VERSION_ADD',
      'SECRET_VERSION_DESTROY_SCHEDULED',
      'SECRET_VERSION_ENABLE',
      'SECRET_VERSION_DESTROY_SCHEDULED',
      'SECRET_VERSION_DESTROY',
    ]);
  });

  it('rotates a one-off schedule once and clears it', () => {
    const { store, events } = setup();
    const next = new Date(T0.getTime() + 600_000);
    store.createSecret('projects/proj', 'r', {
      replication: { automatic: {} },
      topics: [{ name: 'projects/p/topics/t' }],
      rotation: { nextRotationTime: next },
    });
    expect(store.rotateDue(new Date(next.getTime() + 1))).toEqual(['projects/42/secrets/r']);
    expect(store.rotateDue(new Date(next.getTime() + 10_000_000))).toEqual([]);
    expect(events.at(-1)).toMatchObject({
      eventType: 'SECRET_ROTATE',
      secretId: 'projects/proj/secrets/r',
      data: { rotation: {} },
    });
  });

  it('advances a periodic rotation past now by whole periods, announcing once', () => {
    const { store, events } = setup();
    const next = new Date(T0.getTime() + 600_000);
    store.createSecret('projects/proj', 'p', {
      replication: { automatic: {} },
      topics: [{ name: 'projects/p/topics/t' }],
      rotation: { nextRotationTime: next, rotationPeriodSeconds: 3600 },
    });
    store.rotateDue(new Date(next.getTime() + 2.5 * 3_600_000));
    expect(store.getSecret('projects/proj/secrets/p').rotation?.nextRotationTime).toEqual(
      new Date(next.getTime() + 3 * 3_600_000),
    );
    expect(events.filter((e) => e.eventType === 'SECRET_ROTATE')).toHaveLength(1);
  });

  it('pages stably when secrets are created between pages', () => {
    const { store } = setup();
    for (const id of ['a', 'b', 'c', 'd']) store.seedSecret(id, {}, []);
    const first = store.listSecrets('projects/proj', { pageSize: 2 });
    expect(first.items.map((s) => s.secretId)).toEqual(['d', 'c']);
    expect(first.totalSize).toBe(4);
    store.seedSecret('e', {}, []);
    const second = store.listSecrets('projects/proj', { pageSize: 2, pageToken: first.nextPageToken });
    expect(second.items.map((s) => s.secretId)).toEqual(['b', 'a']);
    expect(second.nextPageToken).toBe('');
  });

  it('refuses a negative page size and a forged page token', () => {
    const { store } = setup();
    expect(codeOf(() => store.listSecrets('projects/proj', { pageSize: -1 }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => store.listSecrets('projects/proj', { pageToken: 'not-a-token' }))).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('rejects regional secret names as UNIMPLEMENTED and malformed names as INVALID_ARGUMENT', () => {
    const { store } = setup();
    expect(codeOf(() => store.getSecret('projects/proj/locations/us-east1/secrets/s'))).toBe('UNIMPLEMENTED');
    expect(codeOf(() => store.getSecret('projects/proj/secret/s'))).toBe('INVALID_ARGUMENT');
  });

  it('keeps its state private: returned objects are copies', () => {
    const { store } = setup();
    store.seedSecret('s', { labels: { a: 'b' } }, []);
    store.getSecret('projects/proj/secrets/s').labels.a = 'changed';
    expect(store.getSecret('projects/proj/secrets/s').labels).toEqual({ a: 'b' });
  });
});
