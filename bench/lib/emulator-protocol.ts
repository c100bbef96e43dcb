/** Messages between the bench and its emulator process (`emulator-process.ts`). */

/** The demo workload identity the demo policy lets act as the gemini-caller SA. */
export const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
/** The demo target SA and the secret holding its key. */
export const TARGET_SA = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
export const TARGET_KEY_SECRET = 'projects/tvs-local/secrets/gemini-caller-key/versions/current';
export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

/** Emulator counter names (`FaultRegistry` endpoints) the coalescing figure reads. */
export const TOKEN_ENDPOINT_COUNTER = 'oauth.token';
export const SECRET_ACCESS_COUNTER = 'secretmanager.AccessSecretVersion';

export type EmulatorRequest =
  | { op: 'tokenEnv'; tokenUrl: string }
  | { op: 'idToken'; audience: string }
  | { op: 'counters' }
  | { op: 'resetCounters' }
  /** Stores `text` as a new version of the bench policy's secret; answers the version's name. */
  | { op: 'seedPolicySecret'; text: string };

export type EmulatorReply =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** What the emulator process announces once it listens. */
export interface EmulatorInfo {
  httpUrl: string;
  tokenUrl: string;
  grpcEndpoint: string;
  projectId: string;
}
