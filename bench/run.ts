/**
 * `npm run bench` (full, < 10 min) / `npm run bench -- --quick` (< 2 min): builds the function,
 * starts the emulator, runs every figure against a baseline measured in the same run, prints the
 * table and writes `bench/results.json` (`bench/results-quick.json` in quick mode).
 * Options: `--only=1,3` runs some figures; `--markdown` also prints the table in Markdown.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildAll, ROOT } from './lib/build.js';
import { benchConfig, type BenchContext } from './lib/context.js';
import { startEmulatorProcess } from './lib/emulator-handle.js';
import { startFunction } from './lib/function-server.js';
import { runLoad } from './lib/load.js';
import { LOAD_CORE, pinProcess, rssBytes, SERVER_CORE, taskset } from './lib/processes.js';
import { figureNotes, markdownTable, textTable, type BenchReport, type Figure } from './lib/report.js';
import { writeBenchPolicy } from './lib/token-target.js';
import { cacheHitThroughput } from './scenarios/cache-hit-throughput.js';
import { coalescing } from './scenarios/coalescing.js';
import { coldStart } from './scenarios/cold-start.js';
import { memory } from './scenarios/memory.js';
import { mintPath } from './scenarios/mint-path.js';
import { quotaOverhead } from './scenarios/quota-overhead.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .map(Number);
const wanted = (figure: number) => !only || only.includes(figure);
const config = benchConfig(quick);
const started = performance.now();
const log = (line: string) =>
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);

const loadAverageAtStart = loadavg();
const pinned = pinProcess(process.pid, LOAD_CORE);
log(
  `mode ${quick ? 'quick' : 'full'}; ${pinned ? `load generator on core ${LOAD_CORE}, servers on core ${SERVER_CORE}` : 'taskset not found: nothing pinned'}`,
);
log('building (npm run build + bench fixtures)');
buildAll(log);

const emulator = await startEmulatorProcess();
const ctx: BenchContext = { config, emulator, policyFile: writeBenchPolicy(), log, details: {} };
const figures: Figure[] = [];

/** Hello-world RSS after load, when figure 1 (which measures it) is not part of this run. */
async function helloRssAfterLoad(): Promise<number> {
  const hello = await startFunction('hello');
  try {
    await runLoad({ url: hello.url, connections: config.connections, durationSeconds: config.loadSeconds });
    return rssBytes(hello.child.pid) ?? Number.NaN;
  } finally {
    await hello.stop();
  }
}

let failure: unknown;
try {
  let helloRss: number | undefined;
  if (wanted(3)) {
    log('3. cold start');
    figures.push(...(await coldStart(ctx)));
  }
  if (wanted(1)) {
    log('1. cache-hit throughput');
    const outcome = await cacheHitThroughput(ctx);
    figures.push(...outcome.figures);
    helloRss = outcome.helloRssAfterLoadBytes;
  }
  if (wanted(2)) {
    log('2. coalescing');
    figures.push(...(await coalescing(ctx)));
  }
  if (wanted(4)) {
    log('4. mint path');
    figures.push(...(await mintPath(ctx)));
  }
  if (wanted(5)) {
    log('5. memory');
    figures.push(...(await memory(ctx, helloRss ?? (await helloRssAfterLoad()))));
  }
  if (wanted(6)) {
    log('6. quota overhead (cache hits, quotas on vs off)');
    figures.push(...(await quotaOverhead(ctx)));
  }
} catch (err) {
  // Report what was measured so far, then fail.
  failure = err;
  log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await emulator.stop();
}

figures.sort((a, b) => a.id.localeCompare(b.id));
const report: BenchReport = {
  mode: quick ? 'quick' : 'full',
  startedAt: new Date(performance.timeOrigin).toISOString(),
  durationSeconds: Math.round((performance.now() - started) / 1000),
  machine: {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    platform: platform(),
    pinned: taskset() !== null,
    totalMemMb: Math.round(totalmem() / 1024 / 1024),
    loadAverageAtStart,
  },
  setup: [
    'Servers under test: functions-framework (node …/functions-framework/build/src/main.js) serving compiled JS from dist/, one process each, on core 0.',
    'Load generator: autocannon in the bench process, on core 1. Emulator (OAuth token endpoint, JWKS, Secret Manager gRPC): its own process, on core 1 (moved to core 0 while in-process minters run in the bench process).',
    "Audit entries: written to the token function's stdout (a pipe), counted by the bench and discarded.",
  ],
  figures,
  details: ctx.details,
  ...(failure === undefined
    ? {}
    : { error: failure instanceof Error ? failure.message : JSON.stringify(failure) }),
};
const out = join(ROOT, quick ? 'bench/results-quick.json' : 'bench/results.json');
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);

const m = report.machine;
process.stdout.write(
  `\nTVS benchmarks (${report.mode}, ${report.durationSeconds} s) on ${m.cpuModel}, ${m.cores} cores, Node ${m.node}, load average at start ${loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}\n\n`,
);
process.stdout.write(`${textTable(figures)}\n\n${figureNotes(figures).join('\n')}\n\nwritten to ${out}\n`);
if (args.includes('--markdown')) process.stdout.write(`\n${markdownTable(figures)}\n`);
const missed = figures.filter((f) => f.met === false);
if (missed.length) process.stdout.write(`\ntargets missed: ${missed.map((f) => f.id).join(', ')}\n`);
if (failure !== undefined) {
  process.stdout.write('\nthe bench did not finish: see the FAILED line above\n');
  process.exitCode = 1;
}
