/**
 * The stack every reliability test drives: emulator + token function in-process (so the test can
 * look into the server process), a policy that adds an OAuth client and an external OIDC issuer
 * to the demo policy, and captured audit and operational logs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashClientSecret } from '../../../functions/token/oauth/client-secret-hash.js';
import { DEMO_POLICY_FILE, startLocalStack, type LocalStack } from '../../../scripts/local-stack.js';
import type { Emulator } from '../../../emulator/index.js';
import { Writable } from 'node:stream';
import { createCapture, type Capture } from '../../support/capture.js';
import { startKeyServer, type KeyServer } from './key-server.js';
import { postJson } from './raw-http.js';

export const WORKLOAD = 'workload@tvs-local.iam.gserviceaccount.com';
export const GEMINI = 'gemini-caller@tvs-local.iam.gserviceaccount.com';
export const CP = 'https://www.googleapis.com/auth/cloud-platform';
export const CLIENT_ID = 'fuzz-client';
/** Subject glob of the external-issuer rule: `*` must stay inside one segment. */
export const ISSUER_SUBJECT_PATTERN = 'repo:acme/*';

export const accessPath = (sa: string): string => `/v1/projects/-/serviceAccounts/${sa}:generateAccessToken`;
export const idPath = (sa: string): string => `/v1/projects/-/serviceAccounts/${sa}:generateIdToken`;

export interface ReliabilityStack {
  stack: LocalStack;
  /** Base URL of the token function (also the audience callers' tokens carry). */
  url: string;
  audit: Capture;
  ops: Capture;
  /** The configured external OIDC issuer (its URL is the issuer string). */
  issuer: KeyServer;
  clientSecret: string;
  /** A Google-signed ID token for a metadata identity (default: the demo workload), audience = this service. */
  googleIdToken(options?: {
    nowMs?: number;
    audience?: string;
    email?: string;
    includeEmail?: boolean;
  }): Promise<string>;
  /** The target SA's private key body (a line of its PEM) and other secrets that must never leak. */
  secrets(): string[];
  /**
   * Makes one allowed request until it succeeds (20 s at most): the first request of a cold
   * instance pays the lazy import of the Secret Manager client, which on a loaded machine can
   * outlast a short upstream deadline. Fault tests start from a warm instance.
   */
  warm(url?: string): Promise<void>;
  /** Audit + ops log text, after flushing the audit log. */
  logs(): Promise<string>;
  /** A second token function on the same emulator: cold caches, own captures. */
  fresh(env?: Record<string, string>): Promise<LocalStack>;
  stop(): Promise<void>;
}

export interface ReliabilityStackOptions {
  env?: Record<string, string>;
  emulator?: Emulator;
  /** Drop log lines instead of keeping them (a soak must not measure its own log capture). */
  discardLogs?: boolean;
}

/** Starts the stack; `env` overrides the token function's environment (e.g. a short upstream deadline). */
export async function startReliabilityStack(
  options: ReliabilityStackOptions = {},
): Promise<ReliabilityStack> {
  const issuer = await startKeyServer();
  const clientSecret = randomBytes(32).toString('base64url');
  const dir = mkdtempSync(join(tmpdir(), 'tvs-reliability-'));
  // Our own rules (the demo policy evolves with the demo); only the key-backed SA comes from it.
  const demo = JSON.parse(readFileSync(DEMO_POLICY_FILE, 'utf8'));
  const policy = {
    version: 1,
    serviceAccounts: { [GEMINI]: demo.serviceAccounts[GEMINI] },
    clients: { [CLIENT_ID]: { secretHash: await hashClientSecret(clientSecret) } },
    // Quotas at their largest: these suites load one caller far beyond a normal job (the soak's
    // capacity run, floods of misses); quotas stay on, checked, but refuse nothing here.
    limits: { requestsPerMinute: 1_000_000, mintsPerMinute: 100_000, distinctTokensPerHour: 10_000 },
    rules: [
      {
        name: 'workload-calls-gemini',
        caller: { issuer: 'https://accounts.google.com', email: WORKLOAD },
        serviceAccounts: [GEMINI],
        scopes: [CP],
        idTokenAudiences: ['https://example.com', 'https://*.run.app'],
      },
      { name: 'client-calls-gemini', caller: { client: CLIENT_ID }, serviceAccounts: [GEMINI], scopes: [CP] },
      {
        name: 'ci-calls-gemini',
        caller: { issuer: issuer.url, subject: ISSUER_SUBJECT_PATTERN },
        serviceAccounts: [GEMINI],
        scopes: [CP],
        idTokenAudiences: ['https://*.run.app'],
      },
    ],
  };
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(policy));
  const env = {
    TVS_POLICY_FILE: policyFile,
    TVS_OIDC_ISSUERS: JSON.stringify([{ issuer: issuer.url, jwksUri: issuer.jwksUrl }]),
    ...options.env,
  };
  const audit = options.discardLogs ? discardingCapture() : createCapture();
  const ops = options.discardLogs ? discardingCapture() : createCapture();
  const stack = await startLocalStack({
    emulator: options.emulator,
    env,
    auditTransport: audit.stream,
    opsLogWrite: ops.write,
  });
  const extra: LocalStack[] = [];

  const privateKeyBody = (): string => {
    const version = stack.emulator.state.secrets.accessVersion(
      'projects/tvs-local/secrets/gemini-caller-key/versions/latest',
    );
    const keyFile = JSON.parse(version.data.toString('utf8'));
    return String(keyFile.private_key).split('\n')[1];
  };

  return {
    stack,
    url: stack.tokenUrl,
    audit,
    ops,
    issuer,
    clientSecret,
    googleIdToken({ nowMs, audience = stack.tokenUrl, email = WORKLOAD, includeEmail = true } = {}) {
      const sa = stack.emulator.state.serviceAccounts.get(WORKLOAD)!;
      return stack.emulator.state.signingKeys.signIdToken({
        audience,
        subject: { email, uniqueId: sa.uniqueId },
        includeEmail,
        nowMs,
      });
    },
    secrets: () => [privateKeyBody(), clientSecret],
    async warm(url = stack.tokenUrl) {
      const until = Date.now() + 20_000;
      for (;;) {
        const sa = stack.emulator.state.serviceAccounts.get(WORKLOAD)!;
        const token = await stack.emulator.state.signingKeys.signIdToken({
          audience: stack.tokenUrl,
          subject: { email: WORKLOAD, uniqueId: sa.uniqueId },
        });
        const res = await postJson(url, accessPath(GEMINI), { scope: [CP] }, `Bearer ${token}`);
        if (res.status === 200) return;
        if (Date.now() > until)
          throw new Error(
            `the token function did not warm up: last answer ${res.status} ${res.text.slice(0, 200)}`,
          );
      }
    },
    async logs() {
      await stack.token.flushAudit();
      return audit.text() + ops.text();
    },
    async fresh(extraEnv = {}) {
      const other = await startLocalStack({
        emulator: stack.emulator,
        env: { ...stack.env, ...extraEnv },
        auditTransport: createCapture().stream,
        opsLogWrite: () => {},
      });
      extra.push(other);
      return other;
    },
    async stop() {
      await Promise.all(extra.map((s) => s.stop()));
      await stack.stop();
      await issuer.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function discardingCapture(): Capture {
  return {
    stream: new Writable({ write: (_chunk, _enc, done) => done() }),
    write: () => {},
    text: () => '',
    entries: () => [],
  };
}
