/**
 * Figure 5, memory:
 * - the token cache with 100,000 distinct entries, in a process of its own started with the
 *   deployed runtime environment (RSS and heap, after GC), against the same process before filling; once with tokens of the emulator's length and
 *   once at the 2,048-byte maximum Google documents for access tokens;
 * - the bound: 100,000 distinct inserts into a cache bounded at the production default;
 * - the token function's RSS during a long all-miss load run (distinct scope sets), sampled every
 *   second: after warm-up (the cache has reached its bound) and at the end, against the
 *   hello-world's RSS after its own load runs.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHILDREN_OUT } from '../lib/build.js';
import type { BenchContext } from '../lib/context.js';
import { runLoad } from '../lib/load.js';
import { rssBytes } from '../lib/processes.js';
import type { Figure } from '../lib/report.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import {
  accessTokenRequest,
  BENCH_SCOPE_PREFIX,
  deployedRuntimeEnv,
  fetchAccessToken,
  startTokenFunction,
  ALL_MISS_ENV,
} from '../lib/token-target.js';

const MB = 1024 * 1024;
/** The token function's default `TVS_CACHE_MAX_ENTRIES`. */
const DEFAULT_CACHE_BOUND = 10_000;
/** Length of the emulator's access tokens (`ya29.c.` + 128 base64url characters). */
const EMULATOR_TOKEN_CHARS = 135;
/** Google documents access tokens of up to 2,048 bytes. */
const GOOGLE_MAX_TOKEN_CHARS = 2048;

interface CacheMemory {
  size: number;
  evictions: number;
  before: { rssBytes: number; heapUsedBytes: number };
  after: { rssBytes: number; heapUsedBytes: number };
}

/**
 * Fills a cache in a process of its own. `deployed`: with the deployed runtime environment (V8 heap
 * sizing, malloc arenas), as the token function runs; otherwise with Node's defaults (a cache the
 * deployed 192 MiB heap cannot hold, such as 100,000 tokens of 2,048 bytes).
 */
async function cacheMemory(
  entries: number,
  maxEntries: number,
  tokenChars: number,
  deployed: boolean,
): Promise<CacheMemory> {
  const { NODE_OPTIONS: _benchOptions, ...env } = process.env;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--expose-gc',
      join(CHILDREN_OUT, 'cache-memory.js'),
      String(entries),
      String(maxEntries),
      String(tokenChars),
    ],
    { env: deployed ? { ...env, ...deployedRuntimeEnv() } : env },
  );
  return JSON.parse(stdout) as CacheMemory;
}

async function repeated(
  runs: number,
  entries: number,
  maxEntries: number,
  tokenChars: number,
  deployed: boolean,
): Promise<CacheMemory[]> {
  const results: CacheMemory[] = [];
  for (let run = 0; run < runs; run++)
    results.push(await cacheMemory(entries, maxEntries, tokenChars, deployed));
  return results;
}

interface LoadRss {
  samples: Array<{ atSeconds: number; rssBytes: number; requestsSent: number }>;
  warmRssBytes?: number;
  endRssBytes: number;
  requestsServed: number;
}

/** The token function under all-miss load for `seconds`, its RSS sampled every second. */
async function rssUnderLoad(ctx: BenchContext, seconds: number): Promise<LoadRss> {
  const { server, idToken } = await startTokenFunction(ctx.emulator, ctx.policyFile, ALL_MISS_ENV);
  try {
    await fetchAccessToken(server.url, idToken);
    const req = accessTokenRequest(idToken);
    let sent = 0;
    const samples: LoadRss['samples'] = [];
    const started = Date.now();
    const timer = setInterval(() => {
      const rss = rssBytes(server.child.pid);
      if (rss !== undefined)
        samples.push({ atSeconds: (Date.now() - started) / 1000, rssBytes: rss, requestsSent: sent });
    }, 1000);
    const load = await runLoad({
      url: server.url,
      connections: ctx.config.connections,
      durationSeconds: seconds,
      method: req.method,
      path: req.path,
      headers: req.headers,
      bodyFor: () => JSON.stringify({ scope: [`${BENCH_SCOPE_PREFIX}mem-${sent++}`], lifetime: '3600s' }),
    });
    clearInterval(timer);
    if (load.non2xx + load.errors > 0)
      throw new Error(`memory: ${load.non2xx + load.errors} requests failed`);
    // Warm-up ends once the cache has had more distinct keys than its bound, and not before a third of the run.
    const warm = samples.find(
      (s) => s.requestsSent > DEFAULT_CACHE_BOUND + ctx.config.connections && s.atSeconds >= seconds / 3,
    );
    return {
      samples,
      warmRssBytes: warm?.rssBytes,
      endRssBytes: rssBytes(server.child.pid) ?? Number.NaN,
      requestsServed: load.ok,
    };
  } finally {
    await server.stop();
  }
}

