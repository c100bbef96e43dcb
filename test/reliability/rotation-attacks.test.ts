/**
 * Attack corpus against the rotation functions, by the holders of a little access: someone who
 * may edit one managed secret's labels and annotations (but not the binding Terraform deployed),
 * and someone who can reach `rotate` but is not its configured invoker. Each attack is one edit
 * of a secret that rotates fine, followed by a forced sweep over HTTP and a SECRET_ROTATE notice
 * over Pub/Sub; the invariant after every attack is global: no service-account key or API key
 * anywhere was created, disabled or deleted, no secret version was added or changed, and the
 * refusal is answered (and audited) with its stable reason.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SeedInput } from '../../emulator/index.js';
import {
  GRACE_MS,
  PERIOD_MS,
  startRotationStack,
  type RotationStack,
} from '../integration/functions/rotate/support/rotation-stack.js';
import { useEmulatorMetadata } from '../support/google-env.js';
import { recordFigures } from './support/figures.js';

const PROJECT = 'tvs-local';
const WORKLOAD = `workload@${PROJECT}.iam.gserviceaccount.com`;
const GEMINI = `gemini-caller@${PROJECT}.iam.gserviceaccount.com`;
const VERTEX = `vertex-caller@${PROJECT}.iam.gserviceaccount.com`;
const SA_SECRET = `projects/${PROJECT}/secrets/gemini-caller-key`;
const API_SECRET = `projects/${PROJECT}/secrets/gemini-api-key`;
const STRAY_SECRET = `projects/${PROJECT}/secrets/stray`;
const API_TARGET = `projects/${PROJECT}/locations/global/keys/gemini-demo`;
const period = `${PERIOD_MS / 1000}s`;
const grace = `${GRACE_MS / 1000}s`;
const LABELS = (kind: string) => ({ 'tvs-managed': 'true', 'tvs-kind': kind });

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
    { id: 'victim-key', displayName: 'Another team’s unrestricted key' },
  ],
  secrets: [
    {
      id: 'gemini-caller-key',
      labels: LABELS('sa-key'),
      versions: [{ serviceAccountKey: GEMINI }],
      versionAliases: { current: 1 },
    },
    {
      id: 'gemini-api-key',
      labels: LABELS('api-key'),
      versions: [{ apiKeyString: 'gemini-demo' }],
      versionAliases: { current: 1 },
    },
    { id: 'stray', versions: [{ data: 'not a credential' }], versionAliases: { current: 1 } },
  ],
};
const BINDINGS = {
  'gemini-caller-key': { kind: 'sa-key', target: GEMINI, period, grace },
  'gemini-api-key': { kind: 'api-key', target: API_TARGET, period, grace },
};

let t: RotationStack;
let restoreEnv: () => void;
let breakGlass: string;
let refused = 0;

beforeAll(async () => {
  t = await startRotationStack({ seed: SEED, bindings: BINDINGS });
  restoreEnv = useEmulatorMetadata(t.stack.emulator.metadataHost);
  // An operator's key of the bound SA, made by hand: the rotator must never touch it.
  breakGlass = (await t.stack.emulator.state.serviceAccounts.createKey(GEMINI)).keyId;
});

afterAll(async () => {
  recordFigures('rotation-attacks', { attacksRefused: refused });
  restoreEnv?.();
  await t?.stack.stop();
});

const emu = () => t.stack.emulator.state;

/** Everything an attack could change: keys of every SA, every API key, every secret's versions and aliases. */
function world(): unknown {
  return {
    saKeys: emu()
      .serviceAccounts.list()
      .map((sa) => [
        sa.email,
        emu()
          .serviceAccounts.listKeys(sa.email, { keyTypes: ['USER_MANAGED'] })
          .map((k) => `${k.keyId}:${k.state}`)
          .sort(),
      ]),
    apiKeys: emu()
      .apiKeys.list({ showDeleted: true })
      .map((k) => [k.keyId, k.deleteTime?.toISOString() ?? 'live', JSON.stringify(k.restrictions ?? null)])
      .sort(),
    secrets: [SA_SECRET, API_SECRET, STRAY_SECRET].map((s) => [
      s,
      emu()
        .secrets.listVersions(s)
        .items.map((v) => `${v.version}:${v.state}`),
      emu().secrets.getSecret(s).versionAliases,
    ]),
  };
}

