import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkCloudbuild } from './lib/cloudbuild-rules.js';

const FILE = fileURLToPath(new URL('../../cloudbuild.yaml', import.meta.url));

describe('cloudbuild.yaml', () => {
  let source: string;
  beforeAll(async () => {
    source = await readFile(FILE, 'utf8');
  });

  /** The pipeline with `from` (which must occur) replaced by `to`. */
  const mutate = (from: string | RegExp, to: string): string => {
    const changed = source.replace(from, to);
    expect(changed).not.toBe(source);
    return changed;
  };

  it('runs install, lint, typecheck, test, build, package on Node 24, then terraform init/fmt/validate/plan/apply, with pinned images and no secret', () => {
    expect(checkCloudbuild(source)).toEqual([]);
  });

  it.each([
    ['a missing lint step', () => mutate(/  - id: lint\n[^]*?(?=\n  - id: typecheck)/, ''), 'missing step lint'],
    ['tests after the build', () => mutate("  - id: test\n    name: node:24.22.3-bookworm-slim\n    entrypoint: npm\n    args: ['test']\n\n", '') + "\n  - id: test\n    name: node:24.22.3-bookworm-slim\n    entrypoint: npm\n    args: ['test']\n", 'step build runs before test'],
    ['a lint step that runs something else', () => mutate("args: ['run', 'lint']", "args: ['run', 'format']"), 'step lint does not run'],
    ['npm install instead of npm ci', () => mutate("args: ['ci', '--no-audit', '--no-fund']", "args: ['install']"), 'step npm-ci does not run'],
    ['an apply that re-plans instead of applying the saved plan', () => mutate('apply -input=false tvs.plan', 'apply -input=false -auto-approve'), 'step terraform-apply does not run'],
    ['a test step on Node 20', () => mutate("  - id: test\n    name: node:24.22.3-bookworm-slim", "  - id: test\n    name: node:20.19.5-bookworm-slim"), 'step test image node:20.19.5-bookworm-slim is Node 20, not Node 24 (the nodejs24 runtime the functions deploy on)'],
    ['a build step on Node 22', () => mutate("  - id: build\n    name: node:24.22.3-bookworm-slim", "  - id: build\n    name: node:22.22.0-bookworm-slim"), 'step build image node:22.22.0-bookworm-slim is Node 22, not Node 24'],
    ['a floating image tag', () => mutate('name: hashicorp/terraform:1.11.4\n    args: [\'fmt\'', "name: hashicorp/terraform:latest\n    args: ['fmt'"), 'image hashicorp/terraform:latest is not pinned'],
    ['an image without a tag', () => mutate(/name: node:24\.22\.3-bookworm-slim/, 'name: node'), 'image node is not pinned'],
    ['a step waiting out of order', () => mutate("args: ['run', 'build']", "args: ['run', 'build']\n    waitFor: ['-']"), 'uses waitFor'],
    ['a private key', () => `${source}\n# -----BEGIN PRIVATE KEY-----\n`, 'contains a PEM private key'],
    ['an API key', () => `${source}\n# AIza${'x'.repeat(35)}\n`, 'contains a Google API key'],
    ['a password in an env', () => mutate("args: ['test']", "args: ['test']\n    env: ['DB_PASSWORD=hunter2hunter2']"), 'contains a password or token assignment'],
    ['a secretEnv', () => mutate("args: ['test']", "args: ['test']\n    secretEnv: ['KEY']"), 'uses secretEnv'],
    ['Secret Manager secrets', () => `${source}\navailableSecrets:\n  secretManager: []\n`, 'declares secrets'],
    ['an undeclared substitution', () => mutate('-var=region=${_REGION}', '-var=region=${_ZONE}'), 'substitution _ZONE is used but not declared'],
    ['a declared but unused substitution', () => mutate('  _APPLY: \'false\'', "  _APPLY: 'false'\n  _UNUSED: x"), 'substitution _UNUSED is declared but never used'],
  ])('fails on %s', (_what, build, message) => {
    expect(checkCloudbuild(build()).join('\n')).toContain(message);
  });
});
