/**
 * The deployed artefact itself: `npm run bundle`'s directories, each alone in a temp directory
 * with nothing but functions-framework beside it (what the buildpack installs from its
 * package.json), served the way Cloud Functions serves them (the framework's CLI, working
 * directory = the source, `--target` only), configured only by environment variables, against the
 * emulator. Anything the bundle needs at run time that esbuild left behind fails here.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import nodeModule, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { stringify } from 'yaml';
import {
  DEMO_POLICY_FILE,
  localRotateEnv,
  localSharedCacheEnv,
  localTokenEnv,
} from '../../../scripts/local-stack.js';
import {
  bundleAll,
  ENTRY_FILE,
  RUNTIME_DEPENDENCIES,
  WARM_COMPILE_CACHE,
  type BundledFunction,
} from '../../../scripts/bundle/build-bundle.js';
import { freePort } from '../../support/free-port.js';
import { localConsentEnv } from '../../../scripts/consent-stack.js';

const execFileAsync = promisify(execFile);
const FRAMEWORK = '@google-cloud/functions-framework';
const FRAMEWORK_DIR = realpathSync(
  dirname(dirname(dirname(createRequire(import.meta.url).resolve(FRAMEWORK)))),
);
const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const VERTEX = 'vertex-caller@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';

let emulator: Emulator;
let out: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'tvs-bundle-'));
  [emulator] = await Promise.all([startEmulator(), bundleAll(out)]);
  // The framework installed beside each bundle, as `npm ci` of its package.json would; the
  // framework's own dependencies resolve from its real location, the bundle's from here only.
  for (const name of ['token', 'rotate', 'consent'] satisfies BundledFunction[]) {
    mkdirSync(join(out, name, 'node_modules', '@google-cloud'), { recursive: true });
    symlinkSync(FRAMEWORK_DIR, join(out, name, 'node_modules', FRAMEWORK), 'dir');
  }
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  await emulator?.stop();
  if (out) rmSync(out, { recursive: true, force: true });
});

interface Served {
  url: string;
  stdout: () => string;
  /** The function's operational log (stderr), shown when an assertion on a request fails. */
  stderr: () => string;
}

/** Runs the framework's CLI in the bundle's directory for `target` and waits until it answers. */
async function serve(
  name: BundledFunction,
  target: string,
  env: (url: string) => Record<string, string>,
): Promise<Served> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = join(out, name);
  const child = spawn(
    process.execPath,
    [join(dir, 'node_modules', FRAMEWORK, 'build/src/main.js'), `--target=${target}`],
    {
      cwd: dir,
      // Only what the platform sets and the documented variables: no loader, no NODE_PATH.
      env: {
        PATH: process.env.PATH,
        ...env(url),
        GCE_METADATA_HOST: emulator.metadataHost,
        PORT: String(port),
        NODE_ENV: 'production',
        NODE_OPTIONS: '--enable-source-maps',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Polls until it answers or exits (an exit ends the wait at once, not at the timeout).
  await expect
    .poll(
      async () =>
        child.exitCode !== null ||
        (await fetch(`${url}/healthz`).then(
          () => true,
          () => false,
        )),
      { timeout: 25_000, interval: 50 },
    )
    .toBe(true);
  if (child.exitCode !== null) throw new Error(`${target} exited ${child.exitCode}: ${stderr.slice(0, 800)}`);
  return { url, stdout: () => stdout, stderr: () => stderr };
}

const signAs = (email: string, audience: string) =>
  emulator.state.signingKeys.signIdToken({
    audience,
    subject: emulator.state.serviceAccounts.get(email)!,
    includeEmail: true,
  });

/**
 * The files every cold start compiles: what the entry imports statically, transitively, plus the
 * function module the entry awaits (its one dynamic import, after turning on the compile cache).
 */
function startPathFiles(name: BundledFunction): Set<string> {
  const startPath = new Set<string>();
  const follow = (file: string, pattern: RegExp): void => {
    if (startPath.has(file)) return;
    startPath.add(file);
    const text = readFileSync(join(out, name, file), 'utf8');
    for (const [, chunk] of text.matchAll(pattern)) follow(`chunks/${chunk}`, STATIC_IMPORT); // chunks import each other from their own directory
  };
  follow(ENTRY_FILE, /(?:from\s*|import\(\s*)"\.\/(?:chunks\/)?([^"]+\.mjs)"/g);
  expect(startPath.size).toBeGreaterThan(2);
  return startPath;
}
/** The code of {@link startPathFiles}, joined. */
function startPathCode(name: BundledFunction): string {
  return [...startPathFiles(name)].map((file) => readFileSync(join(out, name, file), 'utf8')).join('\n');
}
const STATIC_IMPORT = /from\s*"\.\/(?:chunks\/)?([^"]+\.mjs)"/g;

