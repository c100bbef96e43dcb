/**
 * Shared by the recipe tests: the local stack with one recipe's policy, a request helper that
 * returns the audit entries written for that request (by trace id), and a tokeninfo check.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../support/capture.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

export const VERTEX = 'vertex-caller@tvs-local.iam.gserviceaccount.com';
export const CP = 'https://www.googleapis.com/auth/cloud-platform';

export interface RecipeStack {
  stack: LocalStack;
  /** Every audit entry the token function wrote (flush with `stack.token.flushAudit()`). */
  audit: Capture;
  /** POST generateAccessToken for {@link VERTEX} with `token` as the bearer credential. */
  exchange(token: string): Promise<{ status: number; body: any; entries: any[] }>;
  /** Google's view of an access token (the emulator's tokeninfo). */
  tokeninfo(accessToken: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

/**
 * Starts the stack with the recipe's rules in a policy file (built once the emulated issuers' URLs
 * are known); the keyless backend, so no key is needed.
 */
export async function startRecipeStack(
  rules: (emulator: Emulator) => unknown[],
  extraEnv: (emulator: Emulator) => Record<string, string> = () => ({}),
  format: 'json' | 'yaml' = 'json',
): Promise<RecipeStack> {
  const emulator = await startEmulator();
  const dir = mkdtempSync(join(tmpdir(), 'tvs-recipe-'));
  const policyFile = join(dir, `policy.${format}`);
  const policy = {
    version: 1,
    serviceAccounts: { [VERTEX]: { backend: 'keyless' } },
    clients: {},
    rules: rules(emulator),
  };
  writeFileSync(policyFile, format === 'json' ? JSON.stringify(policy) : stringify(policy));
  const audit: Capture = createCapture();
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      emulator,
      auditTransport: audit.stream,
      env: { TVS_POLICY_FILE: policyFile, ...extraEnv(emulator) },
    });
  } catch (error) {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // The keyless backend signs as the function's own identity: the emulated metadata server's.
  const restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  return {
    stack,
    audit,
    async exchange(token) {
      const traceId = randomBytes(16).toString('hex');
      const res = await fetch(
        `${stack.tokenUrl}/v1/projects/-/serviceAccounts/${VERTEX}:generateAccessToken`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            'x-cloud-trace-context': `${traceId}/1;o=1`,
          },
          body: JSON.stringify({ scope: [CP], lifetime: '600s' }),
        },
      );
      const body = (await res.json()) as unknown;
      await stack.token.flushAudit();
      const entries = audit
        .entries()
        .filter((e) => e['logging.googleapis.com/trace'] === `projects/tvs-local/traces/${traceId}`);
      return { status: res.status, body, entries };
    },
    async tokeninfo(accessToken) {
      const res = await fetch(
        `${stack.emulator.tokeninfoUrl}?access_token=${encodeURIComponent(accessToken)}`,
      );
      return { status: res.status, body: (await res.json()) as unknown };
    },
    async stop() {
      restoreEnv();
      await stack.stop();
      await emulator.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
