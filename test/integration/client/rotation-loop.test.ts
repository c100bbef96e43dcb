/**
 * A long-running workload loop of Gemini calls (Vertex with vended tokens, Gemini API with the
 * key from Secret Manager) while the rotation function rotates the API key and the SA key:
 * zero calls fail, and once the grace periods are over the old API key is refused.
 */
import { GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeySecretVersion,
  GeminiApiKeySource,
  metadataIdTokenSource,
  VendedTokenClient,
  withApiKey,
  withGeminiRetry,
} from '../../../client/index.js';
import {
  createRotateFunction,
  type RotateFunction,
} from '../../../functions/rotate/create-rotate-function.js';
import type { SecretReport } from '../../../functions/rotate/report.js';
import { localRotateEnv, startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import { loadRotateConfig } from '../../../shared/rotate-config.js';
import { createCapture } from '../../support/capture.js';
import { useEmulatorMetadata } from '../../support/google-env.js';

const GEMINI_SA = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const MODEL = 'gemini-2.5-flash';
const GRACE_S = 7200;
const RETRY = { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 4 };

let stack: LocalStack;
let restoreEnv: () => void;
let rotation: RotateFunction;
let clockMs = Date.now();

beforeAll(async () => {
  stack = await startLocalStack({ auditTransport: createCapture().stream, opsLogWrite: () => {} });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
  const e = stack.emulator;
  const config = loadRotateConfig({
    ...localRotateEnv(
      e,
      stack.rotateUrl,
      // What Terraform renders from the map that creates the secrets.
      JSON.stringify({
        'gemini-api-key': {
          kind: 'api-key',
          target: `projects/${e.projectNumber}/locations/global/keys/gemini-demo`,
          period: '86400s',
          grace: `${GRACE_S}s`,
        },
        'gemini-caller-key': { kind: 'sa-key', target: GEMINI_SA, period: '86400s', grace: `${GRACE_S}s` },
      }),
    ),
    TVS_ROTATION_VERIFY_DEADLINE_MS: '10000',
  });
  rotation = createRotateFunction(config, {
    auditTransport: createCapture().stream,
    opsLogWrite: () => {},
    now: () => clockMs,
  });

  // The demo seed labels both key secrets managed, as Terraform's secrets module does.
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
});

/** Runs one sweep over one secret and returns its report. */
async function sweepOne(secret: string, force = false): Promise<SecretReport> {
  const report = await rotation.runSweep({ secrets: [secret], force });
  expect(report.ok, JSON.stringify(report)).toBe(true);
  return report.secrets[0];
}

describe('rotation during a long-running Gemini loop', () => {
  it('rotates the API key and the SA key with zero failed calls; the old API key is refused after the grace periods', async () => {
    const e = stack.emulator;
    const authClient = new VendedTokenClient({
      serviceUrl: stack.tokenUrl,
      targetServiceAccount: GEMINI_SA,
      idTokenSource: metadataIdTokenSource(stack.tokenUrl),
      retry: RETRY,
    });
    // ttlMs 0: the key is re-read only when Gemini refuses it, so the re-read path is what keeps the loop alive.
    const keys = new GeminiApiKeySource({
      secretVersion: apiKeySecretVersion(e.projectId, 'gemini-api-key'),
      secretManagerEndpoint: `http://${e.grpcEndpoint}`,
      ttlMs: 0,
      retry: RETRY,
    });
    const vertex = new GoogleGenAI({
      vertexai: true,
      project: e.projectId,
      location: 'us-central1',
      googleAuthOptions: { authClient },
      httpOptions: { baseUrl: e.httpUrl },
    });
    const oldKey = await keys.getKey();

    let saRotation: SecretReport | undefined;
    let stop = false;
    let calls = 0;
    const failures: unknown[] = [];
    const worker = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          const res =
            i % 2 === 0
              ? await withGeminiRetry(
                  () => vertex.models.generateContent({ model: MODEL, contents: `w${n} #${i}` }),
                  { authClient, retry: RETRY },
                )
              : await withApiKey(
                  keys,
                  (apiKey) =>
                    new GoogleGenAI({ apiKey, httpOptions: { baseUrl: e.httpUrl } }).models.generateContent({
                      model: MODEL,
                      contents: `w${n} #${i}`,
                    }),
                  { retry: RETRY },
                );
          expect(res.text).toContain(`w${n} #${i}`);
          calls++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const workers = Promise.all([0, 1, 2, 3].map(worker));
    const progress = async (more: number): Promise<void> => {
      const target = calls + more;
      while (calls < target && failures.length === 0) await new Promise((r) => setTimeout(r, 5));
    };

    try {
      await progress(20);
      // Rotate (one rotation per run), then let the loop run on the new credentials.
      expect(await sweepOne('gemini-api-key', true)).toMatchObject({
        outcome: 'rotated',
        oldKeyId: 'gemini-demo',
      });
      saRotation = await sweepOne('gemini-caller-key', true);
      expect(saRotation).toMatchObject({ outcome: 'rotated' });
      // New mints now use the new SA key: drop both token caches mid-loop.
      stack.token.minter.cache.clear();
      authClient.invalidate();
      await progress(20);

      // Grace period over: the old credentials are disabled; after the second one, deleted.
      clockMs += (GRACE_S + 1) * 1000;
      expect(await sweepOne('gemini-api-key')).toMatchObject({ outcome: 'retired' });
      expect(await sweepOne('gemini-caller-key')).toMatchObject({ outcome: 'retired' });
      await progress(20);
      clockMs += (GRACE_S + 1) * 1000;
      expect(await sweepOne('gemini-api-key')).toMatchObject({ outcome: 'purged' });
      expect(await sweepOne('gemini-caller-key')).toMatchObject({ outcome: 'purged' });
      stack.token.minter.cache.clear();
      authClient.invalidate();
      await progress(40);
    } finally {
      stop = true;
      await workers;
    }

    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(100);
    const newKey = await keys.getKey();
    expect(newKey).not.toBe(oldKey);
    expect(keys.currentVersion).toMatch(/\/versions\/2$/);
    const refused = await fetch(`${e.httpUrl}/v1beta/models/${MODEL}:generateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': oldKey },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'old key' }] }] }),
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('API_KEY_INVALID');
    // The SA's old key is gone too; the rotated one is what the secret now holds.
    const keyIds = e.state.serviceAccounts.listKeys(GEMINI_SA).map((k) => k.keyId);
    expect(keyIds).not.toContain(saRotation.oldKeyId);
    expect(keyIds).toContain(saRotation.newKeyId);
  });
});
