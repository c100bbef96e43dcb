/**
 * Application Default Credentials from this service: an `external_account` credentials file made
 * by the generator (client/external-account.ts), read by stock google-auth-library — through
 * `keyFile` and through GOOGLE_APPLICATION_CREDENTIALS — which reads a Kubernetes projected token
 * from the file, exchanges it at `POST /v1/token` in Google STS's request shape, and hands the
 * vended token to the real Secret Manager client. Negative cases answer in STS's error shape.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { externalAccountCredentials } from '../../../client/index.js';
import { stsAudience } from '../../../shared/sts.js';
import { CP, startRecipeStack, VERTEX, type RecipeStack } from '../recipes/recipe-stack.js';

const run = promisify(execFile);
const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const EXCHANGE = 'oauthToken:urn:ietf:params:oauth:grant-type:token-exchange';
const SUBJECT = 'system:serviceaccount:ci:deployer';

let r: RecipeStack;
let dir: string;
let tokenFile: string;
let credentialsFile: string;

beforeAll(async () => {
  // One clock for the whole stack and the library, moving with real time, so the refresh test can
  // jump it: installed before the stack starts, because its modules keep the Date.now they found.
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  r = await startRecipeStack((emulator) => [
    {
      name: 'k8s-ci-deployer',
      caller: { issuer: emulator.issuers.byName.kubernetes.issuer, subject: SUBJECT },
      serviceAccounts: [VERTEX],
      scopes: [CP],
    },
    {
      name: 'github-deploy',
      caller: {
        issuer: emulator.issuers.byName['github-actions'].issuer,
        subject: 'repo:acme/app:ref:refs/heads/main',
        claims: { repository: 'acme/app' },
      },
      serviceAccounts: [VERTEX],
      scopes: [CP],
    },
  ]);
  dir = mkdtempSync(join(tmpdir(), 'tvs-adc-'));
  tokenFile = join(dir, 'token');
  credentialsFile = join(dir, 'credentials.json');
  writeFileSync(
    credentialsFile,
    JSON.stringify(
      externalAccountCredentials({
        serviceUrl: r.stack.tokenUrl,
        serviceAccount: VERTEX,
        source: 'k8s-file',
        tokenFile,
      }),
    ),
  );
  await writePodToken();
}, 30_000);

afterAll(async () => {
  await r?.stop();
  vi.useRealTimers();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the kubelet does: writes a fresh projected token (audience = the service) to the file. */
async function writePodToken(over: { audience?: string } = {}): Promise<void> {
  const token = await r.stack.emulator.issuers.kubernetes({
    namespace: 'ci',
    serviceAccount: 'deployer',
    audience: over.audience ?? r.stack.tokenUrl,
  });
  writeFileSync(tokenFile, token);
}

/** The token-exchange audit entries written so far. */
async function exchanges(): Promise<any[]> {
  await r.stack.token.flushAudit();
  return r.audit.entries().filter((e) => e.action === EXCHANGE);
}

