/**
 * The user-grant store against the emulator over real sockets: Firestore REST for the documents,
 * Cloud KMS REST for the data keys, the service's own identity from the emulated metadata server
 * through stock google-auth-library. Storage is read straight from the emulator's state.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KMS_ENCRYPTER_DECRYPTER, startEmulator, type Emulator } from '../../../emulator/index.js';
import { TvsError } from '../../../shared/errors.js';
import { applicationDefaultCredential, type OwnCredential } from '../../../shared/minting/own-credential.js';
import { createOpsLog } from '../../../shared/ops-log.js';
import { grantPath } from '../../../shared/user-grants/grant-document.js';
import {
  createFirestoreGrantStore,
  type FirestoreGrantStoreOptions,
  type GrantStore,
} from '../../../shared/user-grants/grant-store.js';
import { createCapture, type Capture } from '../../support/capture.js';
import { deferred } from '../../support/deferred.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const KMS_KEY = 'projects/tvs-local/locations/global/keyRings/tvs/cryptoKeys/user-grants';
const IDENTITY = 'workload@tvs-local.iam.gserviceaccount.com';
const CLIENT = '1234567890-abc.apps.googleusercontent.com';
const DRIVE = 'https://www.googleapis.com/auth/drive.readonly';
const GEN_AI = 'https://www.googleapis.com/auth/generative-language.retriever';
const SHEETS = 'https://www.googleapis.com/auth/spreadsheets.readonly';

let emulator: Emulator;
let restoreEnv: () => void;
let credential: OwnCredential;
let log: Capture;
let users = 0;

/** A fresh Google user (numeric `sub`) and a refresh token shaped like Google's. */
function newUser() {
  users++;
  const sub = String(100000000000000000000n + BigInt(users));
  return {
    sub,
    email: `user${users}@example.com`,
    token: `1//0g${users}Xq-${'r'.repeat(20)}${Math.random().toString(36).slice(2)}-refresh`,
  };
}

function store(extra: Partial<FirestoreGrantStoreOptions> = {}): GrantStore {
  return createFirestoreGrantStore({
    firestoreUrl: emulator.httpUrl,
    projectId: emulator.projectId,
    credential,
    kms: { url: emulator.httpUrl, keyName: KMS_KEY },
    log: createOpsLog('user-grants', log.write),
    ...extra,
  });
}

/** Every spelling of a secret that must never be stored or logged. */
function spellings(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [secret, bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')];
}

function rawDoc(clientId: string, sub: string) {
  return emulator.state.firestore.raw(grantPath(clientId, sub));
}

/** A fetch that parks the first PATCH of a grant document until `release` resolves. */
function holdingFirstGrantPatch(release: Promise<void>) {
  const parked = deferred<void>();
  let held = false;
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = input instanceof Request ? input.url : input.toString();
    if (!held && init?.method === 'PATCH' && url.includes('/documents/userGrants/')) {
      held = true;
      parked.resolve();
      await release;
    }
    return fetch(input, init);
  };
  return { fetchImpl, parked: parked.promise };
}

async function rejection(promise: Promise<unknown>): Promise<TvsError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TvsError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  emulator = await startEmulator();
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  emulator.state.kms.createKey(KMS_KEY);
  emulator.state.kms.grant(KMS_KEY, `serviceAccount:${IDENTITY}`, KMS_ENCRYPTER_DECRYPTER);
  credential = applicationDefaultCredential({ projectId: emulator.projectId });
});

afterAll(async () => {
  restoreEnv?.();
  await emulator?.stop();
});

beforeEach(() => {
  emulator.faults.reset();
  log = createCapture();
});

