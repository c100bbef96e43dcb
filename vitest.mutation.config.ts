import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run test:mutation` runs against each mutant (see stryker.config.mjs): the unit
 * tests of functions/ and shared/ only. Integration tests start the emulator and the function in
 * every file's `beforeAll`; run per mutant that costs seconds each, and a glob mutant is covered by
 * dozens of them (measured: 4 mutants/min with the token integration tests, 11/min without, on 2
 * shared cores). What they prove (wiring, audit, OAuth over HTTP) is in docs/testing.md.
 * Stryker runs vitest with `pool: 'threads'` whatever this file says.
 */
export default defineConfig({
  test: {
    include: ['test/unit/functions/**/*.test.ts', 'test/unit/shared/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
