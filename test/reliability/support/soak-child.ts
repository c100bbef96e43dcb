/**
 * The soak, in a process of its own (so RSS is the service's, and a leaked socket or timer shows
 * as a process that does not exit): emulator + token function on loopback, capacity measured
 * with autocannon, then a fixed rate at half of it with mixed hits, misses and denials. Prints
 * one JSON line of figures and then returns, without process.exit: it must exit by itself.
 *
 * Usage: node --import tsx test/reliability/support/soak-child.ts <soakSeconds> <capacitySeconds>
 */
import autocannon from 'autocannon';
import { accessPath, CP, GEMINI, idPath, startReliabilityStack } from './reliability-stack.js';

const soakSeconds = Number(process.argv[2] ?? 6);
const capacitySeconds = Number(process.argv[3] ?? 2);
// Misses cycle over more audiences than the cache holds, so they stay misses (LRU-evicted).
const CACHE_ENTRIES = 50;
const AUDIENCES = 200;

const r = await startReliabilityStack({ discardLogs: true, env: { TVS_CACHE_MAX_ENTRIES: String(CACHE_ENTRIES) } });
const bearer = `Bearer ${await r.googleIdToken()}`;
let n = 0;

/** 80 % cached access tokens, 10 % ID-token misses, 5 % policy denials, 5 % bad credentials. */
function nextRequest(): { method: 'POST'; path: string; headers: Record<string, string>; body: string } {
  const i = n++;
  const headers = { 'content-type': 'application/json', authorization: bearer };
  if (i % 20 === 3) return { method: 'POST', path: accessPath('other@tvs-local.iam.gserviceaccount.com'), headers, body: JSON.stringify({ scope: [CP] }) };
  if (i % 20 === 7) return { method: 'POST', path: accessPath(GEMINI), headers: { ...headers, authorization: 'Bearer not-a-valid-token' }, body: JSON.stringify({ scope: [CP] }) };
  if (i % 10 === 5) return { method: 'POST', path: idPath(GEMINI), headers, body: JSON.stringify({ audience: `https://svc-${i % AUDIENCES}.run.app` }) };
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

const samples: Array<{ atMs: number; rss: number }> = [];
const startedAtMs = Date.now();
const sampler = setInterval(() => samples.push({ atMs: Date.now() - startedAtMs, rss: process.memoryUsage().rss }), 200);
const soak = await run({ durationSeconds: soakSeconds, overallRate: rate });
clearInterval(sampler);

// Warm-up: the first quarter. Growth: median of the last fifth against the median just after warm-up.
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const warmEndMs = soakSeconds * 1000 * 0.25;
const afterWarm = median(samples.filter((s) => s.atMs >= warmEndMs && s.atMs < warmEndMs + soakSeconds * 1000 * 0.15).map((s) => s.rss));
const end = median(samples.filter((s) => s.atMs >= soakSeconds * 1000 * 0.8).map((s) => s.rss));
const codes = soak.statusCodeStats ?? {};
const count = (prefix: string) => Object.entries(codes).filter(([c]) => c.startsWith(prefix)).reduce((sum, [, v]) => sum + (v.count ?? 0), 0);

await r.stop();
process.stdout.write(`${JSON.stringify({
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
  rssAfterWarmupMb: Math.round(afterWarm / 1e5) / 10,
  rssEndMb: Math.round(end / 1e5) / 10,
  rssGrowthPercent: afterWarm ? Math.round(((end - afterWarm) / afterWarm) * 1000) / 10 : NaN,
})}\n`);