/** Replaces the secret's labels and annotations (what `secretmanager.secrets.update` allows). */
function edit(
  secret: string,
  change: { labels?: Record<string, string>; annotations?: Record<string, string> },
): void {
  const current = emu().secrets.getSecret(secret);
  emu().secrets.updateSecret(
    {
      name: secret,
      labels: change.labels ?? current.labels,
      annotations: change.annotations ?? current.annotations,
    },
    ['labels', 'annotations'],
  );
}

/** A forced sweep of `secret` over HTTP, as the invoker unless `authorization` is given. */
const sweep = (secret: string, authorization?: string) =>
  t.post({ secrets: [secret.split('/').pop()], force: true }, authorization);
const announce = (secret: string) => t.announce(secret);

/** Rotation state in its retirement phases, naming `oldKey` as the key to remove. */
const retiring = (phase: 'retiring' | 'purging', oldKey: string) => ({
  'tvs.rotation.phase': phase,
  'tvs.rotation.generation': '1',
  'tvs.rotation.old-key': oldKey,
  'tvs.rotation.rotated-at': '2020-01-01T00:00:00.000Z',
  'tvs.rotation.disabled-at': '2020-01-01T00:00:00.000Z',
});

/** name, secret, the attacker's edit, the reason the sweep must answer. */
const METADATA_ATTACKS: Array<
  [string, string, () => { labels?: Record<string, string>; annotations?: Record<string, string> }, string]
> = [
  [
    'target annotation pointed at another service account',
    SA_SECRET,
    () => ({ annotations: { 'tvs.rotation.target': VERTEX } }),
    'BINDING_MISMATCH',
  ],
  [
    'target annotation pointed at another API key',
    API_SECRET,
    () => ({
      annotations: { 'tvs.rotation.target': `projects/${PROJECT}/locations/global/keys/victim-key` },
    }),
    'BINDING_MISMATCH',
  ],
  [
    'kind label flipped on an SA-key secret',
    SA_SECRET,
    () => ({ labels: LABELS('api-key') }),
    'BINDING_MISMATCH',
  ],
  [
    'kind label flipped on an API-key secret',
    API_SECRET,
    () => ({ labels: LABELS('sa-key') }),
    'BINDING_MISMATCH',
  ],
  [
    'grace annotation shortened below a token’s life',
    SA_SECRET,
    () => ({ annotations: { 'tvs.rotation.grace': '60s' } }),
    'BINDING_MISMATCH',
  ],
  [
    'managed label on a secret outside the binding',
    STRAY_SECRET,
    () => ({ labels: LABELS('sa-key'), annotations: { 'tvs.rotation.target': VERTEX } }),
    'NOT_IN_BINDING',
  ],
  [
    'current-key naming an unrestricted API key (its restrictions would be copied)',
    API_SECRET,
    () => ({ annotations: { 'tvs.rotation.current-key': 'victim-key' } }),
    'STATE_MISMATCH',
  ],
  [
    'old-key naming another API key, due for deletion',
    API_SECRET,
    () => ({ annotations: retiring('purging', 'victim-key') }),
    'STATE_MISMATCH',
  ],
  [
    'old-key naming another API key, due for disabling',
    API_SECRET,
    () => ({ annotations: retiring('retiring', 'victim-key') }),
    'STATE_MISMATCH',
  ],
  [
    'old-key naming the operator’s enabled break-glass key, due for deletion',
    SA_SECRET,
    () => ({ annotations: retiring('purging', breakGlass) }),
    'STATE_MISMATCH',
  ],
];

describe('rotation attacks by the holder of one secret’s metadata', () => {
  it.each(METADATA_ATTACKS)(
    '%s: refused, nothing anywhere changes',
    async (_name, secret, attack, reason) => {
      const original = emu().secrets.getSecret(secret);
      const before = world();
      edit(secret, attack());
      try {
        const answer = await sweep(secret);
        expect(answer.status).toBe(500);
        expect(answer.json.secrets[0]).toMatchObject({ outcome: 'failed', error: { reason } });
        t.clock.advance(PERIOD_MS);
        await announce(secret);
        expect(world()).toEqual(before);
        await t.stack.rotation.flushAudit();
        expect(t.audit.text()).toContain(`"reason":"${reason}"`);
        refused++;
      } finally {
        edit(secret, { labels: original.labels, annotations: original.annotations });
      }
    },
  );
});

