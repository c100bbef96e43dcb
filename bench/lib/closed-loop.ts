/** A closed-loop driver for in-process operations: N workers, each calling `op` back to back. */
import { performance } from 'node:perf_hooks';
import { percentile } from './stats.js';

export interface LoopResult {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
}

/** Runs `op` from `concurrency` workers for `seconds`; `op` gets a call number unique to the run and its worker's index. */
export async function closedLoop(
  op: (n: number, worker: number) => Promise<void>,
  concurrency: number,
  seconds: number,
): Promise<LoopResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const worker = async (_: unknown, index: number) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await op(next++, index);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedSeconds = (performance.now() - started) / 1000;
  return {
    opsPerSec: latencies.length / elapsedSeconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    count: latencies.length,
  };
}
