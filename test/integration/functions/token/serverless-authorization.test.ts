/**
 * Cloud Run's `X-Serverless-Authorization` end to end: the token function's own server, stock
 * google-auth-library for both Google identities (the metadata identity, and a second one
 * impersonated through the emulator's IAM Credentials API), the emulator, real sockets. The
 * platform header is never the caller's identity; the caller credential is always Authorization
 * (or, for token exchange, the subject token), and one token may not do both jobs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoogleAuth, Impersonated } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
/** The second Google identity: the demo seed lets the workload impersonate it. */
const OTHER = 'vertex-caller@tvs-local.iam.gserviceaccount.com';
const CP = 'https://www.googleapis.com/auth/cloud-platform';

let stack: LocalStack;
let audit: Capture;
let dir: string;
let restoreEnv: () => void;
/** ID tokens for this service's audience: the workload's and the other identity's. */
let workloadToken: string;
let otherToken: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tvs-xsa-'));
  const policyFile = join(dir, 'policy.json');
  const rule = (name: string, email: string) => ({
    name,
    caller: { issuer: 'https://accounts.google.com', email },
    serviceAccounts: [GEMINI],
    scopes: [CP],
  });
  writeFileSync(
    policyFile,
    JSON.stringify({
      version: 1,
      serviceAccounts: {
        [GEMINI]: {
          backend: 'key',
          keySecret: 'projects/tvs-local/secrets/gemini-caller-key/versions/current',
        },
      },
      clients: {},
      // Both identities are allowed, under different rules: the audit says whose token was used.
      rules: [rule('workload-rule', WORKLOAD), rule('other-rule', OTHER)],
    }),
  );
  audit = createCapture();
  stack = await startLocalStack({ auditTransport: audit.stream, env: { TVS_POLICY_FILE: policyFile } });
  restoreEnv = useEmulatorMetadata(stack.emulator.metadataHost);
  const auth = new GoogleAuth({ scopes: [CP] });
  const idClient = await auth.getIdTokenClient(stack.tokenUrl);
  workloadToken = ((await idClient.getRequestHeaders()).get('authorization') ?? '').replace(/^Bearer /, '');
  otherToken = await new Impersonated({
    sourceClient: await auth.getClient(),
    targetPrincipal: OTHER,
    targetScopes: [CP],
    endpoint: stack.emulator.httpUrl,
  }).fetchIdToken(stack.tokenUrl, { includeEmail: true });
  expect(workloadToken).toMatch(/^eyJ/);
  expect(otherToken).toMatch(/^eyJ/);
  expect(otherToken).not.toBe(workloadToken);
});

