/**
 * `npm run demo`: the workload flow end to end on an in-process local stack (ephemeral ports):
 * workload identity (metadata-server ID token) → vended access token → Gemini on Vertex AI
 * through @google/genai; then the Gemini API with the API key read from Secret Manager.
 * Nothing leaves this machine; no token or key is printed (only fingerprints).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { GoogleGenAI } from '@google/genai';
import {
  apiKeySecretVersion,
  GeminiApiKeySource,
  VendedTokenClient,
  withApiKey,
  withGeminiRetry,
} from '../client/index.js';
import { startLocalStack } from './local-stack.js';

const SA = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const MODEL = 'gemini-2.5-flash';
const fingerprint = (secret: string): string =>
  createHash('sha256').update(secret).digest('hex').slice(0, 12);
const step = (n: number, text: string): void => void process.stdout.write(`\n${n}. ${text}\n`);

// Audit entries would interleave with the walkthrough: count them instead of printing them.
let auditEntries = 0;
const audit = new Writable({
  write(_chunk, _enc, done) {
    auditEntries++;
    done();
  },
});
const stack = await startLocalStack({ auditTransport: audit, opsLogWrite: () => {} });
// What Cloud Run gives a workload: a metadata server. The stock libraries find it through this.
process.env.GCE_METADATA_HOST = stack.emulator.metadataHost;
process.env.METADATA_SERVER_DETECTION = 'assume-present';
process.env.GOOGLE_CLOUD_PROJECT = stack.emulator.projectId;
// Never pick up the developer's own gcloud credentials: the workload identity is the emulator's.
delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
const gcloudConfig = mkdtempSync(join(tmpdir(), 'tvs-demo-gcloud-'));
process.env.CLOUDSDK_CONFIG = gcloudConfig;

try {
  process.stdout.write(`Local stack: token function ${stack.tokenUrl}, emulator ${stack.emulator.httpUrl}\n`);

  step(1, `The workload (metadata identity workload@tvs-local) asks the token service for ${SA}`);
  const authClient = new VendedTokenClient({ serviceUrl: stack.tokenUrl, targetServiceAccount: SA });
  const { token } = await authClient.getAccessToken();
  process.stdout.write(
    `   access token sha256:${fingerprint(token)}…, expires ${new Date(authClient.expiresAtMs ?? 0).toISOString()}\n`,
  );

  step(2, 'Vertex AI generateContent through @google/genai with googleAuthOptions: { authClient }');
  const vertex = new GoogleGenAI({
    vertexai: true,
    project: stack.emulator.projectId,
    location: 'us-central1',
    googleAuthOptions: { authClient },
    httpOptions: { baseUrl: stack.emulator.httpUrl },
  });
  const answer = await withGeminiRetry(
    () => vertex.models.generateContent({ model: MODEL, contents: 'Hello from a workload' }),
    { authClient },
  );
  process.stdout.write(`   ${MODEL} says: ${JSON.stringify(answer.text)}\n`);

  step(3, 'Gemini API with the current API key from Secret Manager (secret gemini-api-key, alias current)');
  const keys = new GeminiApiKeySource({
    secretVersion: apiKeySecretVersion(stack.emulator.projectId, 'gemini-api-key'),
    secretManagerEndpoint: `http://${stack.emulator.grpcEndpoint}`,
  });
  const viaKey = await withApiKey(keys, (apiKey) =>
    new GoogleGenAI({ apiKey, httpOptions: { baseUrl: stack.emulator.httpUrl } }).models.generateContent({
      model: MODEL,
      contents: 'Hello with an API key',
    }),
  );
  process.stdout.write(
    `   key from ${keys.currentVersion ?? '?'}; ${MODEL} says: ${JSON.stringify(viaKey.text)}\n`,
  );

  await stack.token.flushAudit();
  process.stdout.write(
    `\nDone: ${auditEntries} audit entr${auditEntries === 1 ? 'y' : 'ies'} written by the token service.\n`,
  );
} catch (err) {
  process.stderr.write(`Demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await stack.stop();
  rmSync(gcloudConfig, { recursive: true, force: true });
}