describe('the Firestore grant store', () => {
  it('stores a consent and gives back the grant and its refresh token', async () => {
    const u = newUser();
    const grants = store();
    const saved = await grants.save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token });
    expect(saved).toEqual({
      sub: u.sub,
      email: u.email,
      clientId: CLIENT,
      scopes: [DRIVE],
      createdAt: expect.any(Date),
      updatedAt: expect.any(Date),
    });
    await expect(grants.load(CLIENT, u.sub)).resolves.toEqual({ grant: saved, refreshToken: u.token });
    // Another instance (cold, no cached data key) reads it too.
    await expect(store().load(CLIENT, u.sub)).resolves.toEqual({ grant: saved, refreshToken: u.token });
    await expect(grants.load(CLIENT, newUser().sub)).resolves.toBeUndefined();
    await expect(grants.load('another-client.apps.googleusercontent.com', u.sub)).resolves.toBeUndefined();
  });

  it('merges scopes on incremental consent, replaces the token, keeps createdAt', async () => {
    const u = newUser();
    const grants = store();
    const first = await grants.save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token });
    const second = await grants.save({
      ...u,
      clientId: CLIENT,
      scopes: [SHEETS, GEN_AI],
      refreshToken: `${u.token}-2`,
    });
    expect(second.scopes).toEqual([DRIVE, GEN_AI, SHEETS].sort());
    expect(second.createdAt).toEqual(first.createdAt);
    await expect(grants.load(CLIENT, u.sub)).resolves.toEqual({
      grant: second,
      refreshToken: `${u.token}-2`,
    });
  });

  it('stores the document Google would hold: no user data in its id, no refresh token in any spelling', async () => {
    const u = newUser();
    await store().save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token });
    const doc = rawDoc(CLIENT, u.sub)!;
    expect(doc.name).toMatch(/\/documents\/userGrants\/[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/);
    expect(doc.name).not.toContain(u.sub);
    expect(Object.keys(doc.fields).sort()).toEqual(
      ['clientId', 'createdAt', 'dekId', 'email', 'scopes', 'sealed', 'sub', 'updatedAt'].sort(),
    );
    expect(doc.fields.scopes).toEqual({ arrayValue: { values: [{ stringValue: DRIVE }] } });
    expect(doc.fields.sealed).toEqual({ bytesValue: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) });
    expect(doc.fields.createdAt).toEqual({ timestampValue: expect.stringMatching(/Z$/) });
    const everything = JSON.stringify(
      emulator.state.firestore.list('userGrants').map((n) => emulator.state.firestore.raw(n)),
    );
    for (const spelling of spellings(u.token)) expect(everything).not.toContain(spelling);
    // The data key is stored wrapped only.
    const dekId = (doc.fields.dekId as { stringValue: string }).stringValue;
    expect(emulator.state.firestore.raw(`userGrantKeys/${dekId}`)?.fields.wrapped).toEqual({
      bytesValue: expect.any(String),
    });
  });

  it.each([
    ['copied into another user’s document', (sealed: string) => sealed, (u: { sub: string }) => u.sub],
    [
      'altered in one byte',
      (sealed: string) => {
        const bytes = Buffer.from(sealed, 'base64');
        bytes[bytes.length - 1] ^= 1;
        return bytes.toString('base64');
      },
      undefined,
    ],
    [
      'truncated',
      (sealed: string) => Buffer.from(sealed, 'base64').subarray(0, 20).toString('base64'),
      undefined,
    ],
  ])(
    'refuses a sealed token %s, with a typed error and nothing secret anywhere',
    async (_what, change, victim) => {
      const a = newUser();
      const b = newUser();
      const grants = store();
      await grants.save({ ...a, clientId: CLIENT, scopes: [DRIVE], refreshToken: a.token });
      await grants.save({ ...b, clientId: CLIENT, scopes: [DRIVE], refreshToken: b.token });
      const source = rawDoc(CLIENT, a.sub)!;
      const sealed = (source.fields.sealed as { bytesValue: string }).bytesValue;
      // Tamper in place, or move A's sealed token (and its dekId) into B's document.
      const targetSub = victim ? b.sub : a.sub;
      const target = rawDoc(CLIENT, targetSub)!;
      emulator.state.firestore.overwriteFields(grantPath(CLIENT, targetSub), {
        ...target.fields,
        sealed: { bytesValue: change(sealed) },
        dekId: source.fields.dekId,
      });
      const err = await rejection(grants.load(CLIENT, targetSub));
      expect(err).toMatchObject({
        code: 'INTERNAL',
        reason: 'USER_GRANT_INTEGRITY',
        message: 'Internal error.',
      });
      const said = `${err.message} ${err.detail} ${JSON.stringify(err.metadata)} ${log.text()}`;
      expect(log.entries()).toEqual([
        expect.objectContaining({ severity: 'ERROR', event: 'user_grant_integrity', operation: 'load' }),
      ]);
      for (const secret of [a.token, b.token, sealed])
        for (const s of spellings(secret)) expect(said).not.toContain(s);
    },
  );

  it('revokes: erases the token, keeps the reason, returns the token once, and is idempotent', async () => {
    const u = newUser();
    const grants = store();
    await grants.save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token });
    await expect(grants.revoke(CLIENT, u.sub, 'GOOGLE_INVALID_GRANT')).resolves.toEqual({
      refreshToken: u.token,
    });
    const tombstone = rawDoc(CLIENT, u.sub)!;
    expect(tombstone.fields).not.toHaveProperty('sealed');
    expect(tombstone.fields).not.toHaveProperty('dekId');
    expect(tombstone.fields.revokedReason).toEqual({ stringValue: 'GOOGLE_INVALID_GRANT' });
    for (const s of spellings(u.token)) expect(JSON.stringify(tombstone)).not.toContain(s);

    await expect(grants.revoke(CLIENT, u.sub, 'ADMIN')).resolves.toEqual({});
    expect(rawDoc(CLIENT, u.sub)).toEqual(tombstone); // not even rewritten
    const loaded = await grants.load(CLIENT, u.sub);
    expect(loaded).toEqual({
      grant: expect.objectContaining({
        scopes: [DRIVE],
        revoked: { at: expect.any(Date), reason: 'GOOGLE_INVALID_GRANT' },
      }),
    });
    expect(loaded).not.toHaveProperty('refreshToken');
    await expect(grants.revoke(CLIENT, newUser().sub, 'USER')).resolves.toBeUndefined();
  });

  it('starts a fresh grant when the user consents again after revoking (old scopes are not merged)', async () => {
    const u = newUser();
    const grants = store();
    await grants.save({ ...u, clientId: CLIENT, scopes: [DRIVE, SHEETS], refreshToken: u.token });
    await grants.revoke(CLIENT, u.sub, 'USER');
    const again = await grants.save({
      ...u,
      clientId: CLIENT,
      scopes: [GEN_AI],
      refreshToken: `${u.token}-new`,
    });
    expect(again).toEqual(expect.objectContaining({ scopes: [GEN_AI] }));
    expect(again).not.toHaveProperty('revoked');
    expect(rawDoc(CLIENT, u.sub)!.fields).not.toHaveProperty('revokedReason');
    await expect(grants.load(CLIENT, u.sub)).resolves.toEqual({
      grant: again,
      refreshToken: `${u.token}-new`,
    });
  });

  it('keeps both scopes when two saves race (the loser of the compare-and-swap re-reads and merges)', async () => {
    const u = newUser();
    const release = deferred<void>();
    const slow = holdingFirstGrantPatch(release.promise);
    const first = store({ fetchImpl: slow.fetchImpl }).save({
      ...u,
      clientId: CLIENT,
      scopes: [DRIVE],
      refreshToken: `${u.token}-a`,
    });
    await slow.parked; // A has read "no document" and is about to create it
    await store().save({ ...u, clientId: CLIENT, scopes: [SHEETS], refreshToken: `${u.token}-b` });
    const before = emulator.faults.count('firestore.patch');
    release.resolve();
    const saved = await first;
    // A's create failed its precondition and was retried once on the re-read document.
    expect(emulator.faults.count('firestore.patch') - before).toBe(2);
    expect(saved.scopes).toEqual([DRIVE, SHEETS].sort());
    await expect(store().load(CLIENT, u.sub)).resolves.toEqual({
      grant: saved,
      refreshToken: `${u.token}-a`,
    });
  });

  it('never lets a save resurrect a grant revoked while it was in flight', async () => {
    const u = newUser();
    await store().save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token });
    const release = deferred<void>();
    const slow = holdingFirstGrantPatch(release.promise);
    const saving = store({ fetchImpl: slow.fetchImpl }).save({
      ...u,
      clientId: CLIENT,
      scopes: [SHEETS],
      refreshToken: `${u.token}-late`,
    });
    await slow.parked;
    await expect(store().revoke(CLIENT, u.sub, 'USER')).resolves.toEqual({ refreshToken: u.token });
    release.resolve();
    const err = await rejection(saving);
    expect(err).toMatchObject({ code: 'ABORTED', reason: 'USER_GRANT_REVOKED_DURING_SAVE' });
    const doc = rawDoc(CLIENT, u.sub)!;
    expect(doc.fields).not.toHaveProperty('sealed');
    expect(doc.fields.revokedReason).toEqual({ stringValue: 'USER' });
  });

  it('lets a revoke that raced a save erase, and hand back, the token that save wrote', async () => {
    const u = newUser();
    await store().save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token });
    const release = deferred<void>();
    const slow = holdingFirstGrantPatch(release.promise);
    const revoking = store({ fetchImpl: slow.fetchImpl }).revoke(CLIENT, u.sub, 'ADMIN');
    await slow.parked; // the revoke has opened the old token and is about to write the tombstone
    await store().save({ ...u, clientId: CLIENT, scopes: [SHEETS], refreshToken: `${u.token}-new` });
    release.resolve();
    await expect(revoking).resolves.toEqual({ refreshToken: `${u.token}-new` });
    const loaded = await store().load(CLIENT, u.sub);
    expect(loaded?.grant.revoked?.reason).toBe('ADMIN');
    expect(loaded).not.toHaveProperty('refreshToken');
  });

  it('fails with UpstreamUnavailable when KMS is down, writing nothing', async () => {
    const u = newUser();
    emulator.faults.inject({ endpoint: 'cloudkms.*', status: 503, times: Infinity });
    // A cold instance in a period nobody has a key for yet: it must wrap a new one.
    const cold = store({ now: () => Date.now() + 400 * 86_400_000 });
    const err = await rejection(
      cold.save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token }),
    );
    expect(err).toMatchObject({
      name: 'UpstreamUnavailable',
      code: 'UNAVAILABLE',
      reason: 'KMS_UNAVAILABLE',
    });
    expect(rawDoc(CLIENT, u.sub)).toBeUndefined();
    emulator.faults.reset();

    await store().save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token });
    emulator.faults.inject({ endpoint: 'cloudkms.decrypt', status: 503, times: Infinity });
    const before = rawDoc(CLIENT, u.sub);
    await expect(rejection(store().load(CLIENT, u.sub))).resolves.toMatchObject({
      reason: 'KMS_UNAVAILABLE',
    });
    // A revoke that cannot read the token back writes nothing (the caller retries).
    await expect(rejection(store().revoke(CLIENT, u.sub, 'USER'))).resolves.toMatchObject({
      reason: 'KMS_UNAVAILABLE',
    });
    expect(rawDoc(CLIENT, u.sub)).toEqual(before);
    for (const s of spellings(u.token)) expect(`${err.message} ${err.detail} ${log.text()}`).not.toContain(s);
  });

  it('fails with UpstreamUnavailable when Firestore answers 503, after bounded retries, writing nothing', async () => {
    const u = newUser();
    const grants = store();
    await grants.save({ ...newUser(), clientId: CLIENT, scopes: [DRIVE], refreshToken: 'warm-up' });
    emulator.faults.reset();
    emulator.faults.inject({ endpoint: 'firestore.patch', status: 503, times: Infinity });
    const err = await rejection(
      grants.save({ ...u, clientId: CLIENT, scopes: [DRIVE], refreshToken: u.token }),
    );
    expect(err).toMatchObject({ name: 'UpstreamUnavailable', reason: 'FIRESTORE_UNAVAILABLE' });
    expect(emulator.faults.count('firestore.patch')).toBe(3);
    expect(rawDoc(CLIENT, u.sub)).toBeUndefined();
    emulator.faults.reset();
    emulator.faults.inject({ endpoint: 'firestore.get', status: 503, times: Infinity });
    await expect(rejection(grants.load(CLIENT, u.sub))).resolves.toMatchObject({
      reason: 'FIRESTORE_UNAVAILABLE',
    });
  });

  it('calls KMS once per instance per data key, not once per save or load', async () => {
    // A period of its own, so this test's instances share one fresh data key.
    const now = () => Date.now() + 800 * 86_400_000;
    const before = emulator.state.kms.calls(KMS_KEY);
    const writer = store({ now });
    const people = Array.from({ length: 10 }, () => newUser());
    for (const p of people) {
      await writer.save({ ...p, clientId: CLIENT, scopes: [DRIVE], refreshToken: p.token });
      await writer.save({ ...p, clientId: CLIENT, scopes: [SHEETS], refreshToken: p.token });
      await writer.load(CLIENT, p.sub);
    }
    const reader = store({ now });
    for (const p of people)
      await expect(reader.load(CLIENT, p.sub)).resolves.toHaveProperty('refreshToken', p.token);
    const after = emulator.state.kms.calls(KMS_KEY);
    // 20 saves and 20 loads: one wrap by the writer, one unwrap by the cold reader.
    expect({ encrypt: after.encrypt - before.encrypt, decrypt: after.decrypt - before.decrypt }).toEqual({
      encrypt: 1,
      decrypt: 1,
    });
  });

  it('refuses programmer misuse with TypeError before any call', () => {
    const grants = store();
    const before = emulator.faults.snapshot();
    expect(() =>
      grants.save({ sub: '', email: 'e', clientId: CLIENT, scopes: [DRIVE], refreshToken: 't' }),
    ).toThrow(TypeError);
    expect(() =>
      grants.save({ sub: '1', email: 'e', clientId: CLIENT, scopes: [], refreshToken: 't' }),
    ).toThrow(TypeError);
    expect(() => grants.load(`a\0b`, '1')).toThrow(TypeError);
    expect(() => grants.revoke(CLIENT, '1', 'SOMEONE' as never)).toThrow(TypeError);
    expect(emulator.faults.snapshot()).toEqual(before);
  });
});

