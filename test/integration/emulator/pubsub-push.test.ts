import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as functions from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';

const PROJECT = 'tvs-pubsub';
const NUMBER = '610987654321';
const PUSHER = `pusher@${PROJECT}.iam.gserviceaccount.com`;
const TOPIC = `projects/${PROJECT}/topics/rotation`;
const EVENT_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished';

interface MessagePublishedData {
  message: { attributes: Record<string, string>; data: string; messageId: string; publishTime: string };
  subscription: string;
}

let emulator: Emulator;
let functionServer: Server;
let functionUrl: string;
const received: functions.CloudEvent<MessagePublishedData>[] = [];
let failuresToAnswer = 0;

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

beforeAll(async () => {
  emulator = await startEmulator({
    seed: { projectId: PROJECT, projectNumber: NUMBER, serviceAccounts: [{ email: PUSHER }] },
  });
  // The real functions-framework CloudEvent wrapper, as the gen2 rotation function runs on it.
  functions.cloudEvent<MessagePublishedData>(
    'pubsubPushReceiver',
    (event: functions.CloudEvent<MessagePublishedData>): void => {
      received.push(event);
      if (failuresToAnswer > 0) {
        failuresToAnswer -= 1;
        throw new Error('rotation failed (test)');
      }
    },
  );
  functionServer = getTestServer('pubsubPushReceiver');
  functionUrl = await listen(functionServer);
});

afterAll(async () => {
  await emulator?.stop();
  functionServer?.closeAllConnections();
  await new Promise((resolve) => functionServer?.close(resolve));
});

/** Creates a secret that publishes to TOPIC and is due for rotation at `due`. */
function rotatingSecret(id: string, due: Date): void {
  emulator.state.secrets.createSecret(`projects/${PROJECT}`, id, {
    replication: { automatic: {} },
    topics: [{ name: TOPIC }],
    rotation: { nextRotationTime: due, rotationPeriodSeconds: 86_400 },
  });
}

