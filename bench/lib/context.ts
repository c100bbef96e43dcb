/** What every scenario gets: the mode's sizes, the emulator, the bench policy and a logger. */
import type { EmulatorHandle } from './emulator-handle.js';

export interface BenchConfig {
  quick: boolean;
  /** Repetitions of every measured figure (medians need ≥ 3). */
  runs: number;
  /** Seconds of each throughput run, after `warmupSeconds` of unmeasured load. */
  loadSeconds: number;
  warmupSeconds: number;
  connections: number;
  coldStartRuns: number;
  coalesceRequests: number;
  /** Seconds of each mint-path run. */
  mintSeconds: number;
  /** Concurrent in-process minting loops (ours and the peer alike). */
  mintConcurrency: number;
  /** Seconds of the long load run whose RSS is sampled. */
  memorySeconds: number;
  cacheEntries: number;
}

export function benchConfig(quick: boolean): BenchConfig {
  return quick
    ? {
        quick,
        runs: 3,
        loadSeconds: 3,
        warmupSeconds: 1,
        connections: 50,
        coldStartRuns: 3,
        coalesceRequests: 1000,
        mintSeconds: 1,
        mintConcurrency: 8,
        memorySeconds: 20,
        cacheEntries: 100_000,
      }
    : {
        quick,
        runs: 5,
        loadSeconds: 10,
        warmupSeconds: 2,
        connections: 50,
        coldStartRuns: 5,
        coalesceRequests: 1000,
        mintSeconds: 5,
        mintConcurrency: 8,
        memorySeconds: 60,
        cacheEntries: 100_000,
      };
}

export interface BenchContext {
  config: BenchConfig;
  emulator: EmulatorHandle;
  policyFile: string;
  log(line: string): void;
  /** Raw per-run data for the JSON file, keyed by scenario. */
  details: Record<string, unknown>;
}
