/**
 * The confused-deputy attack on the rotator, end to end: someone who may edit one managed
 * secret's metadata (labels, annotations) but not the rotation binding Terraform deployed tries
 * to make the rotator mint a key of another service account, adopt another API key's
 * restrictions, or delete a key it does not own. Real Secret Manager client for the attacker's
 * edits; the sweep over HTTP and a SECRET_ROTATE notice pushed through Pub/Sub as triggers.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SeedInput } from '../../../../emulator/index.js';
import { secretManagerClientOptions } from '../../../../shared/gcp/secret-manager.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';
import { GRACE_MS, PERIOD_MS, startRotationStack, type RotationStack } from './support/rotation-stack.js';

const PROJECT = 'tvs-local';
const WORKLOAD = `workload@${PROJECT}.iam.gserviceaccount.com`;
const GEMINI = `gemini-caller@${PROJECT}.iam.gserviceaccount.com`;
const VERTEX = `vertex-caller@${PROJECT}.iam.gserviceaccount.com`;
const SA_SECRET = `projects/${PROJECT}/secrets/gemini-caller-key`;
const API_SECRET = `projects/${PROJECT}/secrets/gemini-api-key`;
const STRAY_SECRET = `projects/${PROJECT}/secrets/stray-managed`;
const API_TARGET = `projects/${PROJECT}/locations/global/keys/gemini-demo`;
const period = `${PERIOD_MS / 1000}s`;
const grace = `${GRACE_MS / 1000}s`;

// Terraform's old way (labels + config annotations), agreeing with the binding, so that today's
// code and a migrated deployment both start from a secret that rotates.
const managed = (kind: string, target: string) => ({
  labels: { 'tvs-managed': 'true', 'tvs-kind': kind },
  annotations: { 'tvs.rotation.target': target, 'tvs.rotation.period': period, 'tvs.rotation.grace': grace },
});

const SEED: SeedInput = {
  projectId: PROJECT,
  projectNumber: '123456789012',
  serviceAccounts: [{ email: WORKLOAD }, { email: GEMINI }, { email: VERTEX }],
  metadata: { defaultServiceAccount: WORKLOAD },
  apiKeys: [
    {
      id: 'gemini-demo',
      displayName: 'Gemini demo key',
      restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] },
    },
    { id: 'victim-key', displayName: "Someone else's unrestricted key" },
  ],
  secrets: [
    {
      id: 'gemini-caller-key',
      ...managed('sa-key', GEMINI),
      versions: [{ serviceAccountKey: GEMINI }],
      versionAliases: { current: 1 },
    },
    {
      id: 'gemini-api-key',
      ...managed('api-key', API_TARGET),
      versions: [{ apiKeyString: 'gemini-demo' }],
      versionAliases: { current: 1 },
    },
    // Carries the managed label (anyone with secrets.update can add it) but is in no binding.
    {
      id: 'stray-managed',
      ...managed('sa-key', VERTEX),
      versions: [{ data: 'placeholder' }],
      versionAliases: { current: 1 },
    },
  ],
};

const BINDINGS = {
  'gemini-caller-key': { kind: 'sa-key', target: GEMINI, period, grace },
  'gemini-api-key': { kind: 'api-key', target: API_TARGET, period, grace },
};

let t: RotationStack;
let restoreEnv: () => void;
let attacker: SecretManagerServiceClient;

beforeAll(async () => {
  t = await startRotationStack({ seed: SEED, bindings: BINDINGS });
  restoreEnv = useEmulatorMetadata(t.stack.emulator.metadataHost);
  attacker = new SecretManagerServiceClient(
    await secretManagerClientOptions(`http://${t.stack.emulator.grpcEndpoint}`),
  );
});

afterAll(async () => {
  await attacker?.close();
  restoreEnv?.();
  await t?.stack.stop();
});

const emu = () => t.stack.emulator.state;
const saKeys = (email: string) =>
  emu()
    .serviceAccounts.listKeys(email, { keyTypes: ['USER_MANAGED'] })
    .map((k) => k.keyId)
    .sort();
const apiKeys = () =>
  emu()
    .apiKeys.list()
    .map((k) => k.keyId)
    .sort();
const versions = (secret: string) =>
  emu()
    .secrets.listVersions(secret)
    .items.map((v) => `${v.version}:${v.state}`);
const annotationsOf = (secret: string) => ({ ...emu().secrets.getSecret(secret).annotations });

/** The attacker's edit: replaces the secret's annotations through the public API. */
async function editAnnotations(secret: string, annotations: Record<string, string>): Promise<void> {
  await attacker.updateSecret({
    secret: { name: secret, annotations },
    updateMask: { paths: ['annotations'] },
  });
}