describe('the bundled functions', () => {
  it('are an ESM entry with a source map, and need nothing installed but functions-framework', () => {
    for (const name of ['token', 'rotate'] satisfies BundledFunction[]) {
      const pkg = JSON.parse(readFileSync(join(out, name, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      // `.mjs`: functions-framework then knows the entry is ESM without loading read-package-up.
      expect(pkg).toMatchObject({ type: 'module', main: 'index.mjs' });
      expect(Object.keys(pkg.dependencies as object)).toEqual([...RUNTIME_DEPENDENCIES]);
      const map = JSON.parse(readFileSync(join(out, name, 'index.mjs.map'), 'utf8')) as { sources: string[] };
      expect(
        map.sources.filter((source) => source.endsWith(`/functions/${name}/deployed-entry.ts`)),
      ).toHaveLength(1);
      expect(readFileSync(join(out, name, 'index.mjs'), 'utf8')).toMatch(
        /\n\/\/# sourceMappingURL=index\.mjs\.map\n$/,
      );
    }
  });

  // Before any test serves a bundle: what is in .compile-cache/ then comes from the deploy step alone.
  it('gcp-build fills the compile cache on Node ≥ 22.1, and the function starts from it', async () => {
    const dir = join(out, 'token');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['gcp-build']).toBe(`node ${WARM_COMPILE_CACHE}`);
    // As the buildpack runs it: in the source directory, with no TVS_* configuration.
    const { stdout } = await execFileAsync(process.execPath, [WARM_COMPILE_CACHE], {
      cwd: dir,
      env: { PATH: process.env.PATH },
    });
    const cacheDir = join(dir, '.compile-cache');
    const supported =
      typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
    if (!supported) {
      expect(stdout).toContain('not available');
      expect(existsSync(cacheDir)).toBe(false);
    } else {
      const entries = readdirSync(cacheDir, { recursive: true, withFileTypes: true }).filter((e) =>
        e.isFile(),
      );
      expect(entries.length).toBeGreaterThan(5);
    }
    const { url, stderr } = await serve('token', 'token', (u) => ({
      ...localTokenEnv(emulator, u),
      NODE_DEBUG_NATIVE: 'COMPILE_CACHE',
    }));
    const res = await fetch(`${url}/v1/projects/-/serviceAccounts/${VERTEX}:generateAccessToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await signAs(WORKLOAD, url)}` },
      body: JSON.stringify({ scope: [CP] }),
    });
    expect(res.status).toBe(200);
    // Node's own report: the function's code was compiled from the cache the deploy step wrote.
    const accepted = stderr().match(/V8 code cache for ESM \S+\/chunks\/token-[^ ]+ was accepted/);
    expect(accepted !== null).toBe(supported);
  });

  it('token: holds no gRPC Secret Manager client (the function reads secrets over REST)', () => {
    const chunks = readdirSync(join(out, 'token', 'chunks')).filter((file) => file.endsWith('.mjs'));
    for (const file of chunks)
      expect(readFileSync(join(out, 'token', 'chunks', file), 'utf8')).not.toContain(
        'SecretManagerServiceClient',
      );
  });

  it('token: mints access tokens from a key (Secret Manager over REST) and keyless (ADC, IAM Credentials), writing the audit entries', async () => {
    const { url, stdout, stderr } = await serve('token', 'token', (u) => localTokenEnv(emulator, u));
    const idToken = await signAs(WORKLOAD, url);
    for (const email of [GEMINI, VERTEX]) {
      const res = await fetch(`${url}/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${idToken}` },
        body: JSON.stringify({ scope: [CP], lifetime: '3600s' }),
      });
      const failure =
        res.status === 200 ? '' : `${await res.text()}\n${stderr().slice(-2000)}\n${stdout().slice(-2000)}`;
      expect({ email, status: res.status, failure }).toEqual({
        email,
        status: 200,
        failure: '',
      });
      const { accessToken } = (await res.json()) as { accessToken: string };
      expect(emulator.state.tokens.lookup(accessToken)).toMatchObject({ email });
    }
    await expect
      .poll(() =>
        stdout()
          .split('\n')
          .filter((line) => line.includes('"decision":"granted"')),
      )
      .toEqual([expect.stringContaining(GEMINI), expect.stringContaining(VERTEX)]);
  });

  it('token with the shared cache tier: loads node-redis from its chunk, and a second instance is served from the tier', async () => {
    const instances = [];
    for (let i = 0; i < 2; i++)
      instances.push(
        await serve('token', 'token', (u) => ({
          ...localTokenEnv(emulator, u),
          ...localSharedCacheEnv(emulator),
        })),
      );
    const mints = () => emulator.faults.count('iamcredentials.generateAccessToken');
    const before = mints();
    const tokens: string[] = [];
    for (const { url, stderr } of instances) {
      const res = await fetch(`${url}/v1/projects/-/serviceAccounts/${VERTEX}:generateAccessToken`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await signAs(WORKLOAD, url)}`,
        },
        // A lifetime no other case asks for: a cache key of its own.
        body: JSON.stringify({ scope: [CP], lifetime: '3500s' }),
      });
      expect({ status: res.status, stderr: res.status === 200 ? '' : stderr().slice(-2000) }).toEqual({
        status: 200,
        stderr: '',
      });
      tokens.push(((await res.json()) as { accessToken: string }).accessToken);
    }
    expect(tokens[1]).toBe(tokens[0]);
    expect(mints()).toBe(before + 1);
    for (const { stderr } of instances) expect(stderr()).not.toContain('shared_cache_');
  });

  it('token: compiles the YAML parser only for a YAML policy (not on the start path of a JSON one), and serves with one', async () => {
    const startCode = startPathCode('token');
    expect(startCode).toContain('TVS_POLICY_FILE'); // the walk reached the configuration code
    expect(startCode).not.toContain('YAMLParseError');
    const yamlPolicy = join(out, 'demo-policy.yaml');
    writeFileSync(yamlPolicy, stringify(JSON.parse(readFileSync(DEMO_POLICY_FILE, 'utf8'))));
    const { url, stderr } = await serve('token', 'token', (u) => ({
      ...localTokenEnv(emulator, u),
      TVS_POLICY_FILE: yamlPolicy,
    }));
    const res = await fetch(`${url}/v1/projects/-/serviceAccounts/${VERTEX}:generateAccessToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await signAs(WORKLOAD, url)}` },
      body: JSON.stringify({ scope: [CP] }),
    });
    expect({ status: res.status, stderr: res.status === 200 ? '' : stderr() }).toEqual({
      status: 200,
      stderr: '',
    });
  });

  it('token: has zod/mini on the start path and no module of classic zod', () => {
    // esbuild's metafile names each output's source modules; outputs are keyed relative to the repo.
    const meta = JSON.parse(readFileSync(join(out, 'token.meta.json'), 'utf8')) as Metafile;
    const sourcesOf = (file: string): string[] => {
      const found = Object.entries(meta.outputs).find(([path]) => path.endsWith(`/token/${file}`));
      if (!found) throw new Error(`${file} is not in the metafile`);
      return Object.keys(found[1].inputs);
    };
    const sources = [...startPathFiles('token')].flatMap(sourcesOf);
    expect(sources.filter((source) => source.includes('node_modules/zod/v4/mini/'))).not.toEqual([]);
    expect(sources.filter((source) => source.includes('node_modules/zod/v4/classic/'))).toEqual([]);
  });

  it('token: imports node:http and node:https on its start path only through process.getBuiltinModule', () => {
    // An ES import of node:http builds its ES facade, which reads every export, and one of them
    // loads undici: ~50 ms of a cold start (docs/performance.md, fifth pass).
    const startCode = startPathCode('token');
    expect({
      reachesTheClient: startCode.includes('getBuiltinModule("node:http")'), // the walk got that far
      esImports: startCode.match(/(?:from|import\(?)\s*"(?:node:)?https?"/g) ?? [],
    }).toEqual({ reachesTheClient: true, esImports: [] });
  });

  it('rotate: answers a dry-run sweep to its invoker (Secret Manager over gRPC) and refuses anyone else', async () => {
    const { url } = await serve('rotate', 'rotate', (u) => localRotateEnv(emulator, u));
    const post = async (email: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await signAs(email, url)}` },
        body: JSON.stringify({ dryRun: true }),
      });
    const ok = await post(emulator.state.metadata.defaultServiceAccount!);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ dryRun: true, ok: true });
    expect((await post(GEMINI)).status).toBe(403);
  });

  it('rotateOnEvent: is registered in the rotate bundle and acknowledges a notice it ignores', async () => {
    const { url } = await serve('rotate', 'rotateOnEvent', (u) => localRotateEnv(emulator, u));
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'ce-id': '1',
        'ce-specversion': '1.0',
        'ce-source': '//pubsub.googleapis.com/projects/tvs-local/topics/tvs-rotation',
        'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
      },
      body: JSON.stringify({ message: { attributes: { eventType: 'TOPIC_CONFIGURED' }, messageId: '1' } }),
    });
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(300);
  });

  it('a target the bundle does not register fails the start', async () => {
    await expect(serve('token', 'rotate', (u) => localTokenEnv(emulator, u))).rejects.toThrow(
      /rotate exited [1-9]/,
    );
  });

  it('consent: starts under the framework CLI, refuses a request without IAP, serves the page to an IAP user', async () => {
    const audience = '/projects/123456789012/global/backendServices/77';
    const { url, stderr } = await serve(
      'consent',
      'consent',
      (u) =>
        localConsentEnv(emulator, { publicUrl: u, audience, tokenFunctionUrl: 'http://127.0.0.1:9' }).env,
    );
    expect((await fetch(`${url}/v1/consent`)).status, stderr()).toBe(401);
    const assertion = await emulator.state.iap.sign({
      audience,
      user: { sub: '110248495921238986420', email: 'ada@example.com' },
    });
    const res = await fetch(`${url}/v1/consent`, { headers: { 'x-goog-iap-jwt-assertion': assertion } });
    expect(res.status, stderr()).toBe(200);
    expect(await res.text()).toContain('ada@example.com');
  });
});
