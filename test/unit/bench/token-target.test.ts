/**
 * The bench serves the token function with the runtime environment it is deployed with: the file
 * Terraform's token-vendor module merges into the function's environment, read by both (one source
 * of truth, no bench-only flag).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEPLOYED_RUNTIME_ENV_FILE,
  deployedRuntimeEnv,
  tokenFunctionEnv,
} from '../../../bench/lib/token-target.js';

const MODULE_DIR = fileURLToPath(new URL('../../../terraform/modules/token-vendor', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tvs-runtime-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the deployed runtime environment', () => {
  it('is the file the token-vendor module merges into the function environment', () => {
    expect(DEPLOYED_RUNTIME_ENV_FILE).toBe(join(MODULE_DIR, 'runtime-environment.json'));
    expect(readFileSync(join(MODULE_DIR, 'main.tf'), 'utf8')).toContain(
      'jsondecode(file("${path.module}/runtime-environment.json"))',
    );
  });

  it('caps the V8 heap (old and young generation) and the malloc arenas', () => {
    const env = deployedRuntimeEnv();
    expect(env.NODE_OPTIONS).toMatch(/(^| )--max-old-space-size=\d+( |$)/);
    expect(env.NODE_OPTIONS).toMatch(/(^| )--max-semi-space-size=\d+( |$)/);
    expect(env.MALLOC_ARENA_MAX).toMatch(/^[1-9]\d*$/);
  });

  it('sets only options Node accepts in NODE_OPTIONS', () => {
    // Node refuses to start when NODE_OPTIONS names an option it does not allow there.
    for (const option of deployedRuntimeEnv().NODE_OPTIONS.split(' '))
      expect(process.allowedNodeEnvironmentFlags.has(option.split('=')[0])).toBe(true);
  });

  it('is what the bench starts its token functions with, under the configuration and extra variables', () => {
    const env = tokenFunctionEnv({ TVS_AUDIENCE: 'http://127.0.0.1:1' }, '/tmp/policy.json', {
      TVS_RATE_LIMITS: 'off',
    });
    expect(env).toEqual({
      ...deployedRuntimeEnv(),
      TVS_AUDIENCE: 'http://127.0.0.1:1',
      TVS_POLICY_FILE: '/tmp/policy.json',
      TVS_RATE_LIMITS: 'off',
    });
    // A probe may still compare against another setting.
    expect(tokenFunctionEnv({}, '/p', { MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });

  it.each([
    ['an array', '["NODE_OPTIONS"]', 'not a JSON object'],
    ['a number value', '{"MALLOC_ARENA_MAX": 2}', 'MALLOC_ARENA_MAX is not a string'],
  ])('refuses a file holding %s', (_what, text, message) => {
    const file = join(dir, `${message.length}.json`);
    writeFileSync(file, text);
    expect(() => deployedRuntimeEnv(file)).toThrow(message);
  });
});
