/**
 * The emulated Cloud KMS encrypt/decrypt over real HTTP, as Google answers them: bearer auth,
 * per-key IAM, bytes fields, the CRC32C integrity fields, size limits, error bodies, per-key
 * counters; and our own KMS client (shared/crypto/kms-client.ts) against it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KMS_ENCRYPTER_DECRYPTER, startEmulator, type Emulator } from '../../../emulator/index.js';
import { crc32c } from '../../../shared/crc32c.js';
import { createKmsClient, KmsError } from '../../../shared/crypto/kms-client.js';

const KEY = 'projects/tvs-local/locations/global/keyRings/ring/cryptoKeys/key';
const OTHER = 'projects/tvs-local/locations/global/keyRings/ring/cryptoKeys/other';
const USER = 'user@tvs-local.iam.gserviceaccount.com';
const STRANGER = 'stranger@tvs-local.iam.gserviceaccount.com';

let emulator: Emulator;
let token: string;
let strangerToken: string;

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

async function call(method: 'encrypt' | 'decrypt', body: unknown, name = KEY, bearer = token) {
  const res = await fetch(`${emulator.httpUrl}/v1/${name}:${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

beforeAll(async () => {
  emulator = await startEmulator();
  emulator.state.kms.createKey(KEY);
  emulator.state.kms.createKey(OTHER);
  emulator.state.kms.grant(KEY, `serviceAccount:${USER}`, KMS_ENCRYPTER_DECRYPTER);
  emulator.state.kms.grant(OTHER, `serviceAccount:${USER}`, KMS_ENCRYPTER_DECRYPTER);
  const cp = ['https://www.googleapis.com/auth/cloud-platform'];
  token = emulator.state.tokens.issue({ email: USER, scopes: cp, issuedBy: 'test' }).value;
  strangerToken = emulator.state.tokens.issue({ email: STRANGER, scopes: cp, issuedBy: 'test' }).value;
});

afterAll(() => emulator?.stop());
beforeEach(() => emulator.faults.reset());

describe('Cloud KMS encrypt/decrypt (emulated)', () => {
  it('round-trips with AAD and verifies every CRC32C field it is sent', async () => {
    const plaintext = Buffer.from('a data key, 32 bytes long ......');
    const aad = Buffer.from('tvs-shared-cache/dek\0v1\0id');
    const enc = await call('encrypt', {
      plaintext: b64(plaintext),
      plaintextCrc32c: String(crc32c(plaintext)),
      additionalAuthenticatedData: b64(aad),
      additionalAuthenticatedDataCrc32c: String(crc32c(aad)),
    });
    expect(enc.status).toBe(200);
    const ciphertext = Buffer.from(enc.json.ciphertext, 'base64');
    expect(enc.json).toEqual({
      name: `${KEY}/cryptoKeyVersions/1`,
      ciphertext: expect.any(String),
      ciphertextCrc32c: String(crc32c(ciphertext)),
      verifiedPlaintextCrc32c: true,
      verifiedAdditionalAuthenticatedDataCrc32c: true,
      protectionLevel: 'SOFTWARE',
    });
    expect(ciphertext.includes(plaintext)).toBe(false);
    const dec = await call('decrypt', {
      ciphertext: enc.json.ciphertext,
      ciphertextCrc32c: String(crc32c(ciphertext)),
      additionalAuthenticatedData: b64(aad),
    });
    expect(dec).toEqual({
      status: 200,
      json: {
        plaintext: b64(plaintext),
        plaintextCrc32c: String(crc32c(plaintext)),
        usedPrimary: true,
        protectionLevel: 'SOFTWARE',
      },
    });
  });

  it('leaves the verified flags out when no checksum was sent (proto3 JSON omits false)', async () => {
    const enc = await call('encrypt', { plaintext: b64('x') });
    expect(enc.status).toBe(200);
    expect(enc.json).not.toHaveProperty('verifiedPlaintextCrc32c');
    expect(enc.json).not.toHaveProperty('verifiedAdditionalAuthenticatedDataCrc32c');
  });

  it('decrypts an old version after rotation (usedPrimary false) and encrypts under the new primary', async () => {
    const key = 'projects/tvs-local/locations/global/keyRings/ring/cryptoKeys/rotating';
    emulator.state.kms.createKey(key);
    emulator.state.kms.grant(key, `serviceAccount:${USER}`, KMS_ENCRYPTER_DECRYPTER);
    const old = await call('encrypt', { plaintext: b64('before') }, key);
    emulator.state.kms.rotate(key);
    expect((await call('encrypt', { plaintext: b64('after') }, key)).json.name).toBe(
      `${key}/cryptoKeyVersions/2`,
    );
    const dec = await call('decrypt', { ciphertext: old.json.ciphertext }, key);
    expect(dec.json).toEqual({
      plaintext: b64('before'),
      plaintextCrc32c: expect.any(String),
      protectionLevel: 'SOFTWARE',
    });
  });

  it.each([
    ['another key', OTHER, b64('aad')],
    ['other AAD', KEY, b64('not the aad')],
  ])('refuses to decrypt under %s with Google’s message', async (_what, name, aad) => {
    const enc = await call('encrypt', { plaintext: b64('secret'), additionalAuthenticatedData: b64('aad') });
    const dec = await call(
      'decrypt',
      { ciphertext: enc.json.ciphertext, additionalAuthenticatedData: aad },
      name,
    );
    expect(dec).toEqual({
      status: 400,
      json: {
        error: {
          code: 400,
          message: "Decryption failed: verify that 'name' refers to the correct CryptoKey.",
          status: 'INVALID_ARGUMENT',
        },
      },
    });
  });

  it('answers a garbled ciphertext with "the ciphertext is invalid"', async () => {
    const dec = await call('decrypt', { ciphertext: b64('short') });
    expect(dec.json.error).toMatchObject({
      status: 'INVALID_ARGUMENT',
      message: 'Decryption failed: the ciphertext is invalid.',
    });
  });

  it.each([
    [
      'a plaintext checksum that does not match',
      { plaintext: b64('x'), plaintextCrc32c: '1' },
      'The checksum in field plaintext_crc32c did not match the data in field plaintext.',
    ],
    [
      'an AAD checksum that does not match',
      { plaintext: b64('x'), additionalAuthenticatedData: b64('a'), additionalAuthenticatedDataCrc32c: '7' },
      'The checksum in field additional_authenticated_data_crc32c did not match the data in field additional_authenticated_data.',
    ],
    [
      'bad base64',
      { plaintext: 'not base64!' },
      "Invalid value at 'plaintext' (TYPE_BYTES), Base64 decoding failed",
    ],
    [
      'a plaintext over 64 KiB',
      { plaintext: b64(Buffer.alloc(64 * 1024 + 1)) },
      'The plaintext must be no larger than 65536 bytes.',
    ],
    ['no plaintext', {}, 'plaintext is required.'],
  ])('refuses %s with INVALID_ARGUMENT', async (_what, body, message) => {
    const res = await call('encrypt', body);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message });
  });

  it('refuses a ciphertext whose checksum does not match', async () => {
    const enc = await call('encrypt', { plaintext: b64('x') });
    const res = await call('decrypt', { ciphertext: enc.json.ciphertext, ciphertextCrc32c: '12' });
    expect(res.json.error.message).toBe(
      'The checksum in field ciphertext_crc32c did not match the data in field ciphertext.',
    );
  });

  it('answers NOT_FOUND for an unknown key and PERMISSION_DENIED for a caller without the role on it', async () => {
    const missing = await call('encrypt', { plaintext: b64('x') }, `${KEY}-missing`);
    expect(missing).toEqual({
      status: 404,
      json: { error: { code: 404, message: `CryptoKey ${KEY}-missing not found.`, status: 'NOT_FOUND' } },
    });
    const denied = await call('encrypt', { plaintext: b64('x') }, KEY, strangerToken);
    expect(denied.status).toBe(403);
    expect(denied.json.error).toMatchObject({
      status: 'PERMISSION_DENIED',
      message: `Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource '${KEY}' (or it may not exist).`,
      details: [expect.objectContaining({ reason: 'IAM_PERMISSION_DENIED' })],
    });
  });

  it('answers 401 without a bearer token', async () => {
    const res = await call('encrypt', { plaintext: b64('x') }, KEY, '');
    expect(res.status).toBe(401);
    expect(res.json.error.status).toBe('UNAUTHENTICATED');
  });

  it('counts calls per key, and answers injected faults', async () => {
    const before = emulator.state.kms.calls(OTHER);
    await call('encrypt', { plaintext: b64('x') }, OTHER);
    expect(emulator.state.kms.calls(OTHER)).toEqual({ ...before, encrypt: before.encrypt + 1 });
    emulator.faults.inject({ endpoint: 'cloudkms.decrypt', status: 503, times: 1 });
    expect((await call('decrypt', { ciphertext: b64('x') })).status).toBe(503);
  });
});

describe('our KMS client against the emulator', () => {
  const client = (bearer: () => string) =>
    createKmsClient({
      baseUrl: emulator.httpUrl,
      keyName: KEY,
      credential: { accessToken: () => Promise.resolve(bearer()), invalidate: () => undefined },
      timeoutMs: 2_000,
    });

  it('wraps and unwraps with AAD, checking the integrity fields', async () => {
    const kms = client(() => token);
    const wrapped = await kms.encrypt(Buffer.from('k'.repeat(32)), Buffer.from('aad'));
    await expect(kms.decrypt(wrapped, Buffer.from('aad'))).resolves.toEqual(Buffer.from('k'.repeat(32)));
    await expect(kms.decrypt(wrapped, Buffer.from('other'))).rejects.toMatchObject({ kind: 'refused' });
  });

  it('calls a 5xx an outage and a 403 a refusal, with nothing secret in the error', async () => {
    emulator.faults.inject({ endpoint: 'cloudkms.encrypt', status: 503, times: 1 });
    const err = await client(() => token)
      .encrypt(Buffer.from('secret-bytes'), Buffer.from('a'))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmsError);
    expect(err).toMatchObject({ kind: 'unavailable' });
    expect(String((err as Error).message)).not.toContain('secret-bytes');
    await expect(
      client(() => strangerToken).encrypt(Buffer.from('x'), Buffer.from('a')),
    ).rejects.toMatchObject({ kind: 'refused' });
  });
});
