/**
 * The client as a package: `npm pack` in client/ (its prepack builds client/dist with tsc, its
 * postpack removes it) makes a tarball that installs into a project outside this repository,
 * imports from plain ESM JavaScript, and type-checks strict TypeScript against its types (the Node
 * quick start of docs/workloads.md, with @google/genai, included). Dependencies come from the npm
 * cache when `npm ci` has filled it (`--prefer-offline`), else from the registry.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLIENT = join(REPO, 'client');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];

/** What the Node quick start does, with a fake service (fetchImpl) instead of the network. */
const USE_JS = `
import { VendedTokenClient, withGeminiRetry, toFriendlyError, ClientError } from '@tokenvending/client';

const authClient = new VendedTokenClient({
  serviceUrl: 'https://token-abc123-uc.a.run.app',
  targetServiceAccount: 'gemini-caller@my-project.iam.gserviceaccount.com',
  idTokenSource: async () => 'workload-id-token',
  fetchImpl: async (url, init) => {
    if (new Headers(init.headers).get('authorization') !== 'Bearer workload-id-token') throw new Error('no ID token sent');
    const expireTime = new Date(Date.now() + 3600_000).toISOString().replace(/\\.\\d+Z$/, 'Z');
    return new Response(JSON.stringify({ accessToken: 'ya29.from-the-service', expireTime }), {
      headers: { 'content-type': 'application/json' },
    });
  },
});
const { token } = await authClient.getAccessToken();
const answer = await withGeminiRetry(async () => 'hello', { authClient });
console.log(JSON.stringify({
  token,
  answer,
  helpers: [typeof toFriendlyError, typeof ClientError],
}));
`;

/**
 * The Node quick start as written: every TypeScript block of docs/workloads.md that imports the
 * package (type-checked, not run: it would call Vertex AI and Secret Manager).
 */
const QUICK_START_BLOCKS = [
  ...readFileSync(join(REPO, 'docs', 'workloads.md'), 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm),
]
  .map((m) => m[1])
  .filter((code) => code.includes("from '@tokenvending/client'"));

const USE_TS = `
import { GoogleAuth } from 'google-auth-library';
import {
  VendedTokenClient,
  GeminiApiKeySource,
  apiKeySecretVersion,
  withGeminiRetry,
  type VendedTokenClientOptions,
  type ClientErrorCode,
} from '@tokenvending/client';

const options: VendedTokenClientOptions = {
  serviceUrl: 'https://token-abc123-uc.a.run.app',
  targetServiceAccount: 'gemini-caller@my-project.iam.gserviceaccount.com',
};
const authClient = new VendedTokenClient(options);
// What @google/genai and the Google Cloud libraries accept as googleAuthOptions.authClient.
const auth = new GoogleAuth({ authClient });
const keys = new GeminiApiKeySource({ secretVersion: apiKeySecretVersion('my-project', 'gemini-api-key') });
export async function main(): Promise<string> {
  const code: ClientErrorCode | undefined = undefined;
  void code;
  void auth;
  void keys;
  return withGeminiRetry(async () => 'ok', { authClient });
}
`;

let dir: string;
let project: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-client-package-'));
  await run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: CLIENT });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${dir}`);
  project = join(dir, 'project');
  rmSync(project, { recursive: true, force: true });
  await run('mkdir', ['-p', project]);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'outside', private: true, type: 'module' }),
  );
  // @google/genai: what the quick start uses next to the client (in the npm cache: the repo depends on it).
  await run('npm', ['install', join(dir, tarball), '@google/genai@~2.32.0', ...NPM_FLAGS], { cwd: project });
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('@tokenvending/client packed and installed outside the repository', () => {
  it('leaves no build output in client/', () => {
    expect(readdirSync(CLIENT)).not.toContain('dist');
  });

  it('imports from plain ESM JavaScript and fetches a token from the service', async () => {
    writeFileSync(join(project, 'use.mjs'), USE_JS);
    const { stdout } = await run(process.execPath, ['use.mjs'], { cwd: project });
    expect(JSON.parse(stdout)).toEqual({
      token: 'ya29.from-the-service',
      answer: 'hello',
      helpers: ['function', 'function'],
    });
  });

  it('installs the tvs-credentials command, which writes an external_account file', async () => {
    const { stdout } = await run(
      'npx',
      [
        '--no-install',
        'tvs-credentials',
        '--service-url',
        'https://tvs.example.com',
        '--service-account',
        'ci@p.iam.gserviceaccount.com',
        '--source',
        'k8s-file',
      ],
      { cwd: project },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      type: 'external_account',
      audience: '//tokenvending/serviceAccounts/ci@p.iam.gserviceaccount.com',
      token_url: 'https://tvs.example.com/v1/token',
    });
  });

  it('runs docs/adc.md’s GitHub and GitLab steps that write the credentials file, as written', async () => {
    const adc = readFileSync(join(REPO, 'docs', 'adc.md'), 'utf8');
    const yamlBlocks = [...adc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]));
    const github: string[] = yamlBlocks[0].steps.map((s: { run: string }) => s.run);
    const gitlab: string[] = yamlBlocks[1].deploy.script;
    const job = mkdtempSync(join(dir, 'job-'));
    const env = {
      ...process.env,
      SERVICE: 'https://tvs.example.com',
      SA: 'ci@p.iam.gserviceaccount.com',
      RUNNER_TEMP: job,
      GITHUB_ENV: join(job, 'github-env'),
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://pipelines.example/idtoken?api-version=2.0',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
      CI_BUILDS_DIR: job,
      TVS_ID_TOKEN: 'eyJ.job.token',
    };
    // The steps before the workload's own command (which is any program using a Google library).
    for (const step of [...github.slice(0, 2), ...gitlab.slice(0, 2)])
      await run('bash', ['-euo', 'pipefail', '-c', step], { cwd: project, env });
    const written = JSON.parse(readFileSync(join(job, 'tvs.json'), 'utf8'));
    expect(statSync(join(job, 'tvs.json')).mode & 0o777).toBe(0o600);
    // GitLab's step ran last and wrote the same path: its file source, next to the job's token.
    expect(written.credential_source).toEqual({
      file: join(project, '.tvs-id-token'),
      format: { type: 'text' },
    });
    expect(readFileSync(join(project, '.tvs-id-token'), 'utf8')).toBe('eyJ.job.token');
    expect(readFileSync(join(job, 'github-env'), 'utf8')).toBe(
      `GOOGLE_APPLICATION_CREDENTIALS=${job}/tvs.json\n`,
    );
  });

  it('finds the quick start in docs/workloads.md: the Vertex AI and the API-key snippets', () => {
    expect(QUICK_START_BLOCKS).toHaveLength(2);
    expect(QUICK_START_BLOCKS[0]).toContain('new VendedTokenClient(');
    expect(QUICK_START_BLOCKS[1]).toContain('new GeminiApiKeySource(');
  });

  it('type-checks strict TypeScript against its types, the docs quick start included', async () => {
    writeFileSync(join(project, 'use.ts'), USE_TS);
    const quickStarts = QUICK_START_BLOCKS.map((code, i) => {
      writeFileSync(join(project, `quick-start-${i}.ts`), code);
      return `quick-start-${i}.ts`;
    });
    const args = [
      TSC,
      '--noEmit',
      '--strict',
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--typeRoots',
      join(REPO, 'node_modules', '@types'),
      '--types',
      'node',
      'use.ts',
      ...quickStarts,
    ];
    const result = await run(process.execPath, args, { cwd: project }).catch(
      (err: { stdout: string }) => err,
    );
    expect(result.stdout).toBe('');
  }, 60_000);
});
