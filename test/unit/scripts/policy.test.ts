import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_POLICY_FILE } from '../../../scripts/local-stack.js';
import { main } from '../../../scripts/policy.js';

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const GOOGLE = 'https://accounts.google.com';
let dir: string;
let workloadClaims: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-policy-cli-'));
  workloadClaims = write('claims.json', {
    iss: GOOGLE,
    sub: '1',
    email: 'workload@tvs-local.iam.gserviceaccount.com',
    email_verified: true,
  });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function run(...argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('policy check', () => {
  it('accepts the demo policy and says how many rules it has', () => {
    expect(run('check', DEMO_POLICY_FILE)).toEqual({
      code: 0,
      out: `${DEMO_POLICY_FILE}: valid, 2 rules\n`,
      err: '',
    });
  });

  it('reads YAML as the function does', () => {
    const file = write('p.yaml', 'version: 1\nserviceAccounts: {}\nclients: {}\nrules: []\n');
    expect(run('check', file)).toMatchObject({ code: 0, out: `${file}: valid, 0 rules\n` });
  });

  it('reports every error with its path and exits 1', () => {
    const file = write('bad.json', {
      version: 1,
      serviceAccounts: {},
      clients: {},
      rules: [
        { name: 'BAD NAME', caller: { issuer: GOOGLE, subject: 'x' }, serviceAccounts: [GEMINI], scopes: [] },
        { name: 'ok', caller: { issuer: GOOGLE, subject: 'x' }, serviceAccounts: [], scopes: ['http://x'] },
      ],
    });
    const result = run('check', file);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toBe(
      'Invalid policy:\n' +
        '  rules[0] (name=BAD NAME).name: must be lower-case letters, digits and dashes\n' +
        '  rules[1] (name=ok).serviceAccounts: Too small: expected array to have >=1 items\n' +
        '  rules[1] (name=ok).scopes[0]: must be an https scope URL (or glob)\n',
    );
  });

  it('with --audience, refuses a rule that could mint ID tokens for the service itself, as start-up does', () => {
    const { code, err } = run('check', DEMO_POLICY_FILE, '--audience', 'https://example.com');
    expect(code).toBe(1);
    expect(err).toMatch(/workload-calls-gemini/);
  });

  it.each([
    [['check'], 'check needs a policy FILE'],
    [['lint', 'x'], 'the command is check or explain'],
    [['check', '/nonexistent/p.json'], 'cannot read /nonexistent/p.json: ENOENT'],
    [['check', DEMO_POLICY_FILE, '--verbose', 'x'], 'unknown option "--verbose"'],
  ])('exits 2 on %j with the reason and the usage', (argv, message) => {
    const { code, err } = run(...argv);
    expect(code).toBe(2);
    expect(err).toContain(`policy: ${message}`);
    expect(err).toContain('usage:');
  });
});

describe('policy explain', () => {
  it('names the rule that allows a request', () => {
    const { code, out } = run(
      'explain',
      DEMO_POLICY_FILE,
      '--claims',
      workloadClaims,
      '--request',
      JSON.stringify({ serviceAccount: GEMINI }),
    );
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ decision: 'allowed', rule: 'workload-calls-gemini' });
  });

  it('explains a denial of the request: the reason and the closest rule, exit 3', () => {
    const request = { serviceAccount: GEMINI, scope: ['https://www.googleapis.com/auth/drive'] };
    const { code, out } = run(
      'explain',
      DEMO_POLICY_FILE,
      '--claims',
      workloadClaims,
      '--request',
      JSON.stringify(request),
    );
    expect(code).toBe(3);
    expect(JSON.parse(out)).toEqual({
      decision: 'denied',
      reason: 'SCOPE_NOT_ALLOWED',
      closestRule: 'workload-calls-gemini',
      detail: 'closest rule: workload-calls-gemini',
    });
  });

  it('explains a caller no rule matches: the closest rule and the caller field that differed', () => {
    const claims = write('other.json', {
      iss: GOOGLE,
      sub: '2',
      email: 'intruder@evil.example',
      email_verified: true,
    });
    const { code, out } = run(
      'explain',
      DEMO_POLICY_FILE,
      '--claims',
      claims,
      '--request',
      JSON.stringify({ serviceAccount: GEMINI }),
    );
    expect(code).toBe(3);
    expect(JSON.parse(out)).toEqual({
      decision: 'denied',
      reason: 'NO_RULE_FOR_CALLER',
      closestRule: 'workload-calls-gemini',
      differed: { field: 'email', count: 1 },
      detail: 'closest rule: workload-calls-gemini; caller email differed',
    });
  });

  it('explains an ID-token request by its audience', () => {
    const ok = run(
      'explain',
      DEMO_POLICY_FILE,
      '--claims',
      workloadClaims,
      '--request',
      JSON.stringify({ serviceAccount: GEMINI, audience: 'https://backend-x.a.run.app' }),
    );
    expect(JSON.parse(ok.out)).toEqual({ decision: 'allowed', rule: 'workload-calls-gemini' });
    const denied = run(
      'explain',
      DEMO_POLICY_FILE,
      '--claims',
      workloadClaims,
      '--request',
      JSON.stringify({ serviceAccount: GEMINI, audience: 'https://other.example' }),
    );
    expect(JSON.parse(denied.out)).toMatchObject({ decision: 'denied', reason: 'AUDIENCE_NOT_ALLOWED' });
  });

  it('explains an OAuth client caller', () => {
    const { code, out } = run(
      'explain',
      DEMO_POLICY_FILE,
      '--client',
      'nightly',
      '--request',
      JSON.stringify({ serviceAccount: GEMINI }),
    );
    expect(code).toBe(3);
    expect(JSON.parse(out)).toMatchObject({ decision: 'denied', reason: 'NO_RULE_FOR_CALLER' });
  });

  it.each([
    [
      ['--request', '{"serviceAccount":"a@b.c"}'],
      'explain needs exactly one of --claims FILE and --client ID',
    ],
    [['--client', 'c'], 'explain needs --request JSON'],
    [['--client', 'c', '--request', '{'], '--request is not JSON'],
    [['--client', 'c', '--request', '{}'], '--request needs a serviceAccount'],
    [
      ['--client', 'c', '--request', '{"serviceAccount":"a@b.c","lifetime":"1h"}'],
      '--request lifetime must be like "3600s"',
    ],
    [['--client', 'c', '--client', 'd', '--request', '{}'], '--client is given twice'],
  ])('exits 2 on %j', (flags, message) => {
    const { code, err } = run('explain', DEMO_POLICY_FILE, ...flags);
    expect(code).toBe(2);
    expect(err).toContain(`policy: ${message}`);
  });

  it('refuses claims without iss and sub', () => {
    const claims = write('nosub.json', { iss: GOOGLE });
    const { code, err } = run(
      'explain',
      DEMO_POLICY_FILE,
      '--claims',
      claims,
      '--request',
      '{"serviceAccount":"a@b.c"}',
    );
    expect(code).toBe(2);
    expect(err).toContain('--claims needs string iss and sub');
  });

  it('explains a refusal by the deny section before any rule, naming the entry', () => {
    const demo = JSON.parse(readFileSync(DEMO_POLICY_FILE, 'utf8')) as Record<string, unknown>;
    const denying = write('denying.json', {
      ...demo,
      $schema: undefined,
      deny: { callers: [{ issuer: GOOGLE, email: 'workload@tvs-local.iam.gserviceaccount.com' }] },
    });
    const { code, out } = run(
      'explain',
      denying,
      '--claims',
      workloadClaims,
      '--request',
      JSON.stringify({ serviceAccount: GEMINI }),
    );
    expect(code).toBe(3);
    expect(JSON.parse(out)).toEqual({
      decision: 'denied',
      reason: 'CALLER_DENIED',
      denyEntry: 'deny.callers[0]',
    });
    const bySa = write('denying-sa.json', {
      ...demo,
      $schema: undefined,
      deny: { serviceAccounts: [GEMINI] },
    });
    const sa = run(
      'explain',
      bySa,
      '--claims',
      workloadClaims,
      '--request',
      JSON.stringify({ serviceAccount: GEMINI }),
    );
    expect(JSON.parse(sa.out)).toEqual({
      decision: 'denied',
      reason: 'SERVICE_ACCOUNT_DENIED',
      denyEntry: 'deny.serviceAccounts[0]',
    });
  });
});
