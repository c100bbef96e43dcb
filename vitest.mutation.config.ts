import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run test:mutation` runs against each mutant (see stryker.config.mjs): the unit
 * tests and the token function's integration tests (real Google client libraries against the
 * emulator; they prove the wiring: routes, audit, OAuth). Left out because they are slow or prove
 * other things: rotation integration, reliability (load, soak, fuzz), terraform, emulator and
 * client tests.
 */
export default defineConfig({
  test: {
    include: [
      'test/unit/functions/**/*.test.ts',
      'test/unit/shared/**/*.test.ts',
    ],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