async function admin(path: string, body: unknown): Promise<Response> {
  return fetch(`${emulator.httpUrl}/__admin/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('Pub/Sub push of Secret Manager notifications', () => {
  it('delivers SECRET_ROTATE to a functions-framework CloudEvent function, retrying after a 500', async () => {
    const due = new Date(Date.now() + 3_600_000);
    rotatingSecret('rotate-me', due);
    const subscribed = await admin('pubsub/subscriptions', {
      topic: 'rotation',
      pushEndpoint: functionUrl,
      id: 'rotate-sub',
      initialBackoffMs: 5,
    });
    expect(subscribed.status).toBe(200);
    expect(await subscribed.json()).toEqual({
      name: `projects/${PROJECT}/subscriptions/rotate-sub`,
      topic: TOPIC,
      pushEndpoint: functionUrl,
    });
    received.length = 0;
    failuresToAnswer = 1;
    const pushesBefore = emulator.faults.count('pubsub.push');

    const sweep = await admin('pubsub/rotate-due', { now: new Date(due.getTime() + 1000).toISOString() });
    expect(await sweep.json()).toEqual({ secrets: [`projects/${NUMBER}/secrets/rotate-me`] });
    await emulator.pubsub.idle();

    const attempts = emulator.pubsub.attempts.filter(
      (a) => a.subscription === `projects/${PROJECT}/subscriptions/rotate-sub`,
    );
    expect(attempts.map((a) => [a.attempt, a.status, a.ok])).toEqual([
      [1, 500, false],
      [2, 204, true],
    ]);
    expect(emulator.faults.count('pubsub.push')).toBe(pushesBefore + 2);
    expect(received).toHaveLength(2);
    expect(received[1].id).toBe(received[0].id);
    const event = received[1];
    expect(event).toMatchObject({
      specversion: '1.0',
      type: EVENT_TYPE,
      source: `//pubsub.googleapis.com/${TOPIC}`,
    });
    expect(event.data?.subscription).toBe(`projects/${PROJECT}/subscriptions/rotate-sub`);
    expect(event.data?.message.attributes).toEqual({
      eventType: 'SECRET_ROTATE',
      dataFormat: 'JSON_API_V1',
      secretId: `projects/${PROJECT}/secrets/rotate-me`,
      timestamp: expect.any(String),
    });
    expect(event.data?.message.messageId).toBe(event.id);
    const secret = JSON.parse(Buffer.from(event.data!.message.data, 'base64').toString('utf8')) as {
      name: string;
      rotation: { nextRotationTime: string };
    };
    expect(secret.name).toBe(`projects/${NUMBER}/secrets/rotate-me`);
    // Google advances nextRotationTime before announcing.
    expect(Date.parse(secret.rotation.nextRotationTime)).toBeGreaterThan(due.getTime());
    emulator.pubsub.unsubscribe(`projects/${PROJECT}/subscriptions/rotate-sub`);
  });

  it('delivers each message twice, with one messageId, when the subscription asks for copies', async () => {
    rotatingSecret('twice', new Date(Date.now() + 3_600_000));
    const subscription = emulator.pubsub.subscribe(TOPIC, functionUrl, { copies: 2 });
    received.length = 0;
    failuresToAnswer = 0;

    emulator.state.secrets.addVersion(`projects/${PROJECT}/secrets/twice`, { data: Buffer.from('v1') });
    await emulator.pubsub.idle();

    expect(received.map((e) => e.data?.message.attributes.eventType)).toEqual([
      'SECRET_VERSION_ADD',
      'SECRET_VERSION_ADD',
    ]);
    expect(new Set(received.map((e) => e.id)).size).toBe(1);
    expect(received[0].data?.message.attributes.versionId).toBe(
      `projects/${NUMBER}/secrets/twice/versions/1`,
    );
    emulator.pubsub.unsubscribe(subscription.name);
  });

  it('gives up after maxAttempts, counting dropped (injected) and refused attempts, and signs pushes when asked', async () => {
    const requests: IncomingMessage[] = [];
    const refusing = createServer((req, res) => {
      requests.push(req);
      req.resume();
      res.writeHead(503).end();
    });
    const url = await listen(refusing);
    try {
      const subscription = emulator.pubsub.subscribe(TOPIC, url, {
        maxAttempts: 3,
        initialBackoffMs: 1,
        oidcToken: { serviceAccountEmail: PUSHER, audience: 'https://rotate.example' },
      });
      emulator.faults.inject({ endpoint: 'pubsub.push', times: 1, reset: true });
      const messageId = emulator.pubsub.publish(TOPIC, { eventType: 'SECRET_ROTATE' }, Buffer.from('{}'));
      await emulator.pubsub.idle();

      const attempts = emulator.pubsub.attempts.filter((a) => a.subscription === subscription.name);
      expect(attempts.map((a) => [a.messageId, a.attempt, a.status, a.ok])).toEqual([
        [messageId, 1, undefined, false],
        [messageId, 2, 503, false],
        [messageId, 3, 503, false],
      ]);
      expect(requests).toHaveLength(2);
      const token = /^Bearer (.+)$/.exec(requests[0].headers.authorization ?? '')?.[1];
      const { payload } = await jwtVerify(token ?? '', createRemoteJWKSet(new URL(emulator.jwksUrl)), {
        issuer: 'https://accounts.google.com',
        audience: 'https://rotate.example',
        algorithms: ['RS256'],
      });
      expect(payload.email).toBe(PUSHER);
      emulator.pubsub.unsubscribe(subscription.name);
    } finally {
      refusing.closeAllConnections();
      await new Promise((resolve) => refusing.close(resolve));
    }
  });

  it('rejects a subscription to a non-HTTP endpoint', async () => {
    const answer = await admin('pubsub/subscriptions', {
      topic: 'rotation',
      pushEndpoint: 'ftp://example.com/',
    });
    expect(answer.status).toBe(400);
  });
});
