/**
 * The token function as the bench drives it: the demo policy plus a scope glob (so distinct scope
 * sets can force cache misses), the emulator's endpoints, and the generateAccessToken request.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_POLICY_FILE } from '../../scripts/local-stack.js';
import { ROOT } from './build.js';
import type { EmulatorHandle } from './emulator-handle.js';
import { CLOUD_PLATFORM, TARGET_SA } from './emulator-protocol.js';
import {
  httpRequest,
  retryOnPortClash,
  spawnFunction,
  waitFor200,
  type FunctionServer,
} from './function-server.js';

/**
 * The token function's runtime environment as deployed (V8 heap sizing, malloc arenas): the file
 * Terraform's token-vendor module merges into the function's environment variables.
 */
export const DEPLOYED_RUNTIME_ENV_FILE = join(
  ROOT,
  'terraform/modules/token-vendor/runtime-environment.json',
);

/** Reads {@link DEPLOYED_RUNTIME_ENV_FILE}: a flat object of string values. */
export function deployedRuntimeEnv(file = DEPLOYED_RUNTIME_ENV_FILE): Record<string, string> {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${file}: not a JSON object`);
  for (const [key, value] of Object.entries(parsed))
    if (typeof value !== 'string') throw new Error(`${file}: ${key} is not a string`);
  return parsed as Record<string, string>;
}

/**
 * The environment of a bench token function: the deployed runtime environment, then the local
 * stack's configuration against the emulator and the bench policy, then `extraEnv` (which wins).
 */
export function tokenFunctionEnv(
  emulatorEnv: Record<string, string>,
  policyFile: string,
  extraEnv: Record<string, string> = {},
): Record<string, string> {
  const env = { ...deployedRuntimeEnv(), ...emulatorEnv, TVS_POLICY_FILE: policyFile, ...extraEnv };
  // A policy in Secret Manager (TVS_POLICY_SECRET in extraEnv) replaces the file: exactly one may be set.
  return extraEnv.TVS_POLICY_SECRET
    ? Object.fromEntries(Object.entries(env).filter(([name]) => name !== 'TVS_POLICY_FILE'))
    : env;
}

/** Scopes `bench-<n>` make every request a distinct (SA, scopes) key, i.e. a cache miss. */
export const BENCH_SCOPE_PREFIX = 'https://www.googleapis.com/auth/bench-';

/**
 * The demo policy with the workload also allowed `bench-*` scopes, and quotas (`limits`) at their
 * largest so that one caller at thousands of requests a second is never refused while every check
 * still runs; written once to a temp file. All-miss figures (4c, 5d) mint more distinct tokens an
 * hour than any cap allows, by design: they run with TVS_RATE_LIMITS=off ({@link ALL_MISS_ENV}).
 */
export function writeBenchPolicy(): string {
  const policy = JSON.parse(readFileSync(DEMO_POLICY_FILE, 'utf8')) as {
    rules: Array<{ scopes?: string[] }>;
    limits?: unknown;
  };
  for (const rule of policy.rules) rule.scopes = [...(rule.scopes ?? []), `${BENCH_SCOPE_PREFIX}*`];
  policy.limits = { requestsPerMinute: 1_000_000, mintsPerMinute: 100_000, distinctTokensPerHour: 10_000 };
  const path = join(mkdtempSync(join(tmpdir(), 'tvs-bench-')), 'policy.json');
  writeFileSync(path, JSON.stringify(policy));
  return path;
}

/**
 * Spawns the token function on functions-framework, configured against the emulator and with the
 * deployed runtime environment ({@link tokenFunctionEnv}): the deployed bundle, or
 * (`tokenUnbundled`) tsc's output. `beforeSpawn` runs once the URL is known, before the clock
 * starts; `nodeArgs` go to node before functions-framework's script (the memory probe's hooks).
 */
export function spawnTokenFunction(
  emulator: EmulatorHandle,
  policyFile: string,
  extraEnv: Record<string, string> = {},
  beforeSpawn?: (url: string) => Promise<void>,
  kind: 'token' | 'tokenUnbundled' = 'token',
  nodeArgs: readonly string[] = [],
): Promise<FunctionServer> {
  return spawnFunction(
    kind,
    async (url) => {
      await beforeSpawn?.(url);
      return tokenFunctionEnv(await emulator.tokenEnv(url), policyFile, extraEnv);
    },
    nodeArgs,
  );
}

/** Environment of token functions whose every request is a new token (beyond any distinct-token cap). */
export const ALL_MISS_ENV = { TVS_RATE_LIMITS: 'off' } as const;

export const ACCESS_TOKEN_PATH = `/v1/projects/-/serviceAccounts/${TARGET_SA}:generateAccessToken`;

/** Headers and body of a generateAccessToken request. */
export function accessTokenRequest(
  idToken: string,
  scopes: readonly string[] = [CLOUD_PLATFORM],
): { method: 'POST'; path: string; headers: Record<string, string>; body: string } {
  return {
    method: 'POST',
    path: ACCESS_TOKEN_PATH,
    headers: { authorization: `Bearer ${idToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ scope: scopes, lifetime: '3600s' }),
  };
}

/** Starts a token function and waits for `/healthz`; returns it with a caller ID token for it. */
export async function startTokenFunction(
  emulator: EmulatorHandle,
  policyFile: string,
  extraEnv: Record<string, string> = {},
): Promise<{ server: FunctionServer; idToken: string }> {
  const server = await retryOnPortClash(async () => {
    const spawned = await spawnTokenFunction(emulator, policyFile, extraEnv);
    try {
      await waitFor200(spawned, '/healthz');
      return spawned;
    } catch (err) {
      await spawned.stop();
      throw err;
    }
  });
  return { server, idToken: await emulator.idToken(server.url) };
}

/** One generateAccessToken call; throws unless it is a 200 with an access token. */
export async function fetchAccessToken(
  url: string,
  idToken: string,
  scopes?: readonly string[],
): Promise<string> {
  const req = accessTokenRequest(idToken, scopes);
  const answer = await httpRequest(`${url}${req.path}`, {
    method: req.method,
    headers: req.headers,
    body: req.body,
  });
  if (answer.status !== 200)
    throw new Error(`generateAccessToken answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  return (JSON.parse(answer.body) as { accessToken: string }).accessToken;
}
