/** What every step of the reconcile loop gets: the secret's session, its credential kind, the clock, the audit. */
import type { SecretAdmin } from '../../../shared/gcp/secret-admin.js';
import type { Credential } from '../credentials/credential.js';
import type { Step } from '../report.js';
import type { RotationAudit, RotationAuditFields } from '../rotation-audit.js';
import type { SecretSession } from '../secret-session.js';

export interface StepContext {
  session: SecretSession;
  credential: Credential;
  secrets: SecretAdmin;
  now: () => number;
  audit: RotationAudit;
  /** Records a completed step (the report's `actions`) and runs the test hook after it. */
  mark(step: Step): Promise<void>;
  /** Reports a key the rotator found and leaves alone (the report's `foreignKeyIds`). */
  foreign(keyId: string): void;
  /** Audit fields naming the secret. */
  fields(extra?: Omit<RotationAuditFields, 'secret'>): RotationAuditFields;
}

/** `projects/N/secrets/S` + 3 → `projects/N/secrets/S/versions/3` */
export const versionName = (secretName: string, version: number): string =>
  `${secretName}/versions/${version}`;
