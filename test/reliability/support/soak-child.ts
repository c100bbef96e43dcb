/**
 * The soak, in a process of its own (so RSS is the service's, and a leaked socket or timer shows
 * as a process that does not exit): emulator + token function on loopback, capacity measured
 * with autocannon, then a fixed rate at half of it with mixed hits, misses and denials. Prints
 * one JSON line of figures and then returns, without process.exit: it must exit by itself.
 *
 * Usage: node --expose-gc --import tsx test/reliability/support/soak-child.ts <soakSeconds> <capacitySeconds>
 */
import autocannon from 'autocannon';
import { accessPath, CP, GEMINI, idPath, startReliabilityStack } from './reliability-stack.js';

const soakSeconds = Number(process.argv[2] ?? 6);
const capacitySeconds = Number(process.argv[3] ?? 2);
// Misses cycle over more audiences than the cache holds, so they stay misses (LRU-evicted).
const CACHE_ENTRIES = 50;
const AUDIENCES = 200;

const r = await startReliabilityStack({
  discardLogs: true,
  env: { TVS_CACHE_MAX_ENTRIES: String(CACHE_ENTRIES) },
});
const bearer = `Bearer ${await r.googleIdToken()}`;
let n = 0;

/** 80 % cached access tokens, 10 % ID-token misses, 5 % policy denials, 5 % bad credentials. */
function nextRequest(): { method: 'POST'; path: string; headers: Record<string, string>; body: string } {
  const i = n++;
  const headers = { 'content-type': 'application/json', authorization: bearer };
  if (i % 20 === 3)
    return {
      method: 'POST',
      path: accessPath('other@tvs-local.iam.gserviceaccount.com'),
      headers,
      body: JSON.stringify({ scope: [CP] }),
    };
  if (i % 20 === 7)
    return {
      method: 'POST',
      path: accessPath(GEMINI),
      headers: { ...headers, authorization: 'Bearer not-a-valid-token' },
      body: JSON.stringify({ scope: [CP] }),
    };
  if (i % 10 === 5)
    return {
      method: 'POST',
      path: idPath(GEMINI),
      headers,
      body: JSON.stringify({ audience: `https://svc-${i % AUDIENCES}.run.app` }),
    };
  return { method: 'POST', path: accessPath(GEMINI), headers, body: JSON.stringify({ scope: [CP] }) };
}

function run(options: { durationSeconds: number; overallRate?: number }): Promise<autocannon.Result> {
  return autocannon({
    url: r.url,
    connections: 16,
    duration: options.durationSeconds,
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
    requests: [{ setupRequest: (req) => ({ ...req, ...nextRequest() }) }],
  });
}

const capacity = await run({ durationSeconds: capacitySeconds });
const rate = Math.max(20, Math.floor(capacity.requests.average * 0.5));

// RSS right after a full GC (the child runs with --expose-gc), once at the end of warm-up (a
// quarter of the soak, traffic still running) and once when the soak is over: what the process
// keeps, not how lazily V8 collects.
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run the soak child with --expose-gc');
const settledRss = () => {
  gc();
  return process.memoryUsage();
};
let afterWarm: NodeJS.MemoryUsage | undefined;
const warmTimer = setTimeout(
  () => {
    afterWarm = settledRss();
  },
  soakSeconds * 1000 * 0.25,
);
const soak = await run({ durationSeconds: soakSeconds, overallRate: rate });
clearTimeout(warmTimer);
const end = settledRss();
const warm = afterWarm ?? end;
const codes = soak.statusCodeStats ?? {};
const count = (prefix: string) =>
  Object.entries(codes)
    .filter(([c]) => c.startsWith(prefix))
    .reduce((sum, [, v]) => sum + (v.count ?? 0), 0);

await r.stop();
process.stdout.write(
  `${JSON.stringify({
    capacityRps: Math.round(capacity.requests.average),
    rateRps: rate,
    requests: soak.requests.total,
    achievedRps: Math.round(soak.requests.average),
    statusCodes: Object.fromEntries(Object.entries(codes).map(([c, v]) => [c, v.count ?? 0])),
    fiveHundreds: count('5'),
    errors: soak.errors,
    timeouts: soak.timeouts,
    p50Ms: soak.latency.p50,
    p99Ms: soak.latency.p99,
    rssAfterWarmupMb: Math.round(warm.rss / 1e5) / 10,
    rssEndMb: Math.round(end.rss / 1e5) / 10,
    rssGrowthPercent: Math.round(((end.rss - warm.rss) / warm.rss) * 1000) / 10,
    heapAfterWarmupMb: Math.round(warm.heapUsed / 1e5) / 10,
    heapEndMb: Math.round(end.heapUsed / 1e5) / 10,
  })}\n`,
);
