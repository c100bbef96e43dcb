/** What a run did (or would do) to one secret: the body of the `rotate` response, one per secret. */
import type { CredentialKind, Phase } from './state.js';

export type Outcome =
  | 'rotated' // a new credential was verified and promoted
  | 'retired' // the old credential and version were disabled
  | 'purged' // the old credential was deleted and its version destroyed
  | 'rolled-back' // the new credential failed verification and was removed
  | 'waiting' // a grace period is running
  | 'not-due'
  | 'busy' // another run holds the claim
  | 'planned' // dry run
  | 'ignored' // an event that needs nothing
  | 'failed';

/** The steps a run performs; `afterStep` hooks fire after each (tests crash runs there). */
export type Step =
  | 'claim'
  | 'discard-version'
  | 'delete-orphan'
  | 'create'
  | 'store'
  | 'verify'
  | 'promote'
  | 'rollback'
  | 'disable'
  | 'delete';
/** Audited, never an action: something found that the rotator leaves alone (`FOREIGN_KEY_KEPT`, ...). */
export type AuditOnlyStep = 'keep-foreign';

export interface SecretReport {
  /** Secret id (short name). */
  secret: string;
  kind?: CredentialKind;
  outcome: Outcome;
  /** Phase after the run. */
  phase?: Phase;
  /** Steps taken, in order. */
  actions: Step[];
  /** Dry run: what would be done. */
  plan?: string[];
  currentKeyId?: string;
  oldKeyId?: string;
  newKeyId?: string;
  newVersion?: number;
  /** When the next step falls due (RFC 3339). */
  nextActionAt?: string;
  /** Why nothing was done. */
  reason?: string;
  /**
   * Keys of the target that appeared after the rotation was claimed and that no run recorded as
   * its own (an operator's key, or one a run made and died before recording): kept, not deleted.
   */
  foreignKeyIds?: string[];
  error?: { code: string; reason: string; message: string };
}

/** The whole run. */
export interface RunReport {
  runId: string;
  dryRun: boolean;
  ok: boolean;
  secrets: SecretReport[];
}
