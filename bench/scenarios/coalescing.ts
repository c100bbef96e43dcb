/**
 * Figure 2: 1,000 concurrent generateAccessToken requests for one cold (SA, scopes) on a freshly
 * started token function (empty token cache, no key loaded) → how many token-endpoint calls and
 * Secret Manager reads reached the emulator. A fresh process per run keeps every run cold.
 */
import type { BenchContext } from '../lib/context.js';
import { SECRET_ACCESS_COUNTER, TOKEN_ENDPOINT_COUNTER } from '../lib/emulator-protocol.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import type { Figure } from '../lib/report.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { accessTokenRequest, startTokenFunction } from '../lib/token-target.js';

interface CoalescingRun {
  requests: number;
  ok: number;
  tokenEndpointCalls: number;
  secretAccesses: number;
  jwksFetches: number;
  load: LoadResult;
}

export async function coalescing(ctx: BenchContext): Promise<Figure[]> {
  const { config } = ctx;
  const runs: CoalescingRun[] = [];
  for (let run = 0; run < config.runs; run++) {
    const { server, idToken } = await startTokenFunction(ctx.emulator, ctx.policyFile);
    try {
      await ctx.emulator.resetCounters();
      const req = accessTokenRequest(idToken);
      // One connection per request, all opened at once: 1,000 requests in flight together.
      const load = await runLoad({
        url: server.url,
        connections: config.coalesceRequests,
        amount: config.coalesceRequests,
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
      });
      const counters = await ctx.emulator.counters();
      runs.push({
        requests: config.coalesceRequests,
        ok: load.ok,
        tokenEndpointCalls: counters[TOKEN_ENDPOINT_COUNTER] ?? 0,
        secretAccesses: counters[SECRET_ACCESS_COUNTER] ?? 0,
        jwksFetches: counters['oauth.certs'] ?? 0,
        load,
      });
      const last = runs[runs.length - 1];
      ctx.log(
        `  run ${run + 1}/${config.runs}: ${last.ok}/${last.requests} ok, token endpoint ${last.tokenEndpointCalls}, Secret Manager ${last.secretAccesses}, JWKS ${last.jwksFetches}`,
      );
    } finally {
      await server.stop();
    }
  }
  ctx.details.coalescing = runs;
  const failed = runs.filter((r) => r.ok !== r.requests);
  const note = failed.length
    ? `${failed.length} run(s) had failed requests (${failed.map((r) => `${r.requests - r.ok} failed`).join(', ')})`
    : `all ${config.coalesceRequests} requests answered 200 in every run`;
  const requests = runs.map((r) => r.requests);
  const tokenCalls = runs.map((r) => r.tokenEndpointCalls);
  const secretReads = runs.map((r) => r.secretAccesses);
  return [
    {
      id: '2a',
      name: `token-endpoint calls for ${config.coalesceRequests} concurrent cold requests`,
      unit: 'calls',
      ours: summarize(tokenCalls),
      baselineName: 'requests sent',
      baseline: summarize(requests),
      ratio: pairedRatio(tokenCalls, requests),
      target: 'exactly 1 (every run)',
      met: tokenCalls.every((n) => n === 1) && failed.length === 0,
      decimals: 0,
      ratioDecimals: 3,
      note,
    },
    {
      id: '2b',
      name: `Secret Manager reads for ${config.coalesceRequests} concurrent cold requests`,
      unit: 'reads',
      ours: summarize(secretReads),
      baselineName: 'requests sent',
      baseline: summarize(requests),
      ratio: pairedRatio(secretReads, requests),
      target: 'exactly 1 (every run)',
      met: secretReads.every((n) => n === 1) && failed.length === 0,
      decimals: 0,
      ratioDecimals: 3,
    },
  ];
}
