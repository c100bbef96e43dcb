import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main, parseCredentialsArgs } from '../../../client/credentials-cli.js';
import { CredentialsOptionError } from '../../../client/external-account.js';

const SA = 'deployer@my-project.iam.gserviceaccount.com';
const REQUIRED = ['--service-url', 'https://tvs.example.com', '--service-account', SA];

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out: () => out.join(''), err: () => err.join('') };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('parseCredentialsArgs', () => {
  it('maps every flag to its option; headers repeat', () => {
    const { options, out } = parseCredentialsArgs(
      [
        ...REQUIRED,
        '--source',
        'url:https://idp.example/t',
        '--header',
        'A=1',
        '--header',
        'B=x=y',
        '--format',
        'json',
        '--field',
        'tok',
        '--out',
        '/tmp/c.json',
      ],
      {},
    );
    expect(options).toEqual({
      serviceUrl: 'https://tvs.example.com',
      serviceAccount: SA,
      source: 'url:https://idp.example/t',
      env: {},
      headers: { A: '1', B: 'x=y' },
      format: 'json',
      field: 'tok',
    });
    expect(out).toBe('/tmp/c.json');
  });

  it('takes the service URL from TVS_SERVICE_URL when the flag is absent', () => {
    const { options } = parseCredentialsArgs(['--service-account', SA, '--source', 'gitlab'], {
      TVS_SERVICE_URL: 'https://env.example',
    });
    expect(options.serviceUrl).toBe('https://env.example');
  });

  it.each([
    [['--service-account', SA, '--source', 'gitlab'], /--service-url \(or TVS_SERVICE_URL\) is required/],
    [['--service-url', 'https://x', '--source', 'gitlab'], /--service-account is required/],
    [REQUIRED, /--source is required/],
    [[...REQUIRED, '--source'], /--source needs a value/],
    [[...REQUIRED, '--source', '--out'], /--source needs a value/],
    [[...REQUIRED, '--source', 'gitlab', '--source', 'k8s-file'], /--source is given twice/],
    [[...REQUIRED, '--sauce', 'gitlab'], /unknown option "--sauce"/],
    [[...REQUIRED, '--source', 'file:/t', '--header', '=v'], /--header must be NAME=VALUE/],
    [[...REQUIRED, '--source', 'file:/t', '--format', 'yaml'], /--format must be text or json/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCredentialsArgs(argv, {})).toThrow(CredentialsOptionError);
    expect(() => parseCredentialsArgs(argv, {})).toThrow(message);
  });
});

describe('main', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('prints the credentials JSON and exits 0', () => {
    const io = capture();
    expect(main([...REQUIRED, '--source', 'k8s-file'], {})).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({
      type: 'external_account',
      audience: `//tokenvending/serviceAccounts/${SA}`,
      token_url: 'https://tvs.example.com/v1/token',
    });
  });

  it('writes --out with mode 0600, also over an existing readable file', () => {
    dir = mkdtempSync(join(tmpdir(), 'tvs-cli-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, 'old', { mode: 0o644 });
    const io = capture();
    expect(main([...REQUIRED, '--source', 'gitlab', '--out', file], {})).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).type).toBe('external_account');
    expect(io.out()).toBe('');
    expect(io.err()).toContain(`GOOGLE_APPLICATION_CREDENTIALS=${file}`);
  });

  it('exits 2 with the reason and the usage on a mistake, printing nothing on stdout', () => {
    const io = capture();
    expect(main([...REQUIRED, '--source', 'github'], {})).toBe(2);
    expect(io.out()).toBe('');
    expect(io.err()).toMatch(/^tvs-credentials: source github needs ACTIONS_ID_TOKEN_REQUEST_URL/);
    expect(io.err()).toContain('usage: tvs-credentials');
  });

  it('prints the usage: exit 0 for --help, 2 for no arguments', () => {
    const io = capture();
    expect(main(['--help'], {})).toBe(0);
    expect(main([], {})).toBe(2);
    expect(io.out().match(/usage: tvs-credentials/g)).toHaveLength(2);
  });
});
