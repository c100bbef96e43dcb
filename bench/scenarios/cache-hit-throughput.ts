/**
 * Figure 1: generateAccessToken served from the cache (caller ID token verified, policy checked,
 * one audit entry written) against a bare functions-framework hello-world receiving the very same
 * request (POST, headers, JSON body — functions-framework reads and parses that body before any
 * function runs, so only what the token function adds is compared), all under the same autocannon
 * load, runs interleaved. The hello-world answering bare GETs (the figure before 2026-12-06) is
 * kept as context (1e).
 */
import type { BenchContext } from '../lib/context.js';
import { startFunction } from '../lib/function-server.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { cpuSeconds, rssBytes } from '../lib/processes.js';
import type { Figure } from '../lib/report.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { accessTokenRequest, fetchAccessToken, startTokenFunction } from '../lib/token-target.js';

interface MeasuredLoad extends LoadResult {
  /** Server CPU (user + system) per successful response, microseconds. */
  cpuUsPerRequest: number;
}

/** Runs a load and charges the server's CPU time to its successful responses. */
async function withCpu(pid: number, load: () => Promise<LoadResult>): Promise<MeasuredLoad> {
  const before = cpuSeconds(pid) ?? Number.NaN;
  const result = await load();
  const used = (cpuSeconds(pid) ?? Number.NaN) - before;
  return { ...result, cpuUsPerRequest: (used * 1e6) / Math.max(1, result.ok) };
}

export interface ThroughputOutcome {
  figures: Figure[];
  /** RSS of the hello-world baseline after all its load runs (the memory figure's baseline). */
  helloRssAfterLoadBytes: number;
}

