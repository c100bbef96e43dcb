/**
 * The deployed entry points, started the way Cloud Functions starts them: functions-framework's
 * own `main.js` loading `functions/token/index.ts` / `functions/rotate/index.ts` (TypeScript via
 * the tsx loader, instead of the compiled `dist/`), configured only by environment variables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { localRotateEnv, localTokenEnv } from '../../../scripts/local-stack.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// The package's own CLI (its `bin`), which Cloud Functions runs.
const FRAMEWORK_MAIN = join(dirname(createRequire(import.meta.url).resolve('@google-cloud/functions-framework')), 'main.js');
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';

let emulator: Emulator;
const children: ChildProcess[] = [];

beforeAll(async () => {
  emulator = await startEmulator();
});

afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await emulator?.stop();
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Spawns functions-framework for `target` from `source` and waits until it answers. */
async function serve(target: string, source: string, env: Record<string, string>, port: number): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', FRAMEWORK_MAIN, `--target=${target}`, `--source=${source}`], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const url = `http://127.0.0.1:${port}`;
  await expect
    .poll(async () => {
      if (child.exitCode !== null) throw new Error(`${target} exited ${child.exitCode}: ${stderr.slice(0, 500)}`);
      // Any HTTP answer means it is serving (GET never starts a rotation).
      return fetch(`${url}/healthz`).then((r) => r.status, () => 0);
    }, { timeout: 25_000, interval: 100 })
    .not.toBe(0);
  return url;
}

describe('deployed entry points', () => {
  it('token: serves a token, and answers malformed JSON in Google’s error model', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await serve('token', 'functions/token/index.ts', { ...localTokenEnv(emulator, url), GCE_METADATA_HOST: emulator.metadataHost }, port);
    const idToken = await emulator.state.signingKeys.signIdToken({ audience: url, subject: emulator.state.serviceAccounts.get('workload@tvs-local.iam.gserviceaccount.com')!, includeEmail: true });
    const post = (body: string) => fetch(`${url}/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` }, body });

    const ok = await post(JSON.stringify({ scope: [CP] }));
    expect(ok.status).toBe(200);
    expect(emulator.state.tokens.lookup(((await ok.json()) as { accessToken: string }).accessToken)).toMatchObject({ email: GEMINI });

    const bad = await post('{"scope": [');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'MALFORMED_JSON' }] } });
  });

  it('rotate: answers a dry-run sweep to its invoker, and refuses anyone else before reading the body', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await serve('rotate', 'functions/rotate/index.ts', { ...localRotateEnv(emulator, url), GCE_METADATA_HOST: emulator.metadataHost }, port);
    const idToken = (email: string, audience = url) =>
      emulator.state.signingKeys.signIdToken({ audience, subject: emulator.state.serviceAccounts.get(email)!, includeEmail: true });
    const post = (authorization?: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) }, body: JSON.stringify({ dryRun: true }) });

    const res = await post(`Bearer ${await idToken('workload@tvs-local.iam.gserviceaccount.com')}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ dryRun: true, ok: true });

    const anonymous = await post();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { status: 'UNAUTHENTICATED', details: [{ reason: 'CALLER_CREDENTIAL_MISSING' }] } });
    const other = await post(`Bearer ${await idToken(GEMINI)}`);
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: { status: 'PERMISSION_DENIED', details: [{ reason: 'ROTATE_INVOKER_NOT_ALLOWED' }] } });
    const elsewhere = await post(`Bearer ${await idToken('workload@tvs-local.iam.gserviceaccount.com', 'https://tvs-token-abc123-uc.a.run.app')}`);
    expect(elsewhere.status).toBe(401);
    expect(await elsewhere.json()).toMatchObject({ error: { details: [{ reason: 'CALLER_CREDENTIAL_AUDIENCE_MISMATCH' }] } });
  });
});