describe('rotation attacks by a caller that is not the configured invoker', () => {
  const signed = (email: string, audience: string) => {
    const sa = emu().serviceAccounts.get(email)!;
    return emu().signingKeys.signIdToken({ audience, subject: sa, includeEmail: true });
  };
  const CASES: Array<[string, () => Promise<string | undefined>, number]> = [
    ['no credential', () => Promise.resolve(''), 401],
    [
      'a Google ID token of another service account',
      async () => `Bearer ${await signed(GEMINI, t.stack.rotateUrl)}`,
      403,
    ],
    [
      'the invoker’s ID token for another audience (the token service)',
      async () => `Bearer ${await signed(WORKLOAD, t.stack.tokenUrl)}`,
      401,
    ],
    [
      'the invoker’s claims signed by an attacker’s key',
      async () => {
        const { generateKeyPair } = await import('jose');
        const { privateKey } = await generateKeyPair('RS256');
        const sa = emu().serviceAccounts.get(WORKLOAD)!;
        const jwt = await new SignJWT({ email: WORKLOAD, email_verified: true })
          .setProtectedHeader({ alg: 'RS256', kid: 'attacker', typ: 'JWT' })
          .setIssuer('https://accounts.google.com')
          .setAudience(t.stack.rotateUrl)
          .setSubject(sa.uniqueId)
          .setIssuedAt()
          .setExpirationTime('10m')
          .sign(privateKey);
        return `Bearer ${jwt}`;
      },
      401,
    ],
    [
      'alg none with the invoker’s claims',
      () => {
        const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const iat = Math.floor(Date.now() / 1000);
        return Promise.resolve(
          `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: 'https://accounts.google.com', aud: t.stack.rotateUrl, sub: '1', email: WORKLOAD, email_verified: true, iat, exp: iat + 600 })}.`,
        );
      },
      401,
    ],
  ];

  it.each(CASES)('%s: refused before anything runs', async (_name, make, status) => {
    const before = world();
    await t.stack.rotation.flushAudit();
    const runsBefore = (t.audit.text().match(/"action":"rotation\./g) ?? []).length;
    const answer = await sweep(SA_SECRET, (await make()) ?? '');
    expect(answer.status).toBe(status);
    expect(answer.json.error.status).toBe(status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED');
    await t.stack.rotation.flushAudit();
    expect((t.audit.text().match(/"action":"rotation\./g) ?? []).length).toBe(runsBefore);
    expect(world()).toEqual(before);
    refused++;
  });
});

describe('the corpus itself', () => {
  it('would see a change: the same forced sweep by the invoker, unattacked, rotates and changes the world', async () => {
    const before = world();
    const answer = await sweep(SA_SECRET);
    expect(answer.status).toBe(200);
    expect(answer.json.secrets[0]).toMatchObject({ outcome: 'rotated' });
    expect(world()).not.toEqual(before);
    // The operator's key is still there, untouched, after a real rotation too.
    expect(emu().serviceAccounts.getKey(GEMINI, breakGlass)?.state).toBe('ENABLED');
  });
});

describe('rotation attacks by a holder of publish rights on the rotation topic', () => {
  it('a notice naming a look-alike secret in another project is applied to the configured project only', async () => {
    const attempts = () => t.stack.emulator.pubsub.attempts.length;
    const before = attempts();
    await t.stack.rotation.flushAudit();
    const auditBefore = t.audit.text().length;
    // Our secret has work to do (the old key's grace is over), so handling the notice shows in the audit.
    t.clock.advance(GRACE_MS + 1);
    // In the attacker's own project, a secret labelled managed under a bound id: were it read, the
    // rotator would mint the bound credential into it.
    await announce('projects/evil-project/secrets/gemini-caller-key');
    await t.stack.rotation.flushAudit();
    const written = t.audit.text().slice(auditBefore);
    // Handled at once (no redelivery of a read that failed), as a notice for our own secret.
    expect(t.stack.emulator.pubsub.attempts.slice(before).map((a) => a.ok)).toEqual([true]);
    expect(written).toMatch(/"secret":"gemini-caller-key"[^\n]*"trigger":"event"/);
    expect(attempts()).toBe(before + 1);
    refused++;
  });
});