const post = (body: unknown) => t.post(body);
const announce = (secret: string) => t.announce(secret);

async function auditText(): Promise<string> {
  await t.stack.rotation.flushAudit();
  return t.audit.text();
}

describe('a secret whose metadata is rewritten to name another target', () => {
  it('mints no key of the other service account and writes nothing to the secret, on a sweep and on a notice', async () => {
    const original = annotationsOf(SA_SECRET);
    await editAnnotations(SA_SECRET, { ...original, 'tvs.rotation.target': VERTEX });
    const before = { vertex: saKeys(VERTEX), gemini: saKeys(GEMINI), versions: versions(SA_SECRET) };
    expect(before.vertex).toEqual([]);

    const swept = await post({ secrets: ['gemini-caller-key'], force: true });
    expect(swept.status).toBe(500);
    expect(swept.json.secrets[0]).toMatchObject({
      secret: 'gemini-caller-key',
      outcome: 'failed',
      error: { code: 'FAILED_PRECONDITION', reason: 'BINDING_MISMATCH' },
    });
    const all = await post({ dryRun: true });
    expect(all.json.secrets.find((s: any) => s.secret === 'gemini-caller-key')).toMatchObject({
      outcome: 'failed',
      error: { reason: 'BINDING_MISMATCH' },
    });
    t.clock.advance(PERIOD_MS);
    await announce(SA_SECRET);

    expect(saKeys(VERTEX)).toEqual([]);
    expect(saKeys(GEMINI)).toEqual(before.gemini);
    expect(versions(SA_SECRET)).toEqual(before.versions);
    expect(annotationsOf(SA_SECRET)).toEqual({ ...original, 'tvs.rotation.target': VERTEX });
    const audit = await auditText();
    expect(audit).toMatch(
      /"reason":"BINDING_MISMATCH"[^\n]*"secret":"gemini-caller-key"|"secret":"gemini-caller-key"[^\n]*"reason":"BINDING_MISMATCH"/,
    );
    await editAnnotations(SA_SECRET, original);
  });

  it('refuses an API-key secret whose kind label is flipped', async () => {
    await attacker.updateSecret({
      secret: { name: API_SECRET, labels: { 'tvs-managed': 'true', 'tvs-kind': 'sa-key' } },
      updateMask: { paths: ['labels'] },
    });
    const keys = apiKeys();
    const { json } = await post({ secrets: ['gemini-api-key'], force: true });
    expect(json.secrets[0]).toMatchObject({ outcome: 'failed', error: { reason: 'BINDING_MISMATCH' } });
    expect(apiKeys()).toEqual(keys);
    await attacker.updateSecret({
      secret: { name: API_SECRET, labels: { 'tvs-managed': 'true', 'tvs-kind': 'api-key' } },
      updateMask: { paths: ['labels'] },
    });
  });

  it('does not rotate a secret that carries the managed label but is in no binding, and says so', async () => {
    const before = versions(STRAY_SECRET);
    const { status, json } = await post({ secrets: ['stray-managed'], force: true });
    expect(status).toBe(500);
    expect(json.secrets[0]).toMatchObject({
      secret: 'stray-managed',
      outcome: 'failed',
      error: { code: 'FAILED_PRECONDITION', reason: 'NOT_IN_BINDING' },
    });
    expect(
      (await post({ dryRun: true })).json.secrets.find((s: any) => s.secret === 'stray-managed'),
    ).toMatchObject({ outcome: 'failed', error: { reason: 'NOT_IN_BINDING' } });
    await announce(STRAY_SECRET);
    expect(saKeys(VERTEX)).toEqual([]);
    expect(versions(STRAY_SECRET)).toEqual(before);
    expect(await auditText()).toMatch(/NOT_IN_BINDING/);
  });
});

