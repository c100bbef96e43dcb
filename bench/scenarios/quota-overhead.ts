/**
 * Figure 6: what the policy's quotas cost on the cache-hit path. Two token functions, identical
 * but for `TVS_RATE_LIMITS` (on / off), one policy whose `limits` are high enough never to refuse
 * the bench's single caller, so the "on" function pays every check (request bucket, hit test)
 * and refuses nothing. Same autocannon load, runs interleaved; the ratio is on / off.
 *
 * On a shared machine the end-to-end ratio is noisy; figure 6d measures what the checks
 * themselves cost per cache-hit request, in the bench process with the real limiter and cache,
 * against the server CPU of one cache-hit request with quotas off (6b's baseline).
 */
import { performance } from 'node:perf_hooks';
import { createCallerLimits, mintCacheKey } from '../../functions/token/limits/caller-limits.js';
import { resolveLimits } from '../../functions/token/limits/limits-schema.js';
import type { PolicyCaller, PolicyRequest } from '../../functions/token/policy/compile-policy.js';
import { TokenCache } from '../../shared/minting/token-cache.js';
import type { BenchContext } from '../lib/context.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { cpuSeconds } from '../lib/processes.js';
import type { Figure } from '../lib/report.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { accessTokenRequest, fetchAccessToken, startTokenFunction } from '../lib/token-target.js';

interface MeasuredLoad extends LoadResult {
  cpuUsPerRequest: number;
}

async function withCpu(pid: number, load: () => Promise<LoadResult>): Promise<MeasuredLoad> {
  const before = cpuSeconds(pid) ?? Number.NaN;
  const result = await load();
  const used = (cpuSeconds(pid) ?? Number.NaN) - before;
  return { ...result, cpuUsPerRequest: (used * 1e6) / Math.max(1, result.ok) };
}

/** Microseconds per cache-hit request spent in the quota checks (admitRequest + hit test), median of runs. */
async function quotaChecksMicros(runs: number, iterations: number): Promise<number[]> {
  const cache = new TokenCache<{ expiresAtMs: number }>({
    maxEntries: 10,
    refreshAheadMs: 0,
    minRemainingMs: 0,
  });
  const limits = createCallerLimits({
    maxCallers: 10_000,
    isCached: (key) => cache.peek(key) !== undefined || cache.pending(key),
  });
  const resolved = resolveLimits({ requestsPerMinute: 1_000_000, mintsPerMinute: 100_000 }, undefined);
  // One caller per run, so no run can spend a bucket (1,000,000 a minute) another run left empty.
  const caller = (run: number): PolicyCaller => ({
    kind: 'id_token',
    issuer: 'https://accounts.google.com',
    subject: `11223344556677889900${run}`,
    claims: {},
  });
  const sa = { email: 'vertex-caller@tvs-local.iam.gserviceaccount.com', backend: 'keyless' as const };
  const request: PolicyRequest = {
    kind: 'access_token',
    serviceAccount: sa.email,
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    lifetimeSeconds: 3600,
  };
  // Stored, so every check below is a hit found by `peek`, as on the server's hit path.
  await cache.get(mintCacheKey(sa, request), () => Promise.resolve({ expiresAtMs: Date.now() + 3_600_000 }));
  const samples: number[] = [];
  for (let run = 0; run < runs + 1; run++) {
    const who = caller(run);
    const started = performance.now();
    for (let i = 0; i < iterations; i++) {
      const key = limits.admitRequest(who, 'workload', resolved);
      limits.admitMint(key, 'workload', resolved, mintCacheKey(sa, request));
    }
    // The first run warms the JIT and is dropped.
    if (run > 0) samples.push(((performance.now() - started) * 1000) / iterations);
  }
  return samples;
}

