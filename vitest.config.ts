import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

/** Tests that measure the machine (RSS growth, throughput): they run alone, after everything else. */
const ALONE = ['test/reliability/soak.test.ts'];

const common = {
  environment: 'node',
  testTimeout: 30_000,
  hookTimeout: 30_000,
  pool: 'forks',
} as const;

export default defineConfig({
  test: {
    // Vitest's default is one worker fewer than the cores: a single worker on the 2-core CI
    // machines. The suite is parallel-safe (ephemeral ports, no fixed sleeps) and half of it waits
    // on sockets, so it runs one worker per core (300 s -> 130 s on 2 cores).
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: ['default'],
    projects: [
      {
        test: {
          ...common,
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...ALONE],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // A soak's RSS growth is only the function's when no other test file competes for the CPU
        // and the allocator (measured on 2 cores: +13 % beside another worker on Node 24; -2.6..+0.8 % alone on Node 20 and 24).
        test: {
          ...common,
          name: 'alone',
          include: ALONE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