export async function memory(ctx: BenchContext, helloRssAfterLoadBytes: number): Promise<Figure[]> {
  const { config } = ctx;
  const n = config.cacheEntries;
  // As deployed (heap capped at 192 MiB, 8 MiB semi-spaces): the target row.
  const small = await repeated(config.runs, n, n, EMULATOR_TOKEN_CHARS, true);
  // Context and bound rows are near-deterministic: quick mode measures them once.
  const contextRuns = config.quick ? 1 : config.runs;
  // 100,000 tokens of Google's maximum size do not fit the deployed heap (the deployed bound is
  // 10,000): this context row runs with Node's default heap.
  const large = await repeated(contextRuns, n, n, GOOGLE_MAX_TOKEN_CHARS, false);
  const bounded = await repeated(contextRuns, n, DEFAULT_CACHE_BOUND, EMULATOR_TOKEN_CHARS, true);
  ctx.log(
    `  cache: ${n} entries → RSS ${(small[0].after.rssBytes / MB).toFixed(0)} MB (${EMULATOR_TOKEN_CHARS}-char tokens), ${(large[0].after.rssBytes / MB).toFixed(0)} MB (${GOOGLE_MAX_TOKEN_CHARS}-char); bound ${DEFAULT_CACHE_BOUND} keeps ${bounded[0].size}`,
  );
  const load = await rssUnderLoad(ctx, config.memorySeconds);
  ctx.log(
    `  load run: ${load.requestsServed} tokens minted, RSS warm ${load.warmRssBytes === undefined ? 'n/a' : (load.warmRssBytes / MB).toFixed(0)} MB, end ${(load.endRssBytes / MB).toFixed(0)} MB`,
  );
  ctx.details.memory = {
    cache: { emulatorTokens: small, googleMaxTokens: large, bounded },
    loadRun: load,
    helloRssAfterLoadBytes,
  };

  const mb = (
    results: CacheMemory[],
    at: 'before' | 'after',
    key: 'rssBytes' | 'heapUsedBytes' = 'rssBytes',
  ) => results.map((r) => r[at][key] / MB);
  const smallRss = summarize(mb(small, 'after'));
  const growth = load.warmRssBytes === undefined ? undefined : load.endRssBytes - load.warmRssBytes;
  const growthOk = growth !== undefined && growth <= 0.05 * load.warmRssBytes!;
  const endMb = load.endRssBytes / MB;
  const helloMb = helloRssAfterLoadBytes / MB;
  return [
    {
      id: '5a',
      name: `RSS, cache with ${n.toLocaleString('en')} entries (${EMULATOR_TOKEN_CHARS}-char tokens)`,
      unit: 'MB',
      ours: smallRss,
      baselineName: 'same process, empty cache',
      baseline: summarize(mb(small, 'before')),
      ratio: pairedRatio(mb(small, 'after'), mb(small, 'before')),
      target: '≤ 150 MB',
      met: smallRss.median <= 150,
      note: `heapUsed ${summarize(mb(small, 'after', 'heapUsedBytes')).median.toFixed(0)} MB after GC`,
    },
    {
      id: '5b',
      name: `context: same with ${GOOGLE_MAX_TOKEN_CHARS}-byte tokens (Google's documented maximum)`,
      unit: 'MB',
      ours: summarize(mb(large, 'after')),
      baselineName: 'same process, empty cache',
      baseline: summarize(mb(large, 'before')),
      ratio: pairedRatio(mb(large, 'after'), mb(large, 'before')),
      note: `${n.toLocaleString('en')} tokens of ${GOOGLE_MAX_TOKEN_CHARS} bytes are ${((n * GOOGLE_MAX_TOKEN_CHARS) / MB).toFixed(0)} MB of token text alone: more than the deployed 192 MiB heap holds, so this row runs with Node's default heap (5a and 5c run as deployed)`,
    },
    {
      id: '5c',
      name: `cache bound: entries kept after ${n.toLocaleString('en')} distinct inserts`,
      unit: 'entries',
      ours: summarize(bounded.map((r) => r.size)),
      baselineName: 'configured bound',
      baseline: summarize(bounded.map(() => DEFAULT_CACHE_BOUND)),
      ratio: pairedRatio(
        bounded.map((r) => r.size),
        bounded.map(() => DEFAULT_CACHE_BOUND),
      ),
      target: '= bound',
      met: bounded.every((r) => r.size === DEFAULT_CACHE_BOUND),
    },
    {
      id: '5d',
      name: `token function RSS after a ${config.memorySeconds} s all-miss load run`,
      unit: 'MB',
      ours: summarize([endMb]),
      baselineName: 'hello-world after its load runs',
      baseline: summarize([helloMb]),
      ratio: summarize([endMb / helloMb]),
      target: '≤ 150 MB',
      met: endMb <= 150,
      note: `one run; ${load.requestsServed} distinct tokens minted; RSS every second in the JSON`,
    },
    {
      id: '5e',
      name: 'token function RSS growth after warm-up',
      unit: 'MB',
      ours: summarize([growth === undefined ? Number.NaN : growth / MB]),
      baselineName: 'RSS at the end of warm-up',
      baseline: summarize([(load.warmRssBytes ?? Number.NaN) / MB]),
      ratio: summarize([growth === undefined ? Number.NaN : load.endRssBytes / load.warmRssBytes!]),
      target: 'growth ≤ 5 %',
      ...(growth === undefined ? {} : { met: growthOk }),
      decimals: 1,
      note:
        growth === undefined
          ? `not judged: warm-up (more than ${DEFAULT_CACHE_BOUND} distinct keys, so the cache is at its bound) not reached in ${config.memorySeconds} s`
          : `warm-up ended at ${load.samples.find((s) => s.rssBytes === load.warmRssBytes)?.atSeconds.toFixed(0) ?? '?'} s (cache at its bound of ${DEFAULT_CACHE_BOUND})`,
    },
  ];
}