describe('the grant store of an encrypt-only identity (the consent side)', () => {
  const ENCRYPT_ONLY_KEY = 'projects/tvs-local/locations/global/keyRings/tvs/cryptoKeys/user-grants-consent';

  beforeAll(() => {
    emulator.state.kms.createKey(ENCRYPT_ONLY_KEY);
    // The consent identity's grant on the key: useToEncrypt, and nothing else (as in Terraform).
    emulator.state.kms.grant(
      ENCRYPT_ONLY_KEY,
      `serviceAccount:${IDENTITY}`,
      'roles/cloudkms.cryptoKeyEncrypter',
    );
  });

  const consentStore = (extra: Partial<FirestoreGrantStoreOptions> = {}) =>
    store({ kms: { url: emulator.httpUrl, keyName: ENCRYPT_ONLY_KEY }, encryptOnly: true, ...extra });

  it('saves, describes and tombstones grants with zero KMS decrypt calls; a decrypting reader opens what it sealed', async () => {
    const people = [newUser(), newUser(), newUser()];
    const before = emulator.state.kms.calls(ENCRYPT_ONLY_KEY);
    const a = consentStore();
    const b = consentStore();
    await a.save({ ...people[0], clientId: CLIENT, scopes: [DRIVE], refreshToken: people[0].token });
    // A second instance of the consent side: its own data key, never the first one's.
    await b.save({ ...people[1], clientId: CLIENT, scopes: [DRIVE], refreshToken: people[1].token });
    await b.save({ ...people[1], clientId: CLIENT, scopes: [SHEETS], refreshToken: `${people[1].token}-2` });
    await a.save({ ...people[2], clientId: CLIENT, scopes: [DRIVE], refreshToken: people[2].token });
    await expect(a.describe(CLIENT, people[1].sub)).resolves.toMatchObject({
      sub: people[1].sub,
      scopes: [DRIVE, SHEETS].sort(),
    });
    await expect(a.describe(CLIENT, newUser().sub)).resolves.toBeUndefined();
    await expect(b.tombstone(CLIENT, people[2].sub, 'USER')).resolves.toEqual({ alreadyRevoked: false });
    await expect(a.tombstone(CLIENT, people[2].sub, 'ADMIN')).resolves.toEqual({ alreadyRevoked: true });
    await expect(a.tombstone(CLIENT, newUser().sub, 'USER')).resolves.toBeUndefined();
    const revoked = await a.describe(CLIENT, people[2].sub);
    expect(revoked?.revoked).toEqual({ at: expect.any(Date), reason: 'USER' });
    expect(rawDoc(CLIENT, people[2].sub)?.fields.sealed).toBeUndefined();
    const after = emulator.state.kms.calls(ENCRYPT_ONLY_KEY);
    expect({ encrypt: after.encrypt - before.encrypt, decrypt: after.decrypt - before.decrypt }).toEqual({
      encrypt: 2,
      decrypt: 0,
    });
    // The token side (decrypt) opens both instances' seals.
    emulator.state.kms.grant(
      ENCRYPT_ONLY_KEY,
      `serviceAccount:${IDENTITY}`,
      'roles/cloudkms.cryptoKeyDecrypter',
    );
    try {
      const reader = store({ kms: { url: emulator.httpUrl, keyName: ENCRYPT_ONLY_KEY } });
      await expect(reader.load(CLIENT, people[0].sub)).resolves.toHaveProperty(
        'refreshToken',
        people[0].token,
      );
      await expect(reader.load(CLIENT, people[1].sub)).resolves.toHaveProperty(
        'refreshToken',
        `${people[1].token}-2`,
      );
      await expect(reader.load(CLIENT, people[2].sub)).resolves.toEqual({ grant: revoked });
    } finally {
      emulator.state.kms.revoke(ENCRYPT_ONLY_KEY, `serviceAccount:${IDENTITY}`);
      emulator.state.kms.grant(
        ENCRYPT_ONLY_KEY,
        `serviceAccount:${IDENTITY}`,
        'roles/cloudkms.cryptoKeyEncrypter',
      );
    }
  });

  it('refuses load and revoke (they open the token) with TypeError, before any call', () => {
    const grants = consentStore();
    const before = emulator.faults.snapshot();
    expect(() => grants.load(CLIENT, '1')).toThrow(TypeError);
    expect(() => grants.revoke(CLIENT, '1', 'USER')).toThrow(TypeError);
    expect(emulator.faults.snapshot()).toEqual(before);
  });
});