describe('rotation state rewritten to name keys the secret does not own', () => {
  const purging = (oldKey: string) => ({
    'tvs.rotation.phase': 'purging',
    'tvs.rotation.generation': '1',
    'tvs.rotation.old-key': oldKey,
    // Rotated recently (so nothing else falls due), disabled long enough ago to be purged.
    'tvs.rotation.rotated-at': new Date(t.clock.now()).toISOString(),
    'tvs.rotation.disabled-at': '2020-01-01T00:00:00.000Z',
  });

  it('api-key: an old-key naming another API key of the project is refused and that key survives', async () => {
    const original = annotationsOf(API_SECRET);
    await editAnnotations(API_SECRET, { ...original, ...purging('victim-key') });
    const { json } = await post({ secrets: ['gemini-api-key'] });
    expect(json.secrets[0]).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(emu().apiKeys.get('victim-key')?.deleteTime).toBeUndefined();
    expect(apiKeys()).toContain('victim-key');
    expect(await auditText()).toMatch(/STATE_MISMATCH/);
    await editAnnotations(API_SECRET, original);
  });

  it('api-key: a current-key naming an unrestricted key is refused: no key is made with its restrictions', async () => {
    const original = annotationsOf(API_SECRET);
    await editAnnotations(API_SECRET, { ...original, 'tvs.rotation.current-key': 'victim-key' });
    const keys = apiKeys();
    const { json } = await post({ secrets: ['gemini-api-key'], force: true });
    expect(json.secrets[0]).toMatchObject({ outcome: 'failed', error: { reason: 'STATE_MISMATCH' } });
    expect(apiKeys()).toEqual(keys);
    expect(versions(API_SECRET)).toEqual(['1:ENABLED']);
    await editAnnotations(API_SECRET, original);
  });

  it('sa-key: an old-key naming a key of another service account is looked up under the bound one only; an enabled key the rotator never retired is refused', async () => {
    const vertexKey = (await emu().serviceAccounts.createKey(VERTEX)).keyId;
    const breakGlass = (await emu().serviceAccounts.createKey(GEMINI)).keyId;
    const original = annotationsOf(SA_SECRET);
    try {
      // The bound SA has no such key: nothing to delete, and the other SA is never addressed.
      await editAnnotations(SA_SECRET, { ...original, ...purging(vertexKey) });
      const other = await post({ secrets: ['gemini-caller-key'] });
      expect(other.json.secrets[0]).toMatchObject({ outcome: 'purged', actions: ['claim', 'delete'] });
      expect(await auditText()).toMatch(
        new RegExp(`"reason":"OLD_KEY_ALREADY_GONE"[^\\n]*"oldKeyId":"${vertexKey}"`),
      );

      await editAnnotations(SA_SECRET, { ...original, ...purging(breakGlass) });
      const refused = await post({ secrets: ['gemini-caller-key'] });
      expect(refused.json.secrets[0]).toMatchObject({
        outcome: 'failed',
        error: { reason: 'STATE_MISMATCH' },
      });

      expect(saKeys(VERTEX)).toEqual([vertexKey]);
      expect(emu().serviceAccounts.getKey(VERTEX, vertexKey)?.state).toBe('ENABLED');
      expect(emu().serviceAccounts.getKey(GEMINI, breakGlass)?.state).toBe('ENABLED');
      expect(versions(SA_SECRET)).toEqual(['1:ENABLED']);
      expect(await auditText()).toMatch(/"reason":"STATE_MISMATCH"/);
    } finally {
      await editAnnotations(SA_SECRET, original);
      emu().serviceAccounts.deleteKey(VERTEX, vertexKey);
      emu().serviceAccounts.deleteKey(GEMINI, breakGlass);
    }
  });
});
