/** What the reconcile loop needs from a kind of credential (SA key, API key). */
import type { RotationConfig } from '../state.js';

/** A new credential and the bytes that go into the secret version. */
export interface NewCredential {
  keyId: string;
  /** Secret payload: the key-file JSON (SA key) or the raw key string (API key). Never logged. */
  payload: Buffer;
}

export interface CreateContext {
  secretId: string;
  /** `projects/P/secrets/S`: API keys the rotator makes carry it, tying them to their secret. */
  secretName: string;
  /** The rotation's generation (1, 2, ...). */
  generation: number;
  /** The rotation's random nonce (recorded in its state): names and marks new API keys. */
  nonce: string;
  /** The credential being replaced (restrictions are copied from it), if any. */
  currentKey: string | undefined;
}

/**
 * What a key named by the rotation state is, seen from the bound target: `absent` (no such live
 * key of the target: deleted, or never one of its keys), `enabled`, `disabled`, or `foreign` (a
 * live key the rotator must not touch: an API key neither the bound key nor made for this secret).
 */
export type KeyStatus = 'absent' | 'enabled' | 'disabled' | 'foreign';

export interface Credential {
  /** Looks `keyId` up under the bound target (never under a target the state names). */
  keyStatus(config: RotationConfig, keyId: string, secretName: string): Promise<KeyStatus>;
  /** True when `payload` (a secret version's bytes) is the credential of key `keyId`. */
  holds(config: RotationConfig, payload: Buffer, keyId: string): Promise<boolean>;
  /**
   * Ids of the target's live keys, recorded when a rotation is claimed so that keys appearing
   * later can be reported. Undefined for kinds whose keys are found by id (API keys).
   */
  liveKeys(config: RotationConfig): Promise<string[] | undefined>;
  /**
   * Live keys of the target that are neither in `keysBefore` nor `known` (recorded by the
   * rotation): someone else's (an operator's break-glass key) or one a run created and died
   * before recording. Never deleted, only reported. Empty for kinds without `liveKeys`.
   */
  unrecordedKeys(
    config: RotationConfig,
    keysBefore: readonly string[],
    known: readonly string[],
  ): Promise<string[]>;
  /**
   * True when a retried create finds the key an interrupted create made (API keys: the id follows
   * from the recorded nonce); false when the key material exists only in the create answer (SA
   * keys), so a recorded but unstored key must be deleted and another made.
   */
  readonly retryAdoptsKey: boolean;
  /** Throws `FailedPreconditionError` (`KEY_CAP`) when no key can be created. */
  checkCapacity(config: RotationConfig): Promise<void>;
  create(config: RotationConfig, context: CreateContext): Promise<NewCredential>;
  /** The key id held in a payload, when the payload says (SA key files do). */
  keyIdOf(config: RotationConfig, payload: Buffer): string | undefined;
  /** Proves the credential works; throws `FailedPreconditionError` (`VERIFY_FAILED`) if it does not. */
  verify(config: RotationConfig, payload: Buffer): Promise<void>;
  /** Makes the key unusable but recoverable (a no-op where the API has no such state). */
  disable(config: RotationConfig, keyId: string): Promise<void>;
  /** Deletes the key; already gone is fine. */
  delete(config: RotationConfig, keyId: string): Promise<void>;
}
