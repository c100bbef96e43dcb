/**
 * Figure 4, the mint path (every request a cache miss), per run:
 * - in-process: our minter vs google-auth-library's JWT client forced to refresh, same
 *   concurrency, both in the bench process with the emulator moved to the other core;
 * - sequential latency: our minter vs the bare exchange of a pre-signed assertion (the difference
 *   is our signing and plumbing);
 * - over HTTP: the token function served by functions-framework, every request a distinct scope
 *   set, under autocannon (emulator back on the load generator's core).
 */
import type { BenchContext } from '../lib/context.js';
import { closedLoop, type LoopResult } from '../lib/closed-loop.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { bareExchange, ourMinter, peerJwtClients, readKeyFile } from '../lib/minting-clients.js';
import { LOAD_CORE, pinProcess, SERVER_CORE } from '../lib/processes.js';
import type { Figure } from '../lib/report.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import {
  accessTokenRequest,
  BENCH_SCOPE_PREFIX,
  fetchAccessToken,
  startTokenFunction,
  ALL_MISS_ENV,
} from '../lib/token-target.js';

interface MintRun {
  ours: LoopResult;
  peer: LoopResult;
  oursSequential: LoopResult;
  bareSequential: LoopResult;
  http: LoadResult;
}

export async function mintPath(ctx: BenchContext): Promise<Figure[]> {
  const { config, emulator } = ctx;
  const key = await readKeyFile(emulator);
  const peer = peerJwtClients(emulator, key, config.mintConcurrency);
  const bare = await bareExchange(emulator, key);
  const { server, idToken } = await startTokenFunction(emulator, ctx.policyFile, ALL_MISS_ENV);
  const runs: MintRun[] = [];
  try {
    await fetchAccessToken(server.url, idToken); // key loaded; every measured request still misses
    const req = accessTokenRequest(idToken);
    let httpScope = 0;
    const httpBody = () =>
      JSON.stringify({ scope: [`${BENCH_SCOPE_PREFIX}http-${httpScope++}`], lifetime: '3600s' });
    for (let run = 0; run < config.runs; run++) {
      pinProcess(emulator.child.pid, SERVER_CORE);
      const ours = await ourMinter(emulator, `${BENCH_SCOPE_PREFIX}r${run}-`);
      const seconds = config.mintSeconds;
      // Pairs swap order every other run, so neither side always runs first.
      const pair = async <T>(a: () => Promise<T>, b: () => Promise<T>): Promise<[T, T]> => {
        if (run % 2 === 0) return [await a(), await b()];
        const second = await b();
        return [await a(), second];
      };
      const [peerRun, oursRun] = await pair(
        () => closedLoop(peer, config.mintConcurrency, seconds),
        () => closedLoop(ours, config.mintConcurrency, seconds),
      );
      const [bareRun, oursSeqRun] = await pair(
        () => closedLoop(bare, 1, seconds),
        () => closedLoop(ours, 1, seconds),
      );
      const r: Omit<MintRun, 'http'> = {
        peer: peerRun,
        ours: oursRun,
        bareSequential: bareRun,
        oursSequential: oursSeqRun,
      };
      pinProcess(emulator.child.pid, LOAD_CORE);
      const http = await runLoad({
        url: server.url,
        connections: config.connections,
        durationSeconds: seconds,
        method: req.method,
        path: req.path,
        headers: req.headers,
        bodyFor: httpBody,
      });
      if (http.non2xx + http.errors > 0)
        throw new Error(`mint-path: ${http.non2xx + http.errors} HTTP requests failed`);
      runs.push({ ...r, http });
      ctx.log(
        `  run ${run + 1}/${config.runs}: ours ${r.ours.opsPerSec.toFixed(0)}/s, JWT client ${r.peer.opsPerSec.toFixed(0)}/s, p50 ours ${r.oursSequential.p50Ms.toFixed(2)} ms vs bare ${r.bareSequential.p50Ms.toFixed(2)} ms, HTTP all-miss ${http.reqPerSec.toFixed(0)} req/s`,
      );
    }
  } finally {
    pinProcess(emulator.child.pid, LOAD_CORE);
    await server.stop();
  }
  ctx.details.mintPath = runs;

  const ours = runs.map((r) => r.ours.opsPerSec);
  const peerRate = runs.map((r) => r.peer.opsPerSec);
  const oursP50 = runs.map((r) => r.oursSequential.p50Ms);
  const bareP50 = runs.map((r) => r.bareSequential.p50Ms);
  const added = summarize(runs.map((r) => r.oursSequential.p50Ms - r.bareSequential.p50Ms));
  const http = runs.map((r) => r.http.reqPerSec);
  const inProcessRatio = pairedRatio(ours, peerRate);
  return [
    {
      id: '4a',
      name: 'in-process minting (sign + exchange, cache miss)',
      unit: 'tokens/s',
      ours: summarize(ours),
      baselineName: 'google-auth-library JWT, forced refresh',
      baseline: summarize(peerRate),
      ratio: inProcessRatio,
      target: 'ratio ≥ 1.5',
      met: inProcessRatio.median >= 1.5,
      note: `${config.mintConcurrency} concurrent loops each, ${config.runs} × ${config.mintSeconds} s; emulator alone on the other core`,
    },
    {
      id: '4b',
      name: 'mint latency p50, one at a time',
      unit: 'ms',
      ours: summarize(oursP50),
      baselineName: 'bare exchange (pre-signed assertion, same HTTP code)',
      baseline: summarize(bareP50),
      ratio: pairedRatio(oursP50, bareP50),
      target: 'ours − bare ≤ 1 ms',
      met: added.median <= 1,
      decimals: 2,
      note: `added by our signing and plumbing: ${added.median.toFixed(2)} ms (${added.min.toFixed(2)}..${added.max.toFixed(2)})`,
    },
    {
      id: '4c',
      name: 'HTTP generateAccessToken, every request a miss',
      unit: 'tokens/s',
      ours: summarize(http),
      baselineName: 'google-auth-library JWT, forced refresh (4a)',
      baseline: summarize(peerRate),
      ratio: pairedRatio(http, peerRate),
      note: `through functions-framework with caller auth, policy and audit; ${config.connections} connections; p50 ${summarize(runs.map((r) => r.http.p50Ms)).median.toFixed(1)} ms, p99 ${summarize(runs.map((r) => r.http.p99Ms)).median.toFixed(1)} ms`,
    },
  ];
}
