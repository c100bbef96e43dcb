import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: a single worker on the 2-core CI
    // machines. The suite is parallel-safe (ephemeral ports, no fixed sleeps) and half of it waits
    // on sockets, so it runs one worker per core (300 s -> 130 s on 2 cores).
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: ['default'],
  },
});
