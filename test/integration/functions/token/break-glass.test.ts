/**
 * Break-glass over the real path: the policy lives in a Secret Manager secret (real client, the
 * emulator's gRPC) whose notifications go to a Pub/Sub topic; a push subscription (wrapped JSON,
 * OIDC token of the notifier SA) reaches ONE of three token-function instances, as on Cloud Run.
 * A new policy version with a `deny` entry cuts the caller off, cache included: at once on the
 * instance that got the push, and on every other instance once its policy is a TTL old (their
 * policy clock is moved; the bound is exact, not a timing).
 */
import * as grpc from '@grpc/grpc-js';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../../emulator/index.js';
import { startLocalStack, type LocalStack } from '../../../../scripts/local-stack.js';
import { createCapture, type Capture } from '../../../support/capture.js';
import { useEmulatorMetadata } from '../../../support/google-env.js';

const PROJECT = 'tvs-local';
const VERTEX = `vertex-caller@${PROJECT}.iam.gserviceaccount.com`;
const CI_A = `ci-a@${PROJECT}.iam.gserviceaccount.com`;
const CI_B = `ci-b@${PROJECT}.iam.gserviceaccount.com`;
const NOTIFIER = `policy-notifier@${PROJECT}.iam.gserviceaccount.com`;
const CP = 'https://www.googleapis.com/auth/cloud-platform';
const SECRET = `projects/${PROJECT}/secrets/tvs-policy`;
const TOPIC = `projects/${PROJECT}/topics/tvs-policy-changes`;
const TTL_SECONDS = 60;

const policy = (deny?: unknown) =>
  JSON.stringify({
    version: 1,
    serviceAccounts: { [VERTEX]: { backend: 'keyless' } },
    rules: [CI_A, CI_B].map((email, i) => ({
      name: `ci-${i}`,
      caller: { issuer: 'https://accounts.google.com', email },
      serviceAccounts: [VERTEX],
      scopes: [CP],
    })),
    ...(deny ? { deny } : {}),
  });

let emulator: Emulator;
let client: SecretManagerServiceClient;
const stacks: LocalStack[] = [];
const audits: Capture[] = [];
const clock = { offsetMs: 0 };
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  emulator = await startEmulator();
  // The function's own identity (keyless minting) comes from the emulated metadata server.
  restoreEnv = useEmulatorMetadata(emulator.metadataHost);
  for (const email of [CI_A, CI_B, NOTIFIER]) emulator.state.serviceAccounts.create(email);
  const [host, port] = emulator.grpcEndpoint.split(':');
  client = new SecretManagerServiceClient({
    apiEndpoint: host,
    port: Number(port),
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
  await client.createSecret({
    parent: `projects/${PROJECT}`,
    secretId: 'tvs-policy',
    secret: { replication: { automatic: {} }, topics: [{ name: TOPIC }] },
  });
  await client.addSecretVersion({ parent: SECRET, payload: { data: Buffer.from(policy()) } });
  for (let i = 0; i < 3; i++) {
    const audit = createCapture();
    audits.push(audit);
    stacks.push(
      await startLocalStack({
        emulator,
        auditTransport: audit.stream,
        opsLogWrite: () => undefined,
        policyClock: () => Date.now() + clock.offsetMs,
        env: {
          TVS_POLICY_FILE: undefined,
          TVS_POLICY_SECRET: `${SECRET}/versions/latest`,
          TVS_POLICY_TTL_SECONDS: String(TTL_SECONDS),
          TVS_POLICY_NOTIFIER: NOTIFIER,
        },
      }),
    );
  }
  // Pub/Sub delivers each message to one endpoint: the first instance stands for "the one it reached".
  emulator.pubsub.subscribe(TOPIC, `${stacks[0].tokenUrl}/v1/policy:notify`, {
    format: 'pubsub',
    oidcToken: { serviceAccountEmail: NOTIFIER, audience: stacks[0].tokenUrl },
  });
}, 60_000);

afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  await client?.close();
  await emulator?.stop();
  restoreEnv?.();
});

async function idToken(email: string, audience: string): Promise<string> {
  const subject = emulator.state.serviceAccounts.get(email)!;
  return emulator.state.signingKeys.signIdToken({ audience, subject });
}

async function accessToken(stack: LocalStack, caller: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${stack.tokenUrl}/v1/projects/-/serviceAccounts/${VERTEX}:generateAccessToken`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await idToken(caller, stack.tokenUrl)}`,
    },
    body: JSON.stringify({ scope: [CP] }),
  });
  return { status: res.status, json: await res.json() };
}