afterAll(async () => {
  restoreEnv?.();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Sent {
  status: number;
  body: string;
  json: any;
  entries: any[];
}

/** Sends one request with a fresh trace id; returns the answer and the audit entries written for it. */
async function send(path: string, headers: Record<string, string>, body: string): Promise<Sent> {
  const traceId = randomBytes(16).toString('hex');
  const res = await fetch(`${stack.tokenUrl}${path}`, {
    method: 'POST',
    headers: { 'x-cloud-trace-context': `${traceId}/1;o=1`, ...headers },
    body,
  });
  const text = await res.text();
  await stack.token.flushAudit();
  const entries = audit
    .entries()
    .filter((e) => e['logging.googleapis.com/trace'] === `projects/tvs-local/traces/${traceId}`);
  return { status: res.status, body: text, json: JSON.parse(text), entries };
}

const ACCESS = `/v1/projects/-/serviceAccounts/${GEMINI}:generateAccessToken`;
const accessToken = (headers: Record<string, string>) =>
  send(ACCESS, { 'content-type': 'application/json', ...headers }, JSON.stringify({ scope: [CP] }));
const exchange = (headers: Record<string, string>, subjectToken: string) =>
  send(
    '/v1/token',
    { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      subject_token: subjectToken,
      service_account: GEMINI,
      scope: CP,
    }).toString(),
  );
const stripped = (token: string) => `${token.split('.').slice(0, 2).join('.')}.SIGNATURE_REMOVED_BY_GOOGLE`;

/** Exactly one audit entry; no token in the answer or the audit line. */
function onlyEntry(sent: Sent): any {
  expect(sent.entries).toHaveLength(1);
  const line = JSON.stringify(sent.entries[0]);
  for (const token of [workloadToken, otherToken]) {
    const [, payload, signature] = token.split('.');
    for (const text of [sent.body, line]) {
      expect(text).not.toContain(payload);
      expect(text).not.toContain(signature);
    }
  }
  return sent.entries[0];
}

describe('X-Serverless-Authorization on the IAM Credentials-compatible routes', () => {
  it.each([
    ['the workload', () => otherToken, () => workloadToken, WORKLOAD, 'workload-rule'],
    ['the other identity', () => workloadToken, () => otherToken, OTHER, 'other-rule'],
  ])(
    'grants as the Authorization identity (%s), never the X-Serverless-Authorization one, and audits that the header came',
    async (_name, platform, caller, email, rule) => {
      const sent = await accessToken({
        'x-serverless-authorization': `Bearer ${platform()}`,
        authorization: `Bearer ${caller()}`,
      });
      expect(sent.status, sent.body).toBe(200);
      expect(sent.json.accessToken).toMatch(/^ya29\./);
      const entry = onlyEntry(sent);
      expect(entry).toMatchObject({
        decision: 'granted',
        rule,
        caller: { issuer: 'https://accounts.google.com', email },
        serverlessAuthorizationHeader: true,
      });
    },
  );

  it('grants with the signature-stripped form Cloud Run forwards in the platform header', async () => {
    const sent = await accessToken({
      'x-serverless-authorization': `Bearer ${stripped(otherToken)}`,
      authorization: `Bearer ${workloadToken}`,
    });
    expect(sent.status, sent.body).toBe(200);
    expect(onlyEntry(sent)).toMatchObject({ caller: { email: WORKLOAD }, rule: 'workload-rule' });
  });

  it.each([
    [
      'only X-Serverless-Authorization',
      () => ({ 'x-serverless-authorization': `Bearer ${workloadToken}` }),
      'SERVERLESS_AUTHORIZATION_WITHOUT_CALLER_CREDENTIAL',
    ],
    [
      'the same token in both',
      () => ({
        'x-serverless-authorization': `Bearer ${workloadToken}`,
        authorization: `Bearer ${workloadToken}`,
      }),
      'SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL',
    ],
    [
      'the same token, the platform copy signature-stripped as Cloud Run forwards it',
      () => ({
        'x-serverless-authorization': `Bearer ${stripped(workloadToken)}`,
        authorization: `Bearer ${workloadToken}`,
      }),
      'SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL',
    ],
    [
      'a valid platform token and a garbage Authorization',
      () => ({ 'x-serverless-authorization': `Bearer ${workloadToken}`, authorization: 'Bearer garbage' }),
      'CALLER_CREDENTIAL_ACCESS_TOKEN_INVALID',
    ],
    [
      'a valid platform token and a Basic Authorization',
      () => ({ 'x-serverless-authorization': `Bearer ${workloadToken}`, authorization: 'Basic YTpi' }),
      'CALLER_CREDENTIAL_SCHEME_UNSUPPORTED',
    ],
    [
      'a valid token in a platform header of another scheme',
      () => ({
        'x-serverless-authorization': `Basic ${workloadToken}`,
        authorization: `Bearer ${otherToken}`,
      }),
      'SERVERLESS_AUTHORIZATION_MALFORMED',
    ],
  ])('refuses %s with 401, without a caller or a token anywhere', async (_name, headers, reason) => {
    const sent = await accessToken(headers());
    expect(sent.status, sent.body).toBe(401);
    expect(sent.json.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED', details: [{ reason }] });
    const entry = onlyEntry(sent);
    expect(entry).toMatchObject({
      decision: 'denied',
      reason,
      httpStatus: 401,
      serverlessAuthorizationHeader: true,
    });
    expect(entry.caller).toBeUndefined();
  });

  it('without the platform header, audits nothing about it (behaviour as before)', async () => {
    const sent = await accessToken({ authorization: `Bearer ${workloadToken}` });
    expect(sent.status, sent.body).toBe(200);
    const entry = onlyEntry(sent);
    expect(entry.caller.email).toBe(WORKLOAD);
    expect(entry).not.toHaveProperty('serverlessAuthorizationHeader');
  });
});

describe('a caller credential whose signature Cloud Run removed', () => {
  // Cloud Run replaces the signature of ID tokens gcloud minted for a user account; such a token
  // reaches the function unverifiable. Anyone can write this form, so it is refused, never trusted.
  it.each([
    ['alone in Authorization', () => ({ authorization: `Bearer ${stripped(workloadToken)}` }), undefined],
    [
      'in Authorization beside a valid platform header',
      () => ({
        'x-serverless-authorization': `Bearer ${otherToken}`,
        authorization: `Bearer ${stripped(workloadToken)}`,
      }),
      true,
    ],
  ])(
    'is refused %s with 401 CALLER_CREDENTIAL_SIGNATURE_REMOVED, nothing minted',
    async (_n, headers, xsa) => {
      const sent = await accessToken(headers());
      expect(sent.status, sent.body).toBe(401);
      expect(sent.json.error).toMatchObject({
        code: 401,
        status: 'UNAUTHENTICATED',
        message: "The caller's credential is invalid.",
        details: [{ reason: 'CALLER_CREDENTIAL_SIGNATURE_REMOVED' }],
      });
      const entry = onlyEntry(sent);
      expect(entry).toMatchObject({ decision: 'denied', reason: 'CALLER_CREDENTIAL_SIGNATURE_REMOVED' });
      expect(entry.caller).toBeUndefined();
      expect(entry.serverlessAuthorizationHeader).toBe(xsa);
    },
  );
});

describe('X-Serverless-Authorization on POST /v1/token (token exchange)', () => {
  it('exchanges the subject token, not the platform one', async () => {
    const sent = await exchange({ 'x-serverless-authorization': `Bearer ${otherToken}` }, workloadToken);
    expect(sent.status, sent.body).toBe(200);
    expect(onlyEntry(sent)).toMatchObject({
      decision: 'granted',
      rule: 'workload-rule',
      caller: { email: WORKLOAD },
      serverlessAuthorizationHeader: true,
    });
  });

  it.each([
    ['the same token', (t: string) => t],
    ['the same token, signature-stripped in the platform header', (t: string) => stripped(t)],
  ])(
    'refuses %s as subject token and platform credential with 400 invalid_grant',
    async (_name, platform) => {
      const sent = await exchange(
        { 'x-serverless-authorization': `Bearer ${platform(workloadToken)}` },
        workloadToken,
      );
      expect(sent.status, sent.body).toBe(400);
      expect(sent.json.error).toBe('invalid_grant');
      expect(onlyEntry(sent)).toMatchObject({
        decision: 'denied',
        reason: 'SERVERLESS_AUTHORIZATION_REUSED_AS_CALLER_CREDENTIAL',
      });
    },
  );

  it('refuses a platform header carrying two tokens with 400 invalid_request', async () => {
    const sent = await exchange(
      { 'x-serverless-authorization': `Bearer ${otherToken}, Bearer ${otherToken}` },
      workloadToken,
    );
    expect(sent.status, sent.body).toBe(400);
    expect(sent.json.error).toBe('invalid_request');
    expect(onlyEntry(sent)).toMatchObject({ reason: 'SERVERLESS_AUTHORIZATION_MALFORMED' });
  });
});
