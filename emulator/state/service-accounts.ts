import { randomBytes, randomInt, type KeyObject } from 'node:crypto';
import { buildKeyFile, type GoogleKeyFile } from './key-file.js';
import { generateRsaKeyPair } from './rsa-key.js';
import { StateError } from './state-error.js';

/** Google's cap on user-managed keys per service account. */
export const MAX_USER_MANAGED_KEYS = 10;

/** Far-future `validBeforeTime` Google reports for keys that never expire. */
const NEVER_EXPIRES = '9999-12-31T23:59:59Z';

export type KeyType = 'USER_MANAGED' | 'SYSTEM_MANAGED';
export type KeyState = 'ENABLED' | 'DISABLED' | 'DELETED';

/** A service account as the emulated IAM knows it. */
export interface ServiceAccount {
  readonly email: string;
  /** 21-digit numeric id; also the OAuth client id, `sub` and `azp` of its ID tokens. */
  readonly uniqueId: string;
  readonly projectId: string;
  /** `projects/{projectId}/serviceAccounts/{email}` */
  readonly name: string;
  displayName: string;
  disabled: boolean;
}

/** One key of a service account; the private half is never kept (as at Google). */
export interface ServiceAccountKey {
  /** 40 hex characters; the key file's `private_key_id` and the assertion's `kid`. */
  readonly keyId: string;
  readonly email: string;
  readonly keyType: KeyType;
  readonly keyAlgorithm: 'KEY_ALG_RSA_2048';
  readonly keyOrigin: 'GOOGLE_PROVIDED';
  readonly publicKey: KeyObject;
  /** SPKI PEM of the public key. */
  readonly publicKeyPem: string;
  /** RFC 3339; the key verifies nothing before this time. */
  readonly validAfterTime: string;
  /** RFC 3339; the key verifies nothing after this time. */
  readonly validBeforeTime: string;
  state: KeyState;
}

/** What `createKey` hands back: the only moment the private key exists. */
export interface CreatedKey {
  readonly keyId: string;
  /** The Google key-file JSON (`token_uri` = the emulator's token URL). */
  readonly keyFile: GoogleKeyFile;
  readonly key: ServiceAccountKey;
}

export interface ServiceAccountRegistryOptions {
  readonly projectId: string;
  /** Token URL written into key files (the emulator's `/token`). */
  readonly tokenUrl: string;
}

/** Service accounts and their keys, with Google's key lifecycle (enabled → disabled ⇄ enabled → deleted). */
export class ServiceAccountRegistry {
  private readonly accounts = new Map<string, ServiceAccount>();
  private readonly keys = new Map<string, Map<string, ServiceAccountKey>>();

  constructor(private readonly options: ServiceAccountRegistryOptions) {}

  /** The account, or undefined when unknown or deleted. Emails compare case-insensitively. */
  get(email: string): ServiceAccount | undefined {
    return this.accounts.get(email.toLowerCase());
  }

  /** The account with this numeric unique id, if any. */
  getByUniqueId(uniqueId: string): ServiceAccount | undefined {
    return [...this.accounts.values()].find((a) => a.uniqueId === uniqueId);
  }

  list(): ServiceAccount[] {
    return [...this.accounts.values()];
  }

  /** Creates an account; ALREADY_EXISTS if the email is taken. */
  create(email: string, init: { displayName?: string; disabled?: boolean } = {}): ServiceAccount {
    const normalized = email.toLowerCase();
    if (this.accounts.has(normalized))
      throw new StateError('ALREADY_EXISTS', `service account ${normalized} already exists`);
    const account: ServiceAccount = {
      email: normalized,
      uniqueId: newUniqueId(),
      projectId: this.options.projectId,
      name: `projects/${this.options.projectId}/serviceAccounts/${normalized}`,
      displayName: init.displayName ?? '',
      disabled: init.disabled ?? false,
    };
    this.accounts.set(normalized, account);
    this.keys.set(normalized, new Map());
    return account;
  }

  disable(email: string): void {
    this.require(email).disabled = true;
  }

  enable(email: string): void {
    this.require(email).disabled = false;
  }

  /** Deletes the account and all its keys. */
  delete(email: string): void {
    const account = this.require(email);
    this.accounts.delete(account.email);
    this.keys.delete(account.email);
  }

