/**
 * The deployed entry points, started the way Cloud Functions starts them: functions-framework's
 * own `main.js` loading `functions/token/index.ts` / `functions/rotate/index.ts` (TypeScript via
 * the tsx loader, instead of the compiled `dist/`), configured only by environment variables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { DEMO_POLICY_FILE, localRotateEnv, localTokenEnv } from '../../../scripts/local-stack.js';
import { freePort } from '../../support/free-port.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// The package's own CLI (its `bin`), which Cloud Functions runs.
const FRAMEWORK_MAIN = join(
  dirname(createRequire(import.meta.url).resolve('@google-cloud/functions-framework')),
  'main.js',
);
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

/** Spawns functions-framework for `target` from `source` and waits until it answers. */
async function serve(
  target: string,
  source: string,
  env: Record<string, string>,
  port: number,
  onStdout?: (chunk: string) => void,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', FRAMEWORK_MAIN, `--target=${target}`, `--source=${source}`],
    {
      cwd: ROOT,
      env: { ...process.env, ...env, PORT: String(port), NODE_ENV: 'production' },
      stdio: ['ignore', onStdout ? 'pipe' : 'ignore', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => onStdout?.(chunk.toString()));
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${target} exited ${child.exitCode}: ${stderr.slice(0, 500)}`);
        // Any HTTP answer means it is serving (GET never starts a rotation).
        return fetch(`${url}/healthz`).then(
          (r) => r.status,
          () => 0,
        );
      },
      { timeout: 25_000, interval: 100 },
    )
    .not.toBe(0);
  return { url, child };
}

describe('deployed entry points', () => {
  it('token: SIGTERM under load loses no audit entry (every answered request has its line on stdout)', async () => {
    const port = await freePort();
    let stdout = '';
    const { url, child } = await serve(
      'token',
      'functions/token/index.ts',
      { ...localTokenEnv(emulator, `http://127.0.0.1:${port}`), GCE_METADATA_HOST: emulator.metadataHost },
      port,
      (chunk) => (stdout += chunk),
    );
    const idToken = await emulator.state.signingKeys.signIdToken({
      audience: url,
      subject: emulator.state.serviceAccounts.get('workload@tvs-local.iam.gserviceaccount.com')!,
      includeEmail: true,
    });
    const answered: string[] = [];
    let stop = false;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const loop = async () => {
      while (!stop) {
        const requestBody = JSON.stringify({ scope: [CP] });
        try {
          const res = await fetch(`${url}/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
            body: requestBody,
          });
          if (res.status === 200) answered.push(((await res.json()) as { accessToken: string }).accessToken);
          else await res.arrayBuffer();
        } catch {
          return; // the server went away
        }
      }
    };
    const loops = Array.from({ length: 16 }, () => loop());
    await expect.poll(() => answered.length, { timeout: 20_000, interval: 10 }).toBeGreaterThanOrEqual(200);
    child.kill('SIGTERM');
    await exited;
    stop = true;
    await Promise.all(loops);
    const granted = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { decision?: string })
      .filter((e) => e.decision === 'granted');
    expect(answered.length).toBeGreaterThanOrEqual(200);
    // Every request the client saw answered was audited before the process died.
    expect(granted.length).toBeGreaterThanOrEqual(answered.length);
  });

  it('token: serves a token, and answers malformed JSON in Google’s error model', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await serve(
      'token',
      'functions/token/index.ts',
      { ...localTokenEnv(emulator, url), GCE_METADATA_HOST: emulator.metadataHost },
      port,
    );
    const idToken = await emulator.state.signingKeys.signIdToken({
      audience: url,
      subject: emulator.state.serviceAccounts.get('workload@tvs-local.iam.gserviceaccount.com')!,
      includeEmail: true,
    });
    const post = (body: string) =>
      fetch(`${url}/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
        body,
      });

    const ok = await post(JSON.stringify({ scope: [CP] }));
    expect(ok.status).toBe(200);
    expect(
      emulator.state.tokens.lookup(((await ok.json()) as { accessToken: string }).accessToken),
    ).toMatchObject({ email: GEMINI });

    const bad = await post('{"scope": [');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'MALFORMED_JSON' }] },
    });
  });

  it('rotate: answers a dry-run sweep to its invoker, and refuses anyone else before reading the body', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await serve(
      'rotate',
      'functions/rotate/index.ts',
      { ...localRotateEnv(emulator, url), GCE_METADATA_HOST: emulator.metadataHost },
      port,
    );
    const idToken = (email: string, audience = url) =>
      emulator.state.signingKeys.signIdToken({
        audience,
        subject: emulator.state.serviceAccounts.get(email)!,
        includeEmail: true,
      });
    const post = (authorization?: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ dryRun: true }),
      });

    const res = await post(`Bearer ${await idToken('workload@tvs-local.iam.gserviceaccount.com')}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ dryRun: true, ok: true });

    const anonymous = await post();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({
      error: { status: 'UNAUTHENTICATED', details: [{ reason: 'CALLER_CREDENTIAL_MISSING' }] },
    });
    const other = await post(`Bearer ${await idToken(GEMINI)}`);
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({
      error: { status: 'PERMISSION_DENIED', details: [{ reason: 'ROTATE_INVOKER_NOT_ALLOWED' }] },
    });
    const elsewhere = await post(
      `Bearer ${await idToken('workload@tvs-local.iam.gserviceaccount.com', 'https://tvs-token-abc123-uc.a.run.app')}`,
    );
    expect(elsewhere.status).toBe(401);
    expect(await elsewhere.json()).toMatchObject({
      error: { details: [{ reason: 'CALLER_CREDENTIAL_AUDIENCE_MISMATCH' }] },
    });
  });
});

describe('token entry point: a vended ID token is never accepted back as a caller credential', () => {
  // Configured by environment only, as on Cloud Run: its accepted audience is its run.app URL
  // (callers name the service by that URL; the test reaches it on loopback), and an external
  // issuer accepts a second audience.
  const SERVICE = 'https://token-q7x2k4mzpa-uc.a.run.app';
  const CI_AUDIENCE = 'https://tvs.ci.example.org';
  const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
  const VERTEX = 'vertex-caller@tvs-local.iam.gserviceaccount.com';
  const dir = mkdtempSync(join(tmpdir(), 'tvs-self-audience-'));

  /** Writes a policy: `workload` may act as gemini-caller; only gemini-caller may act as vertex-caller. */
  function policyFile(name: string, audiences: string[]): string {
    const path = join(dir, `${name}.json`);
    const demo = JSON.parse(readFileSync(DEMO_POLICY_FILE, 'utf8')) as {
      serviceAccounts: Record<string, unknown>;
    };
    writeFileSync(
      path,
      JSON.stringify({
        version: 1,
        serviceAccounts: demo.serviceAccounts,
        rules: [
          {
            name: 'workload-as-gemini',
            caller: { issuer: 'https://accounts.google.com', email: WORKLOAD },
            serviceAccounts: [GEMINI],
            scopes: [CP],
            idTokenAudiences: audiences,
          },
          {
            name: 'gemini-as-vertex',
            caller: { issuer: 'https://accounts.google.com', email: GEMINI },
            serviceAccounts: [VERTEX],
            scopes: [CP],
          },
        ],
      }),
    );
    return path;
  }

  function env(policy: string, url: string): Record<string, string> {
    return {
      ...localTokenEnv(emulator, url),
      GCE_METADATA_HOST: emulator.metadataHost,
      TVS_AUDIENCE: SERVICE,
      TVS_POLICY_FILE: policy,
      // Never contacted: no token of this issuer is presented.
      TVS_OIDC_ISSUERS: JSON.stringify([
        { issuer: 'http://127.0.0.1:9/ci', jwksUri: 'http://127.0.0.1:9/jwks', audiences: [CI_AUDIENCE] },
      ]),
    };
  }

  const signAs = (email: string, audience: string) =>
    emulator.state.signingKeys.signIdToken({
      audience,
      subject: emulator.state.serviceAccounts.get(email)!,
      includeEmail: true,
    });
  const post = (url: string, path: string, bearer: string, body: unknown) =>
    fetch(`${url}/v1/projects/-/serviceAccounts/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify(body),
    });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to start with a policy whose ID-token audiences match the service’s own URL, naming the rule', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', FRAMEWORK_MAIN, '--target=token', '--source=functions/token/index.ts'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          ...env(
            policyFile('wildcard', ['https://example.com', 'https://*.a.run.app']),
            `http://127.0.0.1:${port}`,
          ),
          PORT: String(port),
          NODE_ENV: 'production',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Started or not, it answers nothing while it is alive: poll for the exit, or for a served request.
    await expect
      .poll(
        async () =>
          child.exitCode ??
          (await fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => `served ${r.status}`,
            () => null,
          )),
        { timeout: 25_000, interval: 100 },
      )
      .not.toBeNull();
    expect(child.exitCode).not.toBe(0);
    expect(child.exitCode).not.toBeNull();
    expect(stderr).toContain('rules[0] (name=workload-as-gemini).idTokenAudiences[1]');
    expect(stderr).toContain('an audience this service accepts from callers');
  });

  it('refuses the service’s own audience in every spelling with 403 AUDIENCE_IS_THIS_SERVICE, and a vended ID token does not authenticate', async () => {
    const port = await freePort();
    const { url } = await serve(
      'token',
      'functions/token/index.ts',
      env(policyFile('narrow', ['https://backend-*.a.run.app']), `http://127.0.0.1:${port}`),
      port,
    );
    const workload = await signAs(WORKLOAD, SERVICE);

    // What is at stake: an ID token of gemini-caller for this service's audience WOULD act as gemini-caller.
    const asGemini = await post(url, `${VERTEX}:generateAccessToken`, await signAs(GEMINI, SERVICE), {
      scope: [CP],
    });
    expect(asGemini.status).toBe(200);
    // The workload itself may not act as vertex-caller.
    expect((await post(url, `${VERTEX}:generateAccessToken`, workload, { scope: [CP] })).status).toBe(403);

    const mintsBefore = emulator.faults.count('oauth.token');
    for (const audience of [
      SERVICE,
      'https://TOKEN-Q7X2K4MZPA-UC.A.RUN.APP',
      `${SERVICE}:443`,
      `${SERVICE}/`,
      'HTTPS://token-q7x2k4mzpa-uc.a.run.app:443/',
      CI_AUDIENCE,
      `${CI_AUDIENCE}/`,
    ]) {
      const res = await post(url, `${GEMINI}:generateIdToken`, workload, { audience });
      expect({ audience, status: res.status }).toEqual({ audience, status: 403 });
      expect(await res.json()).toMatchObject({
        error: { code: 403, status: 'PERMISSION_DENIED', details: [{ reason: 'AUDIENCE_IS_THIS_SERVICE' }] },
      });
    }
    expect(emulator.faults.count('oauth.token')).toBe(mintsBefore);

    // An ID token the workload may obtain (another audience) is no caller credential here.
    const minted = await post(url, `${GEMINI}:generateIdToken`, workload, {
      audience: 'https://backend-api.a.run.app',
    });
    expect(minted.status).toBe(200);
    const { token } = (await minted.json()) as { token: string };
    const replayed = await post(url, `${VERTEX}:generateAccessToken`, token, { scope: [CP] });
    expect(replayed.status).toBe(401);
    expect(await replayed.json()).toMatchObject({ error: { status: 'UNAUTHENTICATED' } });
  });
});
