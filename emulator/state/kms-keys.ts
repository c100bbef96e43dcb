/**
 * Cloud KMS symmetric keys (purpose ENCRYPT_DECRYPT, GOOGLE_SYMMETRIC_ENCRYPTION, protection
 * level SOFTWARE) as the `encrypt` / `decrypt` endpoints need them: key versions with real
 * AES-256-GCM material, a primary version, IAM bindings on each key, and per-key call counters.
 * General on purpose: the shared token cache wraps its data keys here, and other envelope
 * encryption (e.g. refresh tokens of a consent broker) can use the same keys.
 *
 * The ciphertext format is the emulator's own (Google's is opaque too): key id (8 bytes) |
 * version (4, big-endian) | IV (12) | tag (16) | ciphertext. The AAD is bound by GCM.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { StateError } from './state-error.js';

export const KMS_ENCRYPTER_DECRYPTER = 'roles/cloudkms.cryptoKeyEncrypterDecrypter';
export const KMS_PERMISSIONS = {
  encrypt: 'cloudkms.cryptoKeyVersions.useToEncrypt',
  decrypt: 'cloudkms.cryptoKeyVersions.useToDecrypt',
} as const;

/** Predefined KMS roles the emulator knows, with their use permissions. */
const ROLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  [KMS_ENCRYPTER_DECRYPTER]: [KMS_PERMISSIONS.encrypt, KMS_PERMISSIONS.decrypt],
  'roles/cloudkms.cryptoKeyEncrypter': [KMS_PERMISSIONS.encrypt],
  'roles/cloudkms.cryptoKeyDecrypter': [KMS_PERMISSIONS.decrypt],
};

const KEY_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

interface KeyVersion {
  readonly id: number;
  readonly material: Buffer;
  state: 'ENABLED' | 'DISABLED';
}

interface CryptoKey {
  readonly name: string;
  readonly tag: Buffer;
  readonly versions: KeyVersion[];
  primary: number;
  /** member → permissions (from roles or permission lists). */
  readonly bindings: { member: string; permissions: readonly string[] }[];
  readonly calls: { encrypt: number; decrypt: number };
}

/** Why decrypt failed, worded as Google words it. */
export type DecryptFailure = 'WRONG_KEY_OR_AAD' | 'MALFORMED' | 'VERSION_DISABLED';

export class KmsKeyRegistry {
  readonly #keys = new Map<string, CryptoKey>();

  /** Creates a key with one enabled primary version. */
  createKey(name: string): void {
    if (!KEY_NAME.test(name)) throw new TypeError(`not a crypto key name: ${name}`);
    if (this.#keys.has(name)) throw new StateError('ALREADY_EXISTS', `CryptoKey ${name} already exists.`);
    this.#keys.set(name, {
      name,
      tag: randomBytes(8),
      versions: [{ id: 1, material: randomBytes(32), state: 'ENABLED' }],
      primary: 1,
      bindings: [],
      calls: { encrypt: 0, decrypt: 0 },
    });
  }

  has(name: string): boolean {
    return this.#keys.has(name);
  }

  /** Adds a version and makes it primary (what automatic rotation does); returns its id. */
  rotate(name: string): number {
    const key = this.#require(name);
    const id = key.versions.length + 1;
    key.versions.push({ id, material: randomBytes(32), state: 'ENABLED' });
    key.primary = id;
    return id;
  }

  setVersionState(name: string, version: number, state: 'ENABLED' | 'DISABLED'): void {
    const found = this.#require(name).versions.find((v) => v.id === version);
    if (!found)
      throw new StateError('NOT_FOUND', `CryptoKeyVersion ${name}/cryptoKeyVersions/${version} not found.`);
    found.state = state;
  }

  /** Grants `member` (e.g. `serviceAccount:x@p.iam.gserviceaccount.com`) a role or permission list on the key. */
  grant(name: string, member: string, role: string | readonly string[]): void {
    const permissions = typeof role === 'string' ? ROLE_PERMISSIONS[role] : role;
    if (!permissions) throw new TypeError(`unknown KMS role ${String(role)}`);
    this.#require(name).bindings.push({ member: member.toLowerCase(), permissions });
  }

  revoke(name: string, member: string): void {
    const key = this.#require(name);
    const m = member.toLowerCase();
    for (let i = key.bindings.length - 1; i >= 0; i--)
      if (key.bindings[i].member === m) key.bindings.splice(i, 1);
  }

  allows(name: string, member: string, permission: string): boolean {
    const m = member.toLowerCase();
    return (this.#keys.get(name)?.bindings ?? []).some(
      (b) => b.member === m && b.permissions.includes(permission),
    );
  }

  /** Calls of each method on the key (successful or not, once the key resolved). */
  calls(name: string): { encrypt: number; decrypt: number } {
    return { ...(this.#keys.get(name)?.calls ?? { encrypt: 0, decrypt: 0 }) };
  }

  count(name: string, method: 'encrypt' | 'decrypt'): void {
    this.#require(name).calls[method]++;
  }

  /** Encrypts under the primary version (or `version`); returns the version's resource name and the ciphertext. */
  encrypt(
    name: string,
    plaintext: Buffer,
    aad: Buffer,
    version?: number,
  ): { versionName: string; ciphertext: Buffer } | { disabled: string } {
    const key = this.#require(name);
    const v = key.versions.find((x) => x.id === (version ?? key.primary));
    if (!v)
      throw new StateError('NOT_FOUND', `CryptoKeyVersion ${name}/cryptoKeyVersions/${version} not found.`);
    const versionName = `${name}/cryptoKeyVersions/${v.id}`;
    if (v.state !== 'ENABLED') return { disabled: versionName };
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', v.material, iv);
    cipher.setAAD(aad);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(v.id);
    return { versionName, ciphertext: Buffer.concat([key.tag, header, iv, cipher.getAuthTag(), body]) };
  }

  decrypt(
    name: string,
    ciphertext: Buffer,
    aad: Buffer,
  ): { plaintext: Buffer; usedPrimary: boolean } | { failure: DecryptFailure; versionName?: string } {
    const key = this.#require(name);
    if (ciphertext.length < 8 + 4 + 12 + 16) return { failure: 'MALFORMED' };
    if (!ciphertext.subarray(0, 8).equals(key.tag)) return { failure: 'WRONG_KEY_OR_AAD' };
    const v = key.versions.find((x) => x.id === ciphertext.readUInt32BE(8));
    if (!v) return { failure: 'MALFORMED' };
    if (v.state !== 'ENABLED')
      return { failure: 'VERSION_DISABLED', versionName: `${name}/cryptoKeyVersions/${v.id}` };
    try {
      const decipher = createDecipheriv('aes-256-gcm', v.material, ciphertext.subarray(12, 24));
      decipher.setAAD(aad);
      decipher.setAuthTag(ciphertext.subarray(24, 40));
      const plaintext = Buffer.concat([decipher.update(ciphertext.subarray(40)), decipher.final()]);
      return { plaintext, usedPrimary: v.id === key.primary };
    } catch {
      return { failure: 'WRONG_KEY_OR_AAD' };
    }
  }

  #require(name: string): CryptoKey {
    const key = this.#keys.get(name);
    if (!key) throw new StateError('NOT_FOUND', `CryptoKey ${name} not found.`);
    return key;
  }
}
