/**
 * A bounded soak on loopback, in a child process: capacity is measured first, then a fixed rate
 * at half of it runs mixed hits, misses and denials (5 s in `npm test`, 60 s in the long run).
 * Zero 5xx and zero socket errors, p99 recorded, RSS growth after warm-up under 10 %, and the
 * process exits by itself once the stack is stopped (no leaked socket, server or timer).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { deployedRuntimeEnv } from '../../bench/lib/token-target.js';
import { LONG, recordFigures } from './support/figures.js';

const SOAK_SECONDS = LONG ? 60 : 5;
const CAPACITY_SECONDS = LONG ? 5 : 1;
const EXIT_GRACE_MS = 10_000;
const CHILD = fileURLToPath(new URL('./support/soak-child.ts', import.meta.url));

interface SoakFigures {
  capacityRps: number;
  rateRps: number;
  requests: number;
  statusCodes: Record<string, number>;
  fiveHundreds: number;
  errors: number;
  timeouts: number;
  p99Ms: number;
  rssGrowthPercent: number;
}

/** Runs the child; resolves with its figures and how long it took to exit after reporting them. */
function runSoak(): Promise<{
  figures: SoakFigures;
  exitAfterReportMs: number;
  code: number | null;
  stderr: string;
}> {
  return new Promise((resolve, reject) => {
    // With the runtime environment the token function is deployed with (V8 heap sizing, malloc
    // arenas): without it, Node 24's larger default semi-spaces still grow after warm-up and read
    // as RSS growth that production never sees.
    const { NODE_OPTIONS: inherited = '', ...env } = process.env;
    const { NODE_OPTIONS: deployedOptions = '', ...deployedEnv } = deployedRuntimeEnv();
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', CHILD, String(SOAK_SECONDS), String(CAPACITY_SECONDS)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...env, ...deployedEnv, NODE_OPTIONS: `${inherited} ${deployedOptions}`.trim() },
      },
    );
    let stdout = '';
    let stderr = '';
    let reportedAtMs: number | undefined;
    const killer = setTimeout(() => child.kill('SIGKILL'), (SOAK_SECONDS + CAPACITY_SECONDS) * 1000 + 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (reportedAtMs === undefined && stdout.includes('\n')) {
        reportedAtMs = Date.now();
        // A child that does not exit by itself within the grace period leaked a handle.
        setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS).unref();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line)
        return reject(new Error(`soak child printed no figures (exit ${code}): ${stderr.slice(0, 2000)}`));
      resolve({
        figures: JSON.parse(line) as SoakFigures,
        exitAfterReportMs: Date.now() - (reportedAtMs ?? Date.now()),
        code,
        stderr,
      });
    });
  });
}

describe(`soak (${SOAK_SECONDS} s at half of measured capacity)`, () => {
  it(
    'serves mixed traffic without a 5xx or socket error, keeps RSS flat and exits cleanly',
    async () => {
      const { figures, exitAfterReportMs, code, stderr } = await runSoak();
      console.log(`soak: ${JSON.stringify(figures)}; exited ${exitAfterReportMs} ms after reporting`);
      expect(code, stderr.slice(0, 2000)).toBe(0);
      expect(exitAfterReportMs).toBeLessThan(EXIT_GRACE_MS);
      expect(figures.requests).toBeGreaterThan(figures.rateRps * SOAK_SECONDS * 0.5);
      expect(figures.fiveHundreds).toBe(0);
      expect(figures.errors).toBe(0);
      expect(figures.timeouts).toBe(0);
      // The mix really was mixed: grants, bad credentials and policy denials.
      expect(figures.statusCodes['200']).toBeGreaterThan(0);
      expect(figures.statusCodes['401']).toBeGreaterThan(0);
      expect(figures.statusCodes['403']).toBeGreaterThan(0);
      expect(figures.rssGrowthPercent).toBeLessThan(10);
      recordFigures('soak', {
        requests: figures.requests,
        fiveHundredsSeen: figures.fiveHundreds,
        p99Ms: figures.p99Ms,
        rssGrowthPercent: figures.rssGrowthPercent,
      });
    },
    (SOAK_SECONDS + CAPACITY_SECONDS) * 1000 + 90_000,
  );
});
