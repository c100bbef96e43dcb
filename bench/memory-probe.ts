/**
 * Where the token function's memory goes under a long all-miss load (figure 5d/5e's scenario),
 * for investigation rather than a figure: `npx tsx bench/memory-probe.ts [options]` (run
 * `npm run bench -- --quick --only=5` once before, so `dist/` and the bundle exist).
 *
 * The function runs as the bench runs it (the bundle under functions-framework, the deployed
 * runtime environment) plus a preloaded probe that appends `process.memoryUsage()`, V8's heap
 * spaces and the count of active libuv resources to a JSON-lines file every second.
 *
 * Options: `--seconds=N` (default 90); `--unbundled` serves tsc's `dist/` instead of the bundle (stack
 * frames then name packages and source files); `--snapshots` writes heap snapshots (SIGUSR2) when warm-up
 * ends and at the end, for `bench/heap-diff.ts`; `--env=K=V` (repeatable) adds to or overrides
 * the function's environment, e.g. `--env=MALLOC_ARENA_MAX=8` or `--env=NODE_OPTIONS=` to compare
 * with the deployed runtime environment switched off; `--env=TVS_MEMORY_PROBE_ALLOCATIONS=30-60`
 * samples every allocation (garbage included) from 30 s to 60 s after start, for
 * `bench/allocation-sites.ts`.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulatorProcess } from './lib/emulator-handle.js';
import { retryOnPortClash, waitFor200 } from './lib/function-server.js';
import { runLoad } from './lib/load.js';
import { rssBytes } from './lib/processes.js';
import {
  accessTokenRequest,
  ALL_MISS_ENV,
  BENCH_SCOPE_PREFIX,
  fetchAccessToken,
  spawnTokenFunction,
  writeBenchPolicy,
} from './lib/token-target.js';

const MB = 1024 * 1024;
const args = process.argv.slice(2);
const option = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const seconds = Number(option('seconds') ?? 90);
const snapshots = args.includes('--snapshots');
const kind = args.includes('--unbundled') ? 'tokenUnbundled' : 'token';
const extraEnv = Object.fromEntries(
  args
    .filter((a) => a.startsWith('--env='))
    .map((a) => {
      const [key, ...value] = a.slice('--env='.length).split('=');
      return [key, value.join('=')];
    }),
);
const connections = 50;
const cacheBound = 10_000;

const dir = mkdtempSync(join(tmpdir(), 'tvs-memory-probe-'));
const samplesFile = join(dir, 'samples.jsonl');
const probeFile = join(dir, 'probe.mjs');
writeFileSync(
  probeFile,
  `import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { getHeapSpaceStatistics } from 'node:v8';
const out = process.env.TVS_MEMORY_PROBE_OUT;
const started = Date.now();
const kb = (field, status) => Number(new RegExp('^' + field + ':\\\\s+(\\\\d+) kB$', 'm').exec(status)?.[1] ?? NaN) * 1024;
setInterval(() => {
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, Math.round(s.space_size / 1024)]));
  const status = readFileSync('/proc/self/status', 'utf8');
  appendFileSync(out, JSON.stringify({ atSeconds: (Date.now() - started) / 1000, ...process.memoryUsage(), rssAnon: kb('RssAnon', status), rssFile: kb('RssFile', status), spacesKb: spaces, resources: process.getActiveResourcesInfo().length }) + '\\n');
}, 1000).unref();
// Sampled allocations, garbage included, between the two instants (seconds after start).
const window = process.env.TVS_MEMORY_PROBE_ALLOCATIONS?.split('-').map(Number);
if (window) {
  const session = new Session();
  session.connect();
  setTimeout(() => session.post('HeapProfiler.startSampling', { samplingInterval: 32768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }), window[0] * 1000).unref();
  setTimeout(() => session.post('HeapProfiler.stopSampling', (err, result) => { if (!err) writeFileSync(out.replace(/samples\\.jsonl$/, 'allocations.heapprofile'), JSON.stringify(result.profile)); }), window[1] * 1000).unref();
}
`,
);

const emulator = await startEmulatorProcess();
try {
  const server = await retryOnPortClash(async () => {
    const spawned = await spawnTokenFunction(
      emulator,
      writeBenchPolicy(),
      { ...ALL_MISS_ENV, TVS_MEMORY_PROBE_OUT: samplesFile, ...extraEnv },
      undefined,
      kind,
      [`--import=${probeFile}`, '--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`],
    );
    try {
      await waitFor200(spawned, '/healthz');
      return spawned;
    } catch (err) {
      await spawned.stop();
      throw err;
    }
  });
  try {
    const idToken = await emulator.idToken(server.url);
    await fetchAccessToken(server.url, idToken);
    const req = accessTokenRequest(idToken);
    let sent = 0;
    let warmAt: number | undefined;
    const rss: Array<{ atSeconds: number; rssMb: number; sent: number }> = [];
    const started = Date.now();
    const timer = setInterval(() => {
      const at = (Date.now() - started) / 1000;
      rss.push({ atSeconds: at, rssMb: (rssBytes(server.child.pid) ?? Number.NaN) / MB, sent });
      if (warmAt === undefined && sent > cacheBound + connections && at >= seconds / 3) {
        warmAt = at;
        if (snapshots) server.child.process.kill('SIGUSR2');
      }
    }, 1000);
    const load = await runLoad({
      url: server.url,
      connections,
      durationSeconds: seconds,
      method: req.method,
      path: req.path,
      headers: req.headers,
      bodyFor: () => JSON.stringify({ scope: [`${BENCH_SCOPE_PREFIX}mem-${sent++}`], lifetime: '3600s' }),
    });
    clearInterval(timer);
    const endRssMb = (rssBytes(server.child.pid) ?? Number.NaN) / MB;
    if (snapshots) {
      server.child.process.kill('SIGUSR2');
      const wanted = warmAt === undefined ? 1 : 2;
      while (readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')).length < wanted) await sleep(200);
      await sleep(2_000); // the snapshot file is complete once its writer returns: give it time
    }
    const samples = readFileSync(samplesFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, number> & { spacesKb: Record<string, number> });
    const warm = warmAt === undefined ? undefined : rss.find((s) => s.atSeconds >= warmAt!);
    const row = (s: (typeof samples)[number]) =>
      `${s.atSeconds.toFixed(0).padStart(4)} s  rss ${(s.rss / MB).toFixed(0).padStart(4)} (anon ${(s.rssAnon / MB).toFixed(0)}, file ${(s.rssFile / MB).toFixed(0)})  heapTotal ${(s.heapTotal / MB).toFixed(0).padStart(4)}  heapUsed ${(s.heapUsed / MB).toFixed(0).padStart(4)}  external ${(s.external / MB).toFixed(1).padStart(6)}  arrayBuffers ${(s.arrayBuffers / MB).toFixed(1).padStart(6)}  new ${(s.spacesKb.new_space / 1024).toFixed(0)} old ${(s.spacesKb.old_space / 1024).toFixed(0)} code ${(s.spacesKb.code_space / 1024).toFixed(0)} lo ${(s.spacesKb.large_object_space / 1024).toFixed(0)}  resources ${s.resources}`;
    const every = Math.max(1, Math.round(samples.length / 15));
    process.stdout.write(
      `env ${JSON.stringify(extraEnv)}; ${load.ok} tokens minted in ${seconds} s (${load.non2xx + load.errors} failures)\n`,
    );
    for (let i = 0; i < samples.length; i += every) process.stdout.write(`${row(samples[i])}\n`);
    process.stdout.write(`${row(samples[samples.length - 1])}\n`);
    process.stdout.write(
      `RSS (VmRSS): warm ${warm ? `${warm.rssMb.toFixed(0)} MB at ${warm.atSeconds.toFixed(0)} s` : 'n/a'}, end ${endRssMb.toFixed(0)} MB${warm ? `, growth ${(((endRssMb - warm.rssMb) / warm.rssMb) * 100).toFixed(1)} %` : ''}\n`,
    );
    process.stdout.write(`files in ${dir}\n`);
  } finally {
    await server.child.stop(10_000);
  }
} finally {
  await emulator.stop();
}