export async function quotaOverhead(ctx: BenchContext): Promise<Figure[]> {
  const { config } = ctx;
  // The bench policy's limits are high enough never to refuse this load (bench/lib/token-target.ts).
  const on = await startTokenFunction(ctx.emulator, ctx.policyFile, { TVS_RATE_LIMITS: 'on' });
  const off = await startTokenFunction(ctx.emulator, ctx.policyFile, { TVS_RATE_LIMITS: 'off' });
  try {
    // Fill each cache: every measured request is a hit.
    await fetchAccessToken(on.server.url, on.idToken);
    await fetchAccessToken(off.server.url, off.idToken);
    const load = (target: typeof on, seconds: number) => {
      const req = accessTokenRequest(target.idToken);
      return withCpu(target.server.child.pid, () =>
        runLoad({
          url: target.server.url,
          connections: config.connections,
          durationSeconds: seconds,
          method: req.method,
          path: req.path,
          headers: req.headers,
          body: req.body,
        }),
      );
    };
    await load(off, config.warmupSeconds);
    await load(on, config.warmupSeconds);
    const offRuns: MeasuredLoad[] = [];
    const onRuns: MeasuredLoad[] = [];
    for (let run = 0; run < config.runs; run++) {
      // Alternate which goes first, so neither always follows the other's garbage collection.
      const pair = run % 2 === 0 ? [off, on] : [on, off];
      for (const target of pair)
        (target === on ? onRuns : offRuns).push(await load(target, config.loadSeconds));
      ctx.log(
        `  run ${run + 1}/${config.runs}: quotas off ${offRuns[run].reqPerSec.toFixed(0)} req/s, on ${onRuns[run].reqPerSec.toFixed(0)} req/s`,
      );
    }
    const failures = [...onRuns, ...offRuns].reduce((n, r) => n + r.non2xx + r.errors, 0);
    if (failures > 0) throw new Error(`quota overhead: ${failures} requests failed (a quota refused?)`);
    const pick = (runs: MeasuredLoad[], key: 'reqPerSec' | 'p99Ms' | 'cpuUsPerRequest') =>
      runs.map((r) => r[key]);
    const checks = await quotaChecksMicros(config.runs, 200_000);
    ctx.details.quotaOverhead = { on: onRuns, off: offRuns, quotaChecksMicros: checks };
    const offCpu = summarize(pick(offRuns, 'cpuUsPerRequest'));
    const checkShare = summarize(checks.map((us) => us / offCpu.median));
    const throughput = pairedRatio(pick(onRuns, 'reqPerSec'), pick(offRuns, 'reqPerSec'));
    const note = `${config.connections} connections, ${config.runs} × ${config.loadSeconds} s each, interleaved; every request a cache hit`;
    return [
      {
        id: '6a',
        name: 'cache-hit throughput, quotas on',
        unit: 'req/s',
        ours: summarize(pick(onRuns, 'reqPerSec')),
        baselineName: 'quotas off',
        baseline: summarize(pick(offRuns, 'reqPerSec')),
        ratio: throughput,
        target: 'ratio ≥ 0.95',
        met: throughput.median >= 0.95,
        ratioDecimals: 3,
        note,
      },
      {
        id: '6b',
        name: 'server CPU per cache-hit request, quotas on',
        unit: 'µs',
        ours: summarize(pick(onRuns, 'cpuUsPerRequest')),
        baselineName: 'quotas off',
        baseline: summarize(pick(offRuns, 'cpuUsPerRequest')),
        ratio: pairedRatio(pick(onRuns, 'cpuUsPerRequest'), pick(offRuns, 'cpuUsPerRequest')),
        ratioDecimals: 3,
        note: 'user + system CPU of the server process per 2xx response',
      },
      {
        id: '6c',
        name: 'cache-hit latency p99, quotas on',
        unit: 'ms',
        ours: summarize(pick(onRuns, 'p99Ms')),
        baselineName: 'quotas off',
        baseline: summarize(pick(offRuns, 'p99Ms')),
        ratio: pairedRatio(pick(onRuns, 'p99Ms'), pick(offRuns, 'p99Ms')),
        decimals: 1,
      },
      {
        id: '6d',
        name: 'quota checks per cache-hit request (in-process)',
        unit: 'µs',
        ours: summarize(checks),
        baselineName: 'server CPU per hit, quotas off',
        baseline: offCpu,
        ratio: checkShare,
        target: 'ratio ≤ 0.03',
        met: checkShare.median <= 0.03,
        decimals: 2,
        ratioDecimals: 4,
        note: 'admitRequest + cache key + hit test with the real limiter and TokenCache, 200,000 iterations a run; the ratio is the share of a whole request',
      },
    ];
  } finally {
    await Promise.all([on.server.stop(), off.server.stop()]);
  }
}