export async function cacheHitThroughput(ctx: BenchContext): Promise<ThroughputOutcome> {
  const { config } = ctx;
  const hello = await startFunction('hello');
  const helloSame = await startFunction('hello');
  const helloAudit = await startFunction('helloAudit');
  const { server: token, idToken } = await startTokenFunction(ctx.emulator, ctx.policyFile);
  try {
    await fetchAccessToken(token.url, idToken); // fills the cache: every measured request is a hit
    const req = accessTokenRequest(idToken);
    const helloLoad = (seconds: number) =>
      withCpu(hello.child.pid, () =>
        runLoad({ url: hello.url, connections: config.connections, durationSeconds: seconds }),
      );
    // The token request, sent as is to `server` (the token function, or the same-request baseline).
    const requestLoad = (server: { url: string; child: { pid: number } }, seconds: number) =>
      withCpu(server.child.pid, () =>
        runLoad({
          url: server.url,
          connections: config.connections,
          durationSeconds: seconds,
          method: req.method,
          path: req.path,
          headers: req.headers,
          body: req.body,
        }),
      );
    const tokenLoad = (seconds: number) => requestLoad(token, seconds);
    const helloSameLoad = (seconds: number) => requestLoad(helloSame, seconds);
    const helloAuditLoad = (seconds: number) => requestLoad(helloAudit, seconds);

    await helloLoad(config.warmupSeconds);
    await helloSameLoad(config.warmupSeconds);
    await helloAuditLoad(config.warmupSeconds);
    await tokenLoad(config.warmupSeconds);
    const auditBefore = token.child.stdoutLines();
    const helloRuns: MeasuredLoad[] = [];
    const helloSameRuns: MeasuredLoad[] = [];
    const helloAuditRuns: MeasuredLoad[] = [];
    const tokenRuns: MeasuredLoad[] = [];
    for (let run = 0; run < config.runs; run++) {
      helloRuns.push(await helloLoad(config.loadSeconds));
      helloSameRuns.push(await helloSameLoad(config.loadSeconds));
      helloAuditRuns.push(await helloAuditLoad(config.loadSeconds));
      tokenRuns.push(await tokenLoad(config.loadSeconds));
      ctx.log(
        `  run ${run + 1}/${config.runs}: hello (GET) ${helloRuns[run].reqPerSec.toFixed(0)} req/s, hello (same request) ${helloSameRuns[run].reqPerSec.toFixed(0)} req/s, token ${tokenRuns[run].reqPerSec.toFixed(0)} req/s`,
      );
    }
    const helloFailures = helloSameRuns.reduce((n, r) => n + r.non2xx + r.errors, 0);
    if (helloFailures > 0) throw new Error(`cache-hit throughput: ${helloFailures} baseline requests failed`);
    const failures = tokenRuns.reduce((n, r) => n + r.non2xx + r.errors, 0);
    if (failures > 0) throw new Error(`cache-hit throughput: ${failures} token requests failed`);
    const served = tokenRuns.reduce((n, r) => n + r.ok, 0);
    // Audit lines are written after each response; give the pipe a moment to deliver the tail.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const auditEntries = token.child.stdoutLines() - auditBefore;
    const helloRss = rssBytes(hello.child.pid) ?? Number.NaN;
    ctx.details.cacheHitThroughput = {
      hello: helloRuns,
      helloSameRequest: helloSameRuns,
      token: tokenRuns,
      tokenRequestsServed: served,
      auditEntriesWritten: auditEntries,
    };

    const pick = (runs: MeasuredLoad[], key: 'reqPerSec' | 'p50Ms' | 'p99Ms' | 'cpuUsPerRequest') =>
      runs.map((r) => r[key]);
    const throughputRatio = pairedRatio(pick(tokenRuns, 'reqPerSec'), pick(helloSameRuns, 'reqPerSec'));
    const same = 'hello-world, same request';
    const audited = `${auditEntries} audit entries for ${served} measured requests`;
    return {
      helloRssAfterLoadBytes: helloRss,
      figures: [
        {
          id: '1a',
          name: 'cache-hit throughput',
          unit: 'req/s',
          ours: summarize(pick(tokenRuns, 'reqPerSec')),
          baselineName: same,
          baseline: summarize(pick(helloSameRuns, 'reqPerSec')),
          ratio: throughputRatio,
          target: 'ratio ≥ 0.90',
          met: throughputRatio.median >= 0.9,
          note: `${config.connections} connections, ${config.runs} × ${config.loadSeconds} s each; ${audited}`,
        },
        {
          id: '1b',
          name: 'cache-hit latency p50',
          unit: 'ms',
          ours: summarize(pick(tokenRuns, 'p50Ms')),
          baselineName: same,
          baseline: summarize(pick(helloSameRuns, 'p50Ms')),
          ratio: pairedRatio(pick(tokenRuns, 'p50Ms'), pick(helloSameRuns, 'p50Ms')),
          decimals: 1,
        },
        {
          id: '1c',
          name: 'cache-hit latency p99',
          unit: 'ms',
          ours: summarize(pick(tokenRuns, 'p99Ms')),
          baselineName: same,
          baseline: summarize(pick(helloSameRuns, 'p99Ms')),
          ratio: pairedRatio(pick(tokenRuns, 'p99Ms'), pick(helloSameRuns, 'p99Ms')),
          decimals: 1,
        },
        {
          id: '1d',
          name: 'server CPU time per cache-hit request',
          unit: 'µs',
          ours: summarize(pick(tokenRuns, 'cpuUsPerRequest')),
          baselineName: same,
          baseline: summarize(pick(helloSameRuns, 'cpuUsPerRequest')),
          ratio: pairedRatio(pick(tokenRuns, 'cpuUsPerRequest'), pick(helloSameRuns, 'cpuUsPerRequest')),
          note: 'user + system CPU of the server process (all threads) per 2xx response, from /proc: insensitive to neighbours stealing the core',
        },
        {
          id: '1e',
          name: 'context: cache-hit throughput vs hello-world answering bare GETs',
          unit: 'req/s',
          ours: summarize(pick(tokenRuns, 'reqPerSec')),
          baselineName: 'hello-world, GET without body',
          baseline: summarize(pick(helloRuns, 'reqPerSec')),
          ratio: pairedRatio(pick(tokenRuns, 'reqPerSec'), pick(helloRuns, 'reqPerSec')),
          note: 'the figure-1a baseline before 2026-12-06: it also charged the token function for functions-framework reading and parsing a POST body',
        },
        {
          id: '1f',
          name: 'context: the floor of auditing: hello-world writing one audit-sized log line per request, same request',
          unit: 'req/s',
          ours: summarize(pick(helloAuditRuns, 'reqPerSec')),
          baselineName: 'hello-world, same request',
          baseline: summarize(pick(helloSameRuns, 'reqPerSec')),
          ratio: pairedRatio(pick(helloAuditRuns, 'reqPerSec'), pick(helloSameRuns, 'reqPerSec')),
          note: 'what formatting and writing one structured line per request costs with nothing else: a function that audits every decision cannot do better than this against the bare hello-world',
        },
      ],
    };
  } finally {
    await Promise.all([hello.stop(), helloSame.stop(), helloAudit.stop(), token.stop()]);
  }
}