describe('break-glass: a deny entry through a SECRET_VERSION_ADD notification', () => {
  it('cuts the caller off, cache included: at once where the push lands, within the TTL everywhere', async () => {
    // Both callers hold cached tokens on every instance.
    const before = new Map<string, string>();
    for (const [i, stack] of stacks.entries()) {
      for (const caller of [CI_A, CI_B]) {
        const granted = await accessToken(stack, caller);
        expect(granted.status).toBe(200);
        before.set(`${i}|${caller}`, granted.json.accessToken);
      }
    }

    const startedAt = Date.now();
    await client.addSecretVersion({
      parent: SECRET,
      payload: {
        data: Buffer.from(policy({ callers: [{ issuer: 'https://accounts.google.com', email: CI_A }] })),
      },
    });
    await emulator.pubsub.idle();
    const pushes = emulator.pubsub.attempts.filter((a) => a.subscription.endsWith('/push-1'));
    expect(pushes.map((a) => a.status)).toEqual([204]);

    // The instance the push reached: the caller is refused (not served from its cache) ...
    const refused = await accessToken(stacks[0], CI_A);
    const measuredMs = Date.now() - startedAt;
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({
      status: 'PERMISSION_DENIED',
      details: [expect.objectContaining({ reason: 'CALLER_DENIED' })],
    });
    expect(JSON.stringify(refused.json)).not.toContain(before.get(`0|${CI_A}`));
    // ... while the other caller still gets its cached token.
    const other = await accessToken(stacks[0], CI_B);
    expect(other.status).toBe(200);
    expect(other.json.accessToken).toBe(before.get(`0|${CI_B}`));
    console.info(`break-glass: new version -> refused on the notified instance in ${measuredMs} ms`);

    // The others did not get the push: until their policy is a TTL old they judge by the old one
    // (honest: that is the documented bound, not an instant cut-off) ...
    clock.offsetMs = TTL_SECONDS * 1000 * 0.5;
    expect((await accessToken(stacks[1], CI_A)).status).toBe(200);
    // ... and once it is, the next request waits for the re-read and is refused, cache included.
    clock.offsetMs = TTL_SECONDS * 1000;
    for (const stack of stacks.slice(1)) {
      const cut = await accessToken(stack, CI_A);
      expect(cut.status).toBe(403);
      expect(cut.json.error.details[0].reason).toBe('CALLER_DENIED');
      expect((await accessToken(stack, CI_B)).status).toBe(200);
    }

    await Promise.all(stacks.map((s) => s.token.flushAudit()));
    const notified = audits[0].entries().filter((e) => e.action === 'policy.notify');
    expect(notified).toEqual([
      expect.objectContaining({
        decision: 'done',
        reason: 'POLICY_RELOADED',
        httpStatus: 204,
        caller: expect.objectContaining({ email: NOTIFIER }),
      }),
    ]);
    for (const audit of audits) {
      expect(audit.entries().filter((e) => e.reason === 'CALLER_DENIED')).toEqual([
        expect.objectContaining({
          decision: 'denied',
          httpStatus: 403,
          caller: expect.objectContaining({ email: CI_A }),
        }),
      ]);
    }
  }, 60_000);

  it('refuses a notification from anyone but the configured notifier, re-reading nothing', async () => {
    const stack = stacks[2];
    const post = (authorization: string | undefined) =>
      fetch(`${stack.tokenUrl}/v1/policy:notify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({
          message: { attributes: { eventType: 'SECRET_VERSION_ADD', secretId: SECRET }, messageId: '1' },
          subscription: `projects/${PROJECT}/subscriptions/x`,
        }),
      });
    const anonymous = await post(undefined);
    expect(anonymous.status).toBe(401);
    const impostor = await post(`Bearer ${await idToken(CI_B, stack.tokenUrl)}`);
    expect(impostor.status).toBe(403);
    expect((await impostor.json()).error.details[0].reason).toBe('POLICY_NOTIFIER_NOT_ALLOWED');
    // The notifier's token for another audience is not accepted either.
    const elsewhere = await post(`Bearer ${await idToken(NOTIFIER, 'https://elsewhere.example.com')}`);
    expect(elsewhere.status).toBe(401);
    await stack.token.flushAudit();
    expect(
      audits[2]
        .entries()
        .filter((e) => e.action === 'policy.notify')
        .map((e) => e.reason),
    ).toEqual([expect.any(String), 'POLICY_NOTIFIER_NOT_ALLOWED', expect.any(String)]);
    expect(audits[2].entries().some((e) => e.reason === 'POLICY_RELOADED')).toBe(false);
  });
});
