/**
 * The rotation function end to end: the real Secret Manager client, google-auth-library against
 * the emulated metadata server, IAM keys, API Keys v2 and Gemini REST on the emulator, over
 * real sockets; the clock that schedules grace periods is injected.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Step } from '../../../../functions/rotate/report.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';
import {
  API_SECRET,
  GRACE_MS,
  PERIOD_MS,
  ROTATED_SA,
  SA_SECRET,
  startRotationStack,
  type RotationStack,
} from './support/rotation-stack.js';

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

beforeEach(() => {
  t.stack.emulator.faults.reset();
  t.crashAfter(undefined);
});

const emu = () => t.stack.emulator.state;
const liveSaKeys = () =>
  emu()
    .serviceAccounts.listKeys(ROTATED_SA, { keyTypes: ['USER_MANAGED'] })
    .map((k) => k.keyId)
    .sort();
const liveApiKeys = () =>
  emu()
    .apiKeys.list()
    .map((k) => k.keyId)
    .sort();
const current = (secret: string) =>
  emu().secrets.accessVersion(`${secret}/versions/current`).data.toString('utf8');
const enabledVersions = (secret: string) =>
  emu()
    .secrets.listVersions(secret)
    .items.filter((v) => v.state === 'ENABLED')
    .map((v) => v.version);
const currentSaKeyId = () => (JSON.parse(current(SA_SECRET)) as { private_key_id: string }).private_key_id;
const currentApiKeyId = () => emu().apiKeys.lookup(current(API_SECRET))?.keyId;

async function post(body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(t.stack.rotateUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: await t.stack.rotateAuthorization() },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** Runs sweeps (advancing the clock past every grace period and claim) until the secret is idle again. */
async function runUntilIdle(secret: string, first: { force?: boolean } = {}): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < 8; i++) {
    try {
      const report = await t.stack.rotation.runSweep({ secrets: [secret], ...(i === 0 ? first : {}) });
      outcomes.push(report.secrets[0].outcome);
    } catch (err) {
      outcomes.push(`crash:${(err as Error).message}`);
    }
    if (t.state(secret).phase === 'idle' && i > 0 && !outcomes.at(-1)!.startsWith('crash')) break;
    t.clock.advance(GRACE_MS + 1);
  }
  return outcomes;
}

