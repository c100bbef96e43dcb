// @ts-check
/**
 * Mutation testing of the security- and correctness-critical code: `npm run test:mutation`.
 * On demand, not in CI (a full run takes tens of minutes on 2 cores; see docs/testing.md).
 * Incremental: results are kept in reports/stryker-incremental.json (committed), so a rerun
 * after a small change re-tests only the mutants in changed code or covered by changed tests.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: true },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: [
    'functions/token/auth/**/*.ts',
    'functions/token/policy/**/*.ts',
    'functions/token/oauth-token.ts',
    'functions/token/iam-credentials.ts',
    'functions/token/oauth/**/*.ts',
    'shared/minting/minter.ts',
    'shared/minting/token-cache.ts',
    'shared/audit-log.ts',
    'functions/rotate/state.ts',
    'functions/rotate/secret-session.ts',
    'functions/rotate/reconcile-secret.ts',
    'functions/rotate/steps/**/*.ts',
  ],
  ignoreStatic: true,
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 95, low: 90, break: null },
  concurrency: 2,
  timeoutMS: 10_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