  /**
   * Generates a new RSA-2048 key for the account and returns its key file. User-managed keys
   * are capped at {@link MAX_USER_MANAGED_KEYS} (deleted keys do not count), as at Google.
   */
  async createKey(email: string, options: { keyType?: KeyType } = {}): Promise<CreatedKey> {
    const account = this.require(email);
    const keyType = options.keyType ?? 'USER_MANAGED';
    this.assertBelowCap(account.email, keyType);
    const { privateKey, publicKey } = await generateRsaKeyPair();
    // Re-check: another createKey may have finished while this key was being generated.
    this.assertBelowCap(account.email, keyType);
    const key: ServiceAccountKey = {
      keyId: randomBytes(20).toString('hex'),
      email: account.email,
      keyType,
      keyAlgorithm: 'KEY_ALG_RSA_2048',
      keyOrigin: 'GOOGLE_PROVIDED',
      publicKey,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      validAfterTime: new Date().toISOString(),
      validBeforeTime: NEVER_EXPIRES,
      state: 'ENABLED',
    };
    this.keysOf(account.email).set(key.keyId, key);
    const keyFile = buildKeyFile({ account, keyId: key.keyId, privateKey, tokenUrl: this.options.tokenUrl });
    return { keyId: key.keyId, keyFile, key };
  }

  /** A key in any state (including DELETED), or undefined. */
  getKey(email: string, keyId: string): ServiceAccountKey | undefined {
    return this.keys.get(email.toLowerCase())?.get(keyId);
  }

  /** Keys that are not deleted, optionally filtered by type. */
  listKeys(email: string, options: { keyTypes?: readonly KeyType[] } = {}): ServiceAccountKey[] {
    const account = this.require(email);
    return [...this.keysOf(account.email).values()].filter(
      (k) => k.state !== 'DELETED' && (!options.keyTypes || options.keyTypes.includes(k.keyType)),
    );
  }

  /** Keys that may verify a signature at `nowMs`: enabled and inside their validity window. */
  usableKeys(email: string, nowMs: number = Date.now()): ServiceAccountKey[] {
    const keys = this.keys.get(email.toLowerCase());
    if (!keys) return [];
    return [...keys.values()].filter((k) => isUsable(k, nowMs));
  }

  disableKey(email: string, keyId: string): void {
    this.requireLiveKey(email, keyId).state = 'DISABLED';
  }

  enableKey(email: string, keyId: string): void {
    this.requireLiveKey(email, keyId).state = 'ENABLED';
  }

  /** Marks the key DELETED: it verifies nothing from now on and leaves the listing. */
  deleteKey(email: string, keyId: string): void {
    this.requireLiveKey(email, keyId).state = 'DELETED';
  }

  private require(email: string): ServiceAccount {
    const account = this.get(email);
    if (!account) throw new StateError('NOT_FOUND', `service account ${email} not found`);
    return account;
  }

  private keysOf(email: string): Map<string, ServiceAccountKey> {
    return this.keys.get(email)!;
  }

  private requireLiveKey(email: string, keyId: string): ServiceAccountKey {
    const account = this.require(email);
    const key = this.keysOf(account.email).get(keyId);
    if (!key || key.state === 'DELETED')
      throw new StateError('NOT_FOUND', `key ${keyId} of ${account.email} not found`);
    return key;
  }

  private assertBelowCap(email: string, keyType: KeyType): void {
    if (keyType !== 'USER_MANAGED') return;
    const live = [...this.keysOf(email).values()].filter(
      (k) => k.keyType === 'USER_MANAGED' && k.state !== 'DELETED',
    );
    if (live.length >= MAX_USER_MANAGED_KEYS)
      throw new StateError('FAILED_PRECONDITION', 'Precondition check failed.');
  }
}

/** True when the key may verify a signature at `nowMs`. */
export function isUsable(key: ServiceAccountKey, nowMs: number): boolean {
  return (
    key.state === 'ENABLED' &&
    Date.parse(key.validAfterTime) <= nowMs &&
    nowMs < Date.parse(key.validBeforeTime)
  );
}

/** A 21-digit numeric id starting with 1, like Google's service-account unique ids. */
function newUniqueId(): string {
  let digits = '1';
  while (digits.length < 21) digits += String(randomInt(0, 10));
  return digits;
}
