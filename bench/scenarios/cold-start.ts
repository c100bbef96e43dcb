/**
 * Figure 3: spawn → first 200 (`/healthz`) and spawn → first token (cold cache, key read from the
 * emulator's Secret Manager, exchange at its token endpoint) of the deployed bundle
 * (`dist/bundle/token`), against the bare hello-world's spawn → first 200. For context: a
 * hello-world importing the heavy Google clients at top level, the unbundled token function
 * (tsc's `dist/`, one module per source file), and the bundle against the same hello-world served
 * from an `.mjs` file as the bundle is (3f: functions-framework's loader skips its package.json
 * lookup for both, so that ratio is our start-up work alone). Each run spawns fresh processes;
 * kinds are interleaved.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../lib/context.js';
import { retryOnPortClash, spawnFunction, waitFor200, type FunctionKind } from '../lib/function-server.js';
import type { Figure } from '../lib/report.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { fetchAccessToken, spawnTokenFunction } from '../lib/token-target.js';

function helloStart(kind: FunctionKind): Promise<number> {
  return retryOnPortClash(async () => {
    const server = await spawnFunction(kind);
    try {
      return (await waitFor200(server, '/')) - server.spawnedAt;
    } finally {
      await server.stop();
    }
  });
}

type TokenKind = 'token' | 'tokenUnbundled';

function tokenStart(
  ctx: BenchContext,
  kind: TokenKind,
  extraEnv: Record<string, string> = {},
): Promise<{ first200Ms: number; firstTokenMs: number }> {
  return retryOnPortClash(() => tokenStartOnce(ctx, kind, extraEnv));
}

async function tokenStartOnce(
  ctx: BenchContext,
  kind: TokenKind,
  extraEnv: Record<string, string>,
): Promise<{ first200Ms: number; firstTokenMs: number }> {
  let idToken = '';
  // The caller's ID token names the function's URL, known before spawn; signing it is not timed.
  const server = await spawnTokenFunction(
    ctx.emulator,
    ctx.policyFile,
    extraEnv,
    async (url) => {
      idToken = await ctx.emulator.idToken(url);
    },
    kind,
  );
  try {
    const first200 = await waitFor200(server, '/healthz');
    await fetchAccessToken(server.url, idToken);
    const firstToken = performance.now();
    return { first200Ms: first200 - server.spawnedAt, firstTokenMs: firstToken - server.spawnedAt };
  } finally {
    await server.stop();
  }
}

export async function coldStart(ctx: BenchContext): Promise<Figure[]> {
  const runs = ctx.config.coldStartRuns;
  const hello: number[] = [];
  const helloMjs: number[] = [];
  const heavy: number[] = [];
  const first200: number[] = [];
  const firstToken: number[] = [];
  const unbundled200: number[] = [];
  const secretPolicy200: number[] = [];
  // Terraform's default: the policy in Secret Manager, read before the function listens.
  const policySecret = await ctx.emulator.seedPolicySecret(readFileSync(ctx.policyFile, 'utf8'));
  for (let run = 0; run < runs; run++) {
    hello.push(await helloStart('hello'));
    helloMjs.push(await helloStart('helloMjs'));
    const token = await tokenStart(ctx, 'token');
    first200.push(token.first200Ms);
    firstToken.push(token.firstTokenMs);
    heavy.push(await helloStart('heavyHello'));
    unbundled200.push((await tokenStart(ctx, 'tokenUnbundled')).first200Ms);
    secretPolicy200.push((await tokenStart(ctx, 'token', { TVS_POLICY_SECRET: policySecret })).first200Ms);
    ctx.log(
      `  run ${run + 1}/${runs}: hello ${hello[run].toFixed(0)} ms, hello .mjs ${helloMjs[run].toFixed(0)} ms, token /healthz ${token.first200Ms.toFixed(0)} ms, first token ${token.firstTokenMs.toFixed(0)} ms, heavy hello ${heavy[run].toFixed(0)} ms, unbundled /healthz ${unbundled200[run].toFixed(0)} ms, policy in Secret Manager /healthz ${secretPolicy200[run].toFixed(0)} ms`,
    );
  }
  ctx.details.coldStart = {
    helloMs: hello,
    helloMjsMs: helloMjs,
    tokenFirst200Ms: first200,
    tokenFirstTokenMs: firstToken,
    heavyHelloMs: heavy,
    tokenUnbundledFirst200Ms: unbundled200,
    tokenSecretPolicyFirst200Ms: secretPolicy200,
  };
  const helloSummary = summarize(hello);
  const first200Ratio = pairedRatio(first200, hello);
  return [
    {
      id: '3a',
      name: 'cold start: spawn → first 200 (deployed bundle)',
      unit: 'ms',
      ours: summarize(first200),
      baselineName: 'hello-world',
      baseline: helloSummary,
      ratio: first200Ratio,
      target: 'ratio ≤ 1.2',
      met: first200Ratio.median <= 1.2,
      note: `${runs} fresh processes per kind; polled every 2 ms on new connections`,
    },
    {
      id: '3b',
      name: 'cold start: spawn → first token (cold cache)',
      unit: 'ms',
      ours: summarize(firstToken),
      baselineName: 'hello-world',
      baseline: helloSummary,
      ratio: pairedRatio(firstToken, hello),
    },
    {
      id: '3c',
      name: 'context: hello-world importing secret-manager, logging, google-auth-library',
      unit: 'ms',
      ours: summarize(heavy),
      baselineName: 'hello-world',
      baseline: helloSummary,
      ratio: pairedRatio(heavy, hello),
    },
    {
      id: '3d',
      name: 'context: spawn → first 200 of the unbundled token function (tsc dist/)',
      unit: 'ms',
      ours: summarize(unbundled200),
      baselineName: 'hello-world',
      baseline: helloSummary,
      ratio: pairedRatio(unbundled200, hello),
    },
    {
      id: '3e',
      name: 'context: spawn → first 200 with the policy in Secret Manager (TVS_POLICY_SECRET, as Terraform deploys)',
      unit: 'ms',
      ours: summarize(secretPolicy200),
      baselineName: 'hello-world',
      baseline: helloSummary,
      ratio: pairedRatio(secretPolicy200, hello),
      note: "3a reads the policy from a file; a policy secret is read before listen, over Secret Manager REST with the function's own ADC token (google-auth-library loaded then)",
    },
    {
      id: '3f',
      name: 'context: spawn → first 200 of the bundle vs the same hello-world served from an .mjs file (like for like)',
      unit: 'ms',
      ours: summarize(first200),
      baselineName: 'hello-world, .mjs entry',
      baseline: summarize(helloMjs),
      ratio: pairedRatio(first200, helloMjs),
      note: "the bundle's entry is index.mjs: functions-framework's loader then skips read-package-up, which a .js entry (3a's hello-world) loads; this ratio is our start-up work alone",
    },
  ];
}
