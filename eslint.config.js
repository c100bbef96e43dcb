// @ts-check
import tseslint from 'typescript-eslint';

const noEmulator = {
  group: ['**/emulator', '**/emulator/**'],
  message: 'functions/, shared/ and client/ must not import the emulator.',
};
const viaSharedZod = {
  name: 'zod/mini',
  message: "Import shared/zod.ts: it is zod/mini with zod's English messages installed.",
};
const noClassicZod = {
  name: 'zod',
  allowTypeImports: true,
  message: 'Classic zod costs the token function ~200 KiB of start-up code: import shared/zod.ts (zod/mini).',
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'terraform/**',
      'bench/results*.json',
      'eslint.config.js',
      'stryker.config.mjs',
      // Plain JavaScript the buildpack runs in the deployed bundle (checked by the bundle test).
      'scripts/bundle/warm-compile-cache.mjs',
      '.stryker-tmp/**',
      'reports/**',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    // Product code never depends on the emulator: production points at Google by configuration alone.
    files: ['functions/**/*.ts', 'shared/**/*.ts', 'client/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noEmulator], paths: [viaSharedZod] }] },
  },
  {
    // The token function's cold start: zod/mini only (the bundle test checks the start path too).
    files: ['functions/token/**/*.ts', 'shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [noEmulator], paths: [viaSharedZod, noClassicZod] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'emulator/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Tests handle arbitrary JSON from the wire.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The status page's browser script (served as is, no build step): linted without type information.
    files: ['scripts/status/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false, project: null } },
  },
);
