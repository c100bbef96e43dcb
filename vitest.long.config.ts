import { defineConfig } from 'vitest/config';

/**
 * `npm run test:long`: the reliability suite at full size (TVS_LONG=1 scales every suite up), with
 * a summary table of figures at the end. The same files run CI-sized in `npm test`: vitest.config.ts
 * includes every `*.test.ts`, so separate `*.long.test.ts` files would run there too.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    environment: 'node',
    testTimeout: 300_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Load figures (capacity, RSS, p99) must not compete with other suites for the CPU.
    fileParallelism: false,
    globalSetup: ['test/reliability/support/summary-setup.ts'],
    reporters: ['default'],
  },
});
