/** The `hash-client-secret` CLI, run as a child process with the secret on stdin. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  parseClientSecretHash,
  verifyClientSecret,
} from '../../../functions/token/oauth/client-secret-hash.js';
import { compilePolicy } from '../../../functions/token/policy/compile-policy.js';
import { secretWeakness } from '../../../scripts/hash-client-secret.js';

const CLI = fileURLToPath(new URL('../../../scripts/hash-client-secret.ts', import.meta.url));

function run(
  args: string[],
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const STRONG = 'Yx2b7Q1cT9rWm4pZk8sN3vH6jL0dF5gA-_eRuIoPqXw';

describe('hash-client-secret', () => {
  it('--generate prints a 32-byte secret and a hash that the policy compiles and that verifies it', async () => {
    const { code, stdout } = await run(['--generate']);
    expect(code).toBe(0);
    const { clientSecret, secretHash } = JSON.parse(stdout);
    expect(Buffer.from(clientSecret, 'base64url')).toHaveLength(32);
    const policy = compilePolicy({
      version: 1,
      serviceAccounts: {},
      clients: { batch: { secretHash } },
      rules: [],
    });
    expect(await verifyClientSecret(clientSecret, policy.clientSecretHash('batch')!)).toBe(true);
  });

  it('hashes a strong secret read from stdin (one trailing newline dropped)', async () => {
    const { code, stdout } = await run([], `${STRONG}\n`);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^scrypt\$N=16384,r=8,p=1\$[^$]+\$[^$]+\n$/);
    expect(await verifyClientSecret(STRONG, parseClientSecretHash(stdout.trim()))).toBe(true);
    expect(stdout).not.toContain(STRONG);
  });

  it.each([
    ['a short secret', 'hunter2'],
    ['a password padded to length', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
    ['a low-diversity string', 'abababababababababababababababababab'],
    ['an empty stdin', ''],
  ])('refuses %s without echoing it', async (_name, secret) => {
    const { code, stdout, stderr } = await run([], secret);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/refusing a weak secret/);
    if (secret) expect(stderr).not.toContain(secret);
  });

  it('refuses a secret on the command line, without echoing it', async () => {
    const { code, stdout, stderr } = await run([STRONG]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/never taken from the command line/);
    expect(stderr).not.toContain(STRONG);
  });
});

describe('secretWeakness', () => {
  it.each([
    ['32 random hex characters (128 bits)', 'a3f09c1b7e5d24f86b0c9a1e3d7f5b28', undefined],
    ['a generated base64url secret', STRONG, undefined],
    ['31 characters', STRONG.slice(0, 31), /at least 32/],
    ['65 characters (the service accepts 32-64)', `${STRONG}${STRONG}`.slice(0, 65), /more than 64/],
    ['a space inside', `${STRONG.slice(0, 20)} ${STRONG.slice(20)}`, /printable ASCII/],
    ['16 distinct characters repeated twice (64 bits)', '0123456789abcdef'.repeat(2), /repeats itself/],
    [
      'few distinct characters, no repetition pattern',
      'qwertqwrteqtwreqtrewtqerwqetrwqetrqwe',
      /bits|repeats/,
    ],
  ])('%s', (_name, secret, problem) => {
    if (problem === undefined) expect(secretWeakness(secret)).toBeUndefined();
    else expect(secretWeakness(secret)).toMatch(problem);
  });
});