describe('an external_account file from the generator, read by stock google-auth-library', () => {
  it('gets a token for the service account through keyFile, one audited exchange', async () => {
    const before = (await exchanges()).length;
    const auth = new GoogleAuth({ keyFile: credentialsFile, scopes: [CP] });
    const { token } = await (await auth.getClient()).getAccessToken();
    expect(r.stack.emulator.state.tokens.lookup(token!)).toMatchObject({ email: VERTEX });
    expect((await r.tokeninfo(token!)).status).toBe(200);
    const written = (await exchanges()).slice(before);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      decision: 'granted',
      rule: 'k8s-ci-deployer',
      caller: { subject: SUBJECT },
      target: { serviceAccount: VERTEX, scopes: [CP] },
    });
    expect(JSON.stringify(written[0])).not.toContain(token);
  });

  it('gets it through GOOGLE_APPLICATION_CREDENTIALS in a workload process, and Secret Manager’s client sends it', async () => {
    // Its own process, as a workload is: the token function in this process has ADC of its own.
    const env: Record<string, string | undefined> = {
      ...process.env,
      GOOGLE_APPLICATION_CREDENTIALS: credentialsFile,
    };
    delete env.GCE_METADATA_HOST;
    delete env.GCE_METADATA_IP;
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('fixtures/adc-workload.ts', import.meta.url)),
        r.stack.emulator.grpcEndpoint,
        'projects/tvs-local/secrets/plain/versions/latest',
      ],
      { env, timeout: 60_000 },
    );
    const out = JSON.parse(stdout) as { clientType: string; authorization: string; payload: string };
    expect(out.clientType).toBe('IdentityPoolClient');
    expect(out.payload).toBe('hello');
    const vended = out.authorization.replace(/^Bearer /, '');
    expect(r.stack.emulator.state.tokens.lookup(vended)).toMatchObject({ email: VERTEX });
  });

  it('reports an honest expiry and exchanges again, re-reading the file, once the token expired', async () => {
    const client = await new GoogleAuth({ keyFile: credentialsFile, scopes: [CP] }).getClient();
    const asked = Date.now();
    const first = (await client.getAccessToken()).token!;
    const expiry = client.credentials.expiry_date!;
    const info = r.stack.emulator.state.tokens.lookup(first)!;
    // The library's expiry never lies past the token's own.
    expect(expiry).toBeLessThanOrEqual(info.expiresAtMs);
    expect(expiry).toBeGreaterThan(asked + 50 * 60_000);
    // Cached by the library: no second exchange while the token is fresh.
    const count = (await exchanges()).length;
    expect((await client.getAccessToken()).token).toBe(first);
    expect((await exchanges()).length).toBe(count);

    // Two hours later: the vended token and the pod's token have expired; the kubelet has
    // written a new pod token.
    vi.setSystemTime(Date.now() + 2 * 3600_000);
    await writePodToken();
    const second = (await client.getAccessToken()).token!;
    expect(second).not.toBe(first);
    expect(r.stack.emulator.state.tokens.lookup(second)).toMatchObject({ email: VERTEX });
    const written = (await exchanges()).slice(count);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ decision: 'granted', caller: { subject: SUBJECT } });
    expect(client.credentials.expiry_date).toBeGreaterThan(Date.now() + 50 * 60_000);
  });

  it('fails with the service’s STS error when the policy does not allow the service account', async () => {
    const file = join(dir, 'gemini.json');
    writeFileSync(
      file,
      JSON.stringify(
        externalAccountCredentials({
          serviceUrl: r.stack.tokenUrl,
          serviceAccount: GEMINI,
          source: 'k8s-file',
          tokenFile,
        }),
      ),
    );
    const client = await new GoogleAuth({ keyFile: file, scopes: [CP] }).getClient();
    await expect(client.getAccessToken()).rejects.toThrow(/invalid_target/);
  });
});

describe('the github source: GitHub’s token request endpoint, as a job sees it', () => {
  /** What the runner gives a job with `permissions: id-token: write`. */
  async function githubJob(repository: string): Promise<Record<string, string>> {
    const res = await fetch(`${r.stack.emulator.httpUrl}/__admin/issuers/github-actions/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ repository }),
    });
    const job = (await res.json()) as { requestUrl: string; requestToken: string };
    return { ACTIONS_ID_TOKEN_REQUEST_URL: job.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: job.requestToken };
  }

  function githubCredentials(env: Record<string, string>, name: string): string {
    const file = join(dir, name);
    const credentials = externalAccountCredentials({
      serviceUrl: r.stack.tokenUrl,
      serviceAccount: VERTEX,
      source: 'github',
      env,
    });
    writeFileSync(file, JSON.stringify(credentials), { mode: 0o600 });
    return file;
  }

  it('gets a token for the job’s repository: the library asks GitHub with the request token, then exchanges', async () => {
    const before = (await exchanges()).length;
    const file = githubCredentials(await githubJob('acme/app'), 'github.json');
    const { token } = await (
      await new GoogleAuth({ keyFile: file, scopes: [CP] }).getClient()
    ).getAccessToken();
    expect(r.stack.emulator.state.tokens.lookup(token!)).toMatchObject({ email: VERTEX });
    const written = (await exchanges()).slice(before);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      decision: 'granted',
      rule: 'github-deploy',
      caller: { subject: 'repo:acme/app:ref:refs/heads/main' },
    });
  });

  it('is refused for another repository, naming the closest rule', async () => {
    const file = githubCredentials(await githubJob('acme/other'), 'github-other.json');
    const client = await new GoogleAuth({ keyFile: file, scopes: [CP] }).getClient();
    await expect(client.getAccessToken()).rejects.toThrow(/invalid_grant/);
    const [last] = (await exchanges()).slice(-1);
    expect(last).toMatchObject({ decision: 'denied', reason: 'NO_RULE_FOR_CALLER' });
  });

  it('gets nothing from GitHub with a wrong request token', async () => {
    const env = await githubJob('acme/app');
    const file = githubCredentials(
      { ...env, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'not-the-job-token' },
      'github-bad.json',
    );
    const before = (await exchanges()).length;
    const client = await new GoogleAuth({ keyFile: file, scopes: [CP] }).getClient();
    await expect(client.getAccessToken()).rejects.toThrow(/401|Bad credentials/);
    expect((await exchanges()).length).toBe(before);
  });
});

interface StsAnswer {
  status: number;
  body: any;
  entries: any[];
}

/** A raw STS-shaped exchange, as the libraries send it; `over` replaces or (undefined) drops fields. */
async function sts(over: Record<string, string | undefined>): Promise<StsAnswer> {
  const podToken = await r.stack.emulator.issuers.kubernetes({
    namespace: 'ci',
    serviceAccount: 'deployer',
    audience: r.stack.tokenUrl,
  });
  const fields: Record<string, string | undefined> = {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    audience: stsAudience(VERTEX),
    scope: CP,
    requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    subject_token: podToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    ...over,
  };
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.set(k, v);
  const traceId = randomBytes(16).toString('hex');
  const res = await fetch(`${r.stack.tokenUrl}/v1/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-cloud-trace-context': `${traceId}/1;o=1`,
    },
    body: form.toString(),
  });
  const body = (await res.json()) as unknown;
  await r.stack.token.flushAudit();
  const entries = r.audit
    .entries()
    .filter((e) => e['logging.googleapis.com/trace'] === `projects/tvs-local/traces/${traceId}`);
  return { status: res.status, body, entries };
}

