/**
 * A local stack seeded with two managed secrets (an SA key and an API key, labelled as Terraform
 * does) and their rotation binding, a settable rotation clock and a crash hook.
 */
import type { SeedInput } from '../../../../../emulator/index.js';
import type { Step } from '../../../../../functions/rotate/report.js';
import { parseRotationState } from '../../../../../functions/rotate/state.js';
import { startLocalStack, type LocalStack } from '../../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../../support/capture.js';

export const PROJECT = 'tvs-local';
export const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
export const ROTATED_SA = 'rotated-sa@tvs-local.iam.gserviceaccount.com';
export const GRACE_MS = 7_200_000;
export const PERIOD_MS = 2_592_000_000;
export const SA_SECRET = 'projects/tvs-local/secrets/sa-secret';
export const API_SECRET = 'projects/tvs-local/secrets/api-secret';

const managed = (kind: string) => ({ labels: { 'tvs-managed': 'true', 'tvs-kind': kind } });
const bound = (kind: string, target: string) => ({
  kind,
  target,
  period: `${PERIOD_MS / 1000}s`,
  grace: `${GRACE_MS / 1000}s`,
});
export const API_TARGET = 'projects/tvs-local/locations/global/keys/gemini-demo';

/** What Terraform renders into `TVS_ROTATION_BINDINGS` for `ROTATION_SEED`. */
export const ROTATION_BINDINGS = {
  'sa-secret': bound('sa-key', ROTATED_SA),
  'api-secret': bound('api-key', API_TARGET),
};
/** The same for the demo seed (`emulator/seed/demo.json`). */
export const DEMO_BINDINGS = {
  'gemini-caller-key': bound('sa-key', 'gemini-caller@tvs-local.iam.gserviceaccount.com'),
  'gemini-api-key': bound('api-key', API_TARGET),
};

export const ROTATION_SEED: SeedInput = {
  projectId: PROJECT,
  projectNumber: '123456789012',
  serviceAccounts: [{ email: WORKLOAD }, { email: ROTATED_SA }],
  metadata: { defaultServiceAccount: WORKLOAD },
  apiKeys: [
    {
      id: 'gemini-demo',
      displayName: 'Gemini demo key',
      restrictions: { apiTargets: [{ service: 'generativelanguage.googleapis.com' }] },
    },
  ],
  secrets: [
    {
      id: 'sa-secret',
      ...managed('sa-key'),
      versions: [{ serviceAccountKey: ROTATED_SA }],
      versionAliases: { current: 1 },
    },
    {
      id: 'api-secret',
      ...managed('api-key'),
      versions: [{ apiKeyString: 'gemini-demo' }],
      versionAliases: { current: 1 },
    },
    { id: 'unmanaged', versions: [{ data: 'hello' }] },
  ],
};

export interface RotationStack {
  stack: LocalStack;
  audit: Capture;
  clock: { now(): number; advance(ms: number): void };
  /** Crash (throw) right after this step, once. */
  crashAfter(step: Step | undefined): void;
  state(secret: string): ReturnType<typeof parseRotationState>;
  /** Pushes one SECRET_ROTATE notice for `secret` to `rotateOnEvent` and waits for its delivery. */
  announce(secret: string): Promise<void>;
  /** POSTs `body` to `rotate` as its invoker (or with the given `authorization`), with extra headers. */
  post(
    body: unknown,
    authorization?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: any }>;
}

export async function startRotationStack(
  options: {
    seed?: SeedInput | string;
    bindings?: object;
    env?: Record<string, string>;
    /** Extra environment of the token function. */
    tokenEnv?: Record<string, string>;
    keyRefreshIntervalMs?: number;
    /** Receives every ops line (token and rotate functions); discarded by default. */
    opsLogWrite?: (line: string) => void;
  } = {},
): Promise<RotationStack> {
  const audit = createCapture();
  let nowMs = Date.now();
  let crashStep: Step | undefined;
  const stack = await startLocalStack({
    emulator: { seed: options.seed ?? ROTATION_SEED },
    auditTransport: audit.stream,
    opsLogWrite: options.opsLogWrite ?? (() => undefined),
    ...(options.tokenEnv ? { env: options.tokenEnv } : {}),
    ...(options.keyRefreshIntervalMs !== undefined
      ? { keyRefreshIntervalMs: options.keyRefreshIntervalMs }
      : {}),
    rotateEnv: {
      TVS_ROTATION_BINDINGS: JSON.stringify(options.bindings ?? ROTATION_BINDINGS),
      TVS_ROTATION_VERIFY_DEADLINE_MS: '1500',
      TVS_UPSTREAM_DEADLINE_MS: '3000',
      ...options.env,
    },
    rotate: {
      now: () => nowMs,
      afterStep: (step) => {
        if (step === crashStep) {
          crashStep = undefined;
          throw new Error(`killed after ${step}`);
        }
      },
    },
  });
  return {
    stack,
    audit,
    clock: {
      now: () => nowMs,
      advance: (ms) => {
        nowMs += ms;
      },
    },
    crashAfter: (step) => {
      crashStep = step;
    },
    async announce(secret) {
      const sub = stack.emulator.pubsub.subscribe('tvs-rotation', stack.rotateEventsUrl);
      try {
        const attributes = {
          eventType: 'SECRET_ROTATE',
          dataFormat: 'JSON_API_V1',
          secretId: secret,
          timestamp: new Date(nowMs).toISOString(),
        };
        stack.emulator.pubsub.publish('tvs-rotation', attributes, Buffer.from('{}'));
        await stack.emulator.pubsub.idle();
      } finally {
        stack.emulator.pubsub.unsubscribe(sub.name);
      }
    },
    async post(body, authorization, extra = {}) {
      const headers = {
        ...extra,
        'content-type': 'application/json',
        authorization: authorization ?? (await stack.rotateAuthorization()),
      };
      const res = await fetch(stack.rotateUrl, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: res.status, json: await res.json() };
    },
    state: (secret) => parseRotationState(stack.emulator.state.secrets.getSecret(secret).annotations),
  };
}
