/**
 * Serves a function the production way, in its own pinned process:
 * `node functions-framework/build/src/main.js --target=T --source=S --port=P`.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { FIXTURES_OUT, FUNCTIONS_FRAMEWORK_MAIN, ROOT, TOKEN_BUNDLE_SOURCE, TOKEN_SOURCE } from './build.js';
import { freePort, SERVER_CORE, spawnNode, type Child } from './processes.js';

/** `token`: the deployed bundle; `tokenUnbundled`: tsc's `dist/` (one module per source file). */
export type FunctionKind = 'hello' | 'helloMjs' | 'helloAudit' | 'heavyHello' | 'token' | 'tokenUnbundled';

const SOURCES: Record<FunctionKind, string> = {
  hello: join(FIXTURES_OUT, 'hello-function.js'),
  helloMjs: join(FIXTURES_OUT, 'hello-function.mjs'),
  helloAudit: join(FIXTURES_OUT, 'hello-function.js'),
  heavyHello: join(FIXTURES_OUT, 'heavy-hello-function.js'),
  token: TOKEN_BUNDLE_SOURCE,
  tokenUnbundled: TOKEN_SOURCE,
};
/** The target each kind registers under, where it is not the kind's own name. */
const TARGETS: Partial<Record<FunctionKind, string>> = { helloMjs: 'hello', tokenUnbundled: 'token' };

export interface FunctionServer {
  kind: FunctionKind;
  url: string;
  child: Child;
  /** `performance.now()` just before spawn. */
  spawnedAt: number;
  stop(): Promise<void>;
}

/**
 * The environment a served function sees: ours minus the loaders the bench itself runs under
 * (our NODE_OPTIONS), plus `extra` (which may set a NODE_OPTIONS of its own, as a deployment does).
 */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

/**
 * Spawns a function server. `env` is built once the port (and so the URL, the token function's
 * audience) is known.
 */
export async function spawnFunction(
  kind: FunctionKind,
  env: (url: string) => Promise<Record<string, string>> | Record<string, string> = () => ({}),
  nodeArgs: readonly string[] = [],
): Promise<FunctionServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const extra = { ...(await env(url)), NODE_ENV: 'production' };
  // TVS_BENCH_CPU_PROF=<dir>: every served function writes a V8 CPU profile there when stopped.
  const profile = process.env.TVS_BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TVS_BENCH_CPU_PROF}`]
    : [];
  const args = [
    ...profile,
    ...nodeArgs,
    FUNCTIONS_FRAMEWORK_MAIN,
    `--target=${TARGETS[kind] ?? kind}`,
    `--source=${SOURCES[kind]}`,
    `--port=${port}`,
  ];
  const spawnedAt = performance.now();
  const child = spawnNode(args, { core: SERVER_CORE, env: childEnv(extra), cwd: ROOT });
  return { kind, url, child, spawnedAt, stop: () => child.stop() };
}

/** Thrown by {@link waitFor200} when the server lost a race for its port (someone else bound it). */
export class PortClashError extends Error {
  override readonly name = 'PortClashError';
}

/** Runs `start` again (a fresh port, a fresh process) when the server lost its port; at most 3 tries. */
export async function retryOnPortClash<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof PortClashError) || attempt >= 3) throw err;
    }
  }
}

/** Spawns a function and waits for its first 200 on `path`; a lost port race starts over. */
export function startFunction(kind: FunctionKind, path = '/'): Promise<FunctionServer> {
  return retryOnPortClash(async () => {
    const server = await spawnFunction(kind);
    try {
      await waitFor200(server, path);
      return server;
    } catch (err) {
      await server.stop();
      throw err;
    }
  });
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTP request without keep-alive (each poll is a fresh connection, as a cold client's). */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Polls `url` every `intervalMs` until it answers 200; returns `performance.now()` at that answer.
 * Connection refusals (not listening yet) are retried; a process exit fails.
 */
export async function waitFor200(
  server: FunctionServer,
  path: string,
  options: { deadlineMs?: number; intervalMs?: number } = {},
): Promise<number> {
  const deadline = performance.now() + (options.deadlineMs ?? 30_000);
  for (;;) {
    if (server.child.process.exitCode !== null) {
      const why = `${server.kind} exited (${server.child.process.exitCode}): ${server.child.stderrTail()}`;
      throw server.child.stderrTail().includes('EADDRINUSE') ? new PortClashError(why) : new Error(why);
    }
    try {
      const answer = await httpRequest(`${server.url}${path}`, { timeoutMs: 5_000 });
      if (answer.status === 200) return performance.now();
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline)
      throw new Error(`${server.kind} did not answer 200 on ${path} in time: ${server.child.stderrTail()}`);
    await sleep(options.intervalMs ?? 2);
  }
}