describe('POST /v1/token in Google STS’s request shape', () => {
  it('answers STS’s success shape', async () => {
    const sent = await sts({});
    expect(sent.status).toBe(200);
    expect(sent.body).toEqual({
      access_token: expect.any(String),
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: expect.any(Number),
      scope: CP,
    });
    expect(sent.body.expires_in).toBeGreaterThan(0);
    expect(sent.body.expires_in).toBeLessThanOrEqual(3600);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({ decision: 'granted', target: { serviceAccount: VERTEX } });
  });

  it('accepts and ignores the userProject option the libraries send for workforce pools', async () => {
    const sent = await sts({ options: JSON.stringify({ userProject: '123' }) });
    expect(sent.status).toBe(200);
  });

  it.each<[string, Record<string, string | undefined>, number, string, string]>([
    [
      'an unknown audience form',
      { audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x' },
      400,
      'invalid_request',
      'INVALID_AUDIENCE',
    ],
    [
      'an audience without an email',
      { audience: '//tokenvending/serviceAccounts/' },
      400,
      'invalid_request',
      'INVALID_AUDIENCE',
    ],
    [
      'both audience and service_account',
      { service_account: VERTEX },
      400,
      'invalid_request',
      'INVALID_REQUEST',
    ],
    [
      'a service account the policy does not allow',
      { audience: stsAudience(GEMINI) },
      400,
      'invalid_target',
      '',
    ],
    [
      'an unsupported requested_token_type',
      { requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' },
      400,
      'invalid_request',
      'INVALID_REQUEST',
    ],
    [
      'an option other than userProject (an access boundary is not silently dropped)',
      { options: JSON.stringify({ accessBoundary: {} }) },
      400,
      'invalid_request',
      'OPTION_NOT_SUPPORTED',
    ],
    ['options that are not a JSON object', { options: '[1]' }, 400, 'invalid_request', 'INVALID_REQUEST'],
  ])(
    'refuses %s in STS’s error shape, one audit entry, nothing minted',
    async (_n, over, status, error, reason) => {
      const sent = await sts(over);
      expect(sent.status).toBe(status);
      expect(Object.keys(sent.body).sort()).toEqual(['error', 'error_description']);
      expect(sent.body.error).toBe(error);
      expect(sent.body.error_description).toEqual(expect.any(String));
      expect(sent.entries).toHaveLength(1);
      expect(sent.entries[0].decision).toBe('denied');
      if (reason !== '') expect(sent.entries[0].reason).toBe(reason);
    },
  );

  it('refuses a subject token minted for another audience with invalid_grant', async () => {
    const podToken = await r.stack.emulator.issuers.kubernetes({
      namespace: 'ci',
      serviceAccount: 'deployer',
      audience: 'https://someone-else.example.com',
    });
    const sent = await sts({ subject_token: podToken });
    expect(sent.status).toBe(400);
    expect(sent.body).toEqual({ error: 'invalid_grant', error_description: 'The subject token is invalid.' });
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({
      decision: 'denied',
      reason: 'CALLER_CREDENTIAL_AUDIENCE_MISMATCH',
    });
  });
});