describe('rotate (HTTP)', () => {
  it('plans without changing anything on dryRun', async () => {
    const versions = emu().secrets.listVersions(SA_SECRET).items.length;
    const keys = liveSaKeys();
    const { status, json } = await post({ dryRun: true });
    expect(status).toBe(200);
    expect(json).toMatchObject({ ok: true, dryRun: true });
    expect(json.secrets.map((s: any) => [s.secret, s.outcome])).toEqual([
      ['api-secret', 'planned'],
      ['sa-secret', 'planned'],
    ]);
    expect(json.secrets[1].plan.join(' ')).toContain(`create a new service-account key for ${ROTATED_SA}`);
    expect(emu().secrets.listVersions(SA_SECRET).items).toHaveLength(versions);
    expect(liveSaKeys()).toEqual(keys);
    expect(t.state(SA_SECRET)).toEqual({ phase: 'idle', generation: 0 });
  });

  it.each([
    [{ dryRun: 'yes' }, 'dryRun'],
    [{ secrets: ['../etc'] }, 'secrets.0'],
    [{ unknown: 1 }, 'unknown'],
  ])("refuses a bad body %j with 400 in Google's error model", async (body, field) => {
    const { status, json } = await post(body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(json.error.message).toContain(field);
  });

  it('reports an unmanaged secret named in the request as failed, with a non-2xx status', async () => {
    const { status, json } = await post({ secrets: ['unmanaged'], dryRun: true });
    expect(status).toBe(500);
    expect(json.secrets[0]).toMatchObject({
      secret: 'unmanaged',
      outcome: 'failed',
      error: { reason: 'NOT_MANAGED' },
    });
  });
});

describe.each([
  ['sa-key', SA_SECRET, liveSaKeys, currentSaKeyId],
  ['api-key', API_SECRET, liveApiKeys, currentApiKeyId],
] as const)('%s: crash matrix', (kind, secret, liveKeys, currentKeyId) => {
  const STEPS: Step[] = ['claim', 'create', 'store', 'verify', 'promote', 'disable', 'delete'];

  it.each(STEPS)(
    'a run killed after %s converges to exactly one new credential, the old one retired',
    async (step) => {
      const before = currentKeyId()!;
      expect(liveKeys()).toEqual([before]);
      const generation = t.state(secret).generation;
      t.crashAfter(step);
      const outcomes = await runUntilIdle(secret, { force: true });
      expect(outcomes).toContain(`crash:killed after ${step}`);
      expect(outcomes.at(-1)).toBe('purged');

      const state = t.state(secret);
      expect(state).toMatchObject({ phase: 'idle', generation: generation + 1 });
      expect(state.claim).toBeUndefined();
      const after = currentKeyId();
      expect(after).toBe(state.currentKey);
      expect(after).not.toBe(before);
      // One live credential: the new one. The old one and anything a crashed run made are gone.
      expect(liveKeys()).toEqual([after]);
      expect(enabledVersions(secret)).toEqual([emu().secrets.getSecret(secret).versionAliases.current]);
      if (kind === 'api-key') expect(emu().apiKeys.get(before)?.deleteTime).toBeInstanceOf(Date);
    },
  );
});

describe('concurrency and notices', () => {
  it('lets one of two concurrent runs rotate and tells the other it is busy', async () => {
    const keys = liveSaKeys().length;
    const [a, b] = await Promise.all([
      t.stack.rotation.runSweep({ secrets: ['sa-secret'], force: true }),
      t.stack.rotation.runSweep({ secrets: ['sa-secret'], force: true }),
    ]);
    expect([a.secrets[0].outcome, b.secrets[0].outcome].sort()).toEqual(['busy', 'rotated']);
    expect(liveSaKeys()).toHaveLength(keys + 1);
    expect(await runUntilIdle(SA_SECRET)).toContain('purged');
  });

  it('acts on SECRET_ROTATE pushed through Pub/Sub once however often it is delivered, and ignores other types', async () => {
    const pubsub = t.stack.emulator.pubsub;
    const sub = pubsub.subscribe('tvs-rotation', t.stack.rotateEventsUrl, { copies: 3 });
    try {
      const generation = t.state(API_SECRET).generation;
      pubsub.publish('tvs-rotation', { eventType: 'TOPIC_CONFIGURED' }, Buffer.from(''));
      pubsub.publish(
        'tvs-rotation',
        {
          eventType: 'SECRET_VERSION_ADD',
          secretId: API_SECRET,
          timestamp: new Date(t.clock.now()).toISOString(),
        },
        Buffer.from('{}'),
      );
      await pubsub.idle();
      expect(t.state(API_SECRET).generation).toBe(generation);

      const notice = {
        eventType: 'SECRET_ROTATE',
        dataFormat: 'JSON_API_V1',
        secretId: API_SECRET,
        timestamp: new Date(t.clock.now() - 1000).toISOString(),
      };
      t.clock.advance(PERIOD_MS / 2); // at least half a period since the last rotation
      pubsub.publish('tvs-rotation', notice, Buffer.from('{}'));
      pubsub.publish('tvs-rotation', notice, Buffer.from('{}')); // a duplicate, and a late one:
      pubsub.publish(
        'tvs-rotation',
        { ...notice, timestamp: new Date(t.clock.now() - PERIOD_MS).toISOString() },
        Buffer.from('{}'),
      );
      await pubsub.idle();
      expect(pubsub.attempts.filter((a) => a.subscription === sub.name).every((a) => a.ok)).toBe(true);
      // Exactly one rotation; the redeliveries found it done (the old key is in its grace period).
      expect(t.state(API_SECRET)).toMatchObject({ generation: generation + 1, phase: 'retiring' });
      expect(liveApiKeys()).toHaveLength(2);
    } finally {
      pubsub.unsubscribe(sub.name);
    }
    expect(await runUntilIdle(API_SECRET)).toContain('purged');
  });
});

describe('refusals and rollback', () => {
  it('fails clearly at the key cap with no orphan, and nothing is lost', async () => {
    const foreign = await Promise.all(
      Array.from({ length: 9 }, () => emu().serviceAccounts.createKey(ROTATED_SA)),
    );
    try {
      const before = current(SA_SECRET);
      const { status, json } = await post({ secrets: ['sa-secret'], force: true });
      expect(status).toBe(500);
      expect(json.secrets[0]).toMatchObject({
        outcome: 'failed',
        phase: 'idle',
        error: { code: 'FAILED_PRECONDITION', reason: 'KEY_CAP' },
      });
      expect(current(SA_SECRET)).toBe(before);
      expect(liveSaKeys()).toHaveLength(10);
    } finally {
      for (const k of foreign) emu().serviceAccounts.deleteKey(ROTATED_SA, k.keyId);
    }
  });

  it('deletes the orphan of a crashed run to get under the key cap, then rotates', async () => {
    const foreign = await Promise.all(
      Array.from({ length: 8 }, () => emu().serviceAccounts.createKey(ROTATED_SA)),
    );
    try {
      t.crashAfter('create');
      await expect(t.stack.rotation.runSweep({ secrets: ['sa-secret'], force: true })).rejects.toThrow(
        'killed after create',
      );
      expect(liveSaKeys()).toHaveLength(10);
      t.clock.advance(GRACE_MS);
      const report = await t.stack.rotation.runSweep({ secrets: ['sa-secret'] });
      expect(report.secrets[0]).toMatchObject({
        outcome: 'rotated',
        actions: expect.arrayContaining(['delete-orphan', 'create', 'verify', 'promote']),
      });
      expect(liveSaKeys()).toHaveLength(10);
    } finally {
      for (const k of foreign) emu().serviceAccounts.deleteKey(ROTATED_SA, k.keyId);
    }
    expect(await runUntilIdle(SA_SECRET)).toContain('purged');
  });

  it('reports an organization policy refusal and returns to idle', async () => {
    emu().orgPolicy.keyCreationDisabledFor.add(ROTATED_SA);
    try {
      const report = await t.stack.rotation.runSweep({ secrets: ['sa-secret'], force: true });
      expect(report.secrets[0]).toMatchObject({
        outcome: 'failed',
        phase: 'idle',
        error: { reason: 'ORG_POLICY_BLOCKS_KEY_CREATION' },
      });
    } finally {
      emu().orgPolicy.keyCreationDisabledFor.delete(ROTATED_SA);
    }
  });

  it.each([
    ['sa-secret', SA_SECRET, 'oauth.token', liveSaKeys],
    ['api-secret', API_SECRET, 'gemini.listModels', liveApiKeys],
  ] as const)(
    '%s: a new credential that does not work is rolled back; the old one stays current',
    async (id, secret, endpoint, liveKeys) => {
      const before = current(secret);
      const keys = liveKeys();
      t.stack.emulator.faults.inject({ endpoint, status: 400, times: Infinity });
      const report = await t.stack.rotation.runSweep({ secrets: [id], force: true });
      t.stack.emulator.faults.reset();
      expect(report.ok).toBe(false);
      expect(report.secrets[0]).toMatchObject({
        outcome: 'rolled-back',
        phase: 'idle',
        error: { reason: 'VERIFY_FAILED' },
      });
      expect(current(secret)).toBe(before);
      expect(liveKeys()).toEqual(keys);
      const newest = emu()
        .secrets.listVersions(secret)
        .items.reduce((a, b) => (a.version > b.version ? a : b));
      expect(newest.state).toBe('DISABLED');
    },
  );
});

describe('audit', () => {
  it('wrote one entry per action with ids, and never key material', async () => {
    await t.stack.rotation.flushAudit();
    const entries = t.audit
      .entries()
      .filter((e) => String(e.jsonPayload?.action ?? e.action ?? '').startsWith('rotation.'));
    expect(entries.length).toBeGreaterThan(20);
    const text = t.audit.text();
    expect(text).not.toContain('PRIVATE KEY');
    for (const key of emu().apiKeys.list({ showDeleted: true })) expect(text).not.toContain(key.keyString);
    const promote = entries.find((e) => JSON.stringify(e).includes('rotation.promote'));
    expect(JSON.stringify(promote)).toMatch(/"newKeyId":"[^"]+"/);
  });
});

describe('keys the rotator did not make', () => {
  it("an operator's break-glass key made while a crashed run waited survives the resume and is reported", async () => {
    t.crashAfter('create');
    await expect(t.stack.rotation.runSweep({ secrets: ['sa-secret'], force: true })).rejects.toThrow(
      'killed after create',
    );
    const orphan = t.state(SA_SECRET).newKey!;
    expect(orphan).toBeDefined();
    // During the outage an operator makes a key by hand (IAM keys.create over REST, as gcloud would).
    const breakGlass = (await emu().serviceAccounts.createKey(ROTATED_SA)).keyId;
    try {
      t.clock.advance(GRACE_MS);
      const report = (await t.stack.rotation.runSweep({ secrets: ['sa-secret'] })).secrets[0];
      expect(report).toMatchObject({
        outcome: 'rotated',
        foreignKeyIds: [breakGlass],
        actions: expect.arrayContaining(['delete-orphan']),
      });
      expect(emu().serviceAccounts.getKey(ROTATED_SA, breakGlass)?.state).toBe('ENABLED');
      expect(emu().serviceAccounts.getKey(ROTATED_SA, orphan)?.state).toBe('DELETED');
      expect(await runUntilIdle(SA_SECRET)).toContain('purged');
      expect(emu().serviceAccounts.getKey(ROTATED_SA, breakGlass)?.state).toBe('ENABLED');
      await t.stack.rotation.flushAudit();
      expect(t.audit.text()).toMatch(new RegExp(`"reason":"FOREIGN_KEY_KEPT"[^\\n]*"keyId":"${breakGlass}"`));
    } finally {
      emu().serviceAccounts.deleteKey(ROTATED_SA, breakGlass);
    }
  });
});
