/**
 * A local stand-in for Pub/Sub push + Eventarc: Secret Manager notifications published to a
 * secret's topics are POSTed to each push subscription of the topic as a CloudEvent in binary
 * content mode (`ce-*` headers, the Pub/Sub message envelope as the JSON body), the way
 * Eventarc delivers `google.cloud.pubsub.topic.v1.messagePublished` to a gen2 function.
 * Delivery is at least once: non-2xx answers and network errors are retried with capped
 * exponential backoff up to `maxAttempts`. Every attempt counts as endpoint `pubsub.push`.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FaultRegistry } from './faults.js';
import type { SecretNotification } from './secret-manager/secret-model.js';
import type { EmulatorState } from './state/emulator-state.js';

export interface PushSubscriptionOptions {
  /** Subscription id (default `push-<n>`). */
  id?: string;
  /** Deliver every message this many times (same messageId), to test duplicate handling. Default 1. */
  copies?: number;
  /** Attempts per copy before the message is dropped. Default 5. */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt. Default 20 ms (Pub/Sub itself starts at 10 s). */
  initialBackoffMs?: number;
  /** Cap on the retry delay. Default 1000 ms. */
  maxBackoffMs?: number;
  /**
   * `cloudevent` (default): as Eventarc delivers to a gen2 function (binary mode, `ce-*` headers).
   * `pubsub`: a plain push subscription's wrapped JSON envelope, without `ce-*` headers.
   */
  format?: 'cloudevent' | 'pubsub';
  /** Push authentication: an ID token of this SA in `Authorization: Bearer` (audience default = the endpoint URL). */
  oidcToken?: { serviceAccountEmail: string; audience?: string };
}

export interface PushSubscription {
  /** `projects/{projectId}/subscriptions/{id}` */
  readonly name: string;
  /** `projects/{projectId}/topics/{id}` */
  readonly topic: string;
  readonly pushEndpoint: string;
  readonly options: Readonly<PushSubscriptionOptions>;
}

/** One delivery attempt, for assertions. */
export interface PushAttempt {
  readonly subscription: string;
  readonly messageId: string;
  readonly copy: number;
  readonly attempt: number;
  /** HTTP status of the answer, or undefined for a network error / injected reset. */
  readonly status: number | undefined;
  readonly ok: boolean;
}

/** A published message (as Pub/Sub stores it). */
export interface PublishedMessage {
  readonly topic: string;
  readonly messageId: string;
  readonly publishTime: string;
  readonly attributes: Record<string, string>;
  /** base64 */
  readonly data: string;
}

const CLOUD_EVENT_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished';
const ATTEMPT_TIMEOUT_MS = 10_000;

export class PubSubPush {
  readonly published: PublishedMessage[] = [];
  readonly attempts: PushAttempt[] = [];
  private readonly subscriptions = new Map<string, PushSubscription>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private nextMessageId = 1;
  private nextSubscription = 1;
  private readonly onNotification = (n: SecretNotification): void => this.publishNotification(n);

  constructor(private readonly deps: { state: EmulatorState; faults: FaultRegistry }) {
    deps.state.secrets.on('notification', this.onNotification);
  }

  /** Adds a push subscription; `topic` is a topic id or `projects/{p}/topics/{t}`. */
  subscribe(topic: string, pushEndpoint: string, options: PushSubscriptionOptions = {}): PushSubscription {
    const url = new URL(pushEndpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError('pushEndpoint must be an http(s) URL');
    if (options.oidcToken && !this.deps.state.serviceAccounts.get(options.oidcToken.serviceAccountEmail)) {
      throw new TypeError(`unknown service account ${options.oidcToken.serviceAccountEmail}`);
    }
    const project = this.deps.state.projectId;
    const id = options.id ?? `push-${this.nextSubscription++}`;
    const name = `projects/${project}/subscriptions/${id}`;
    if (this.subscriptions.has(name)) throw new TypeError(`subscription ${name} already exists`);
    const subscription: PushSubscription = {
      name,
      topic: topicName(project, topic),
      pushEndpoint: url.toString(),
      options: { ...options },
    };
    this.subscriptions.set(name, subscription);
    return subscription;
  }

  unsubscribe(name: string): void {
    this.subscriptions.delete(name);
  }

  list(): PushSubscription[] {
    return [...this.subscriptions.values()];
  }

  /** Publishes a message to a topic; returns its id. Topics without subscriptions drop it. */
  publish(topic: string, attributes: Record<string, string>, data: Buffer): string {
    const message: PublishedMessage = {
      topic: topicName(this.deps.state.projectId, topic),
      messageId: String(this.nextMessageId++),
      publishTime: new Date().toISOString(),
      attributes: { ...attributes },
      data: data.toString('base64'),
    };
    this.published.push(message);
    for (const subscription of this.subscriptions.values()) {
      if (subscription.topic !== message.topic) continue;
      for (let copy = 1; copy <= Math.max(1, subscription.options.copies ?? 1); copy++)
        this.track(this.deliver(subscription, message, copy));
    }
    return message.messageId;
  }

  /** Runs Secret Manager's rotation sweep now (SECRET_ROTATE for every due secret); returns the secrets announced. */
  publishRotateDue(now: Date = new Date()): string[] {
    return this.deps.state.secrets.rotateDue(now);
  }

  /** Resolves when no delivery (or retry) is pending. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops listening and abandons pending retries. */
  async stop(): Promise<void> {
    this.deps.state.secrets.off('notification', this.onNotification);
    this.abort.abort();
    await this.idle();
  }

  private publishNotification(n: SecretNotification): void {
    const attributes: Record<string, string> = {
      eventType: n.eventType,
      dataFormat: 'JSON_API_V1',
      secretId: n.secretId,
      timestamp: n.timestamp,
    };
    if (n.versionId) attributes.versionId = n.versionId;
    const data = Buffer.from(JSON.stringify(n.data), 'utf8');
    for (const topic of n.topics) this.publish(topic, attributes, data);
  }

  private track(promise: Promise<void>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private async deliver(
    subscription: PushSubscription,
    message: PublishedMessage,
    copy: number,
  ): Promise<void> {
    const { maxAttempts = 5, initialBackoffMs = 20, maxBackoffMs = 1000 } = subscription.options;
    for (let attempt = 1; attempt <= maxAttempts && !this.abort.signal.aborted; attempt++) {
      const status = await this.attempt(subscription, message);
      const ok = status !== undefined && status >= 200 && status < 300;
      this.attempts.push({
        subscription: subscription.name,
        messageId: message.messageId,
        copy,
        attempt,
        status,
        ok,
      });
      if (ok) return;
      if (attempt < maxAttempts) {
        await delay(Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1)), undefined, {
          signal: this.abort.signal,
        }).catch(() => undefined);
      }
    }
  }

  /** One POST; the HTTP status, or undefined when the request failed or a fault dropped it. */
  private async attempt(
    subscription: PushSubscription,
    message: PublishedMessage,
  ): Promise<number | undefined> {
    const fault = this.deps.faults.take('pubsub.push');
    if (fault?.latencyMs) await delay(fault.latencyMs);
    if (fault?.reset) return undefined;
    if (fault?.status !== undefined) return fault.status;
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (subscription.options.format !== 'pubsub')
      Object.assign(headers, {
        'ce-id': message.messageId,
        'ce-source': `//pubsub.googleapis.com/${message.topic}`,
        'ce-specversion': '1.0',
        'ce-type': CLOUD_EVENT_TYPE,
        'ce-time': message.publishTime,
      });
    const oidc = subscription.options.oidcToken;
    if (oidc) {
      const account = this.deps.state.serviceAccounts.get(oidc.serviceAccountEmail);
      if (account) {
        const token = await this.deps.state.signingKeys.signIdToken({
          audience: oidc.audience ?? subscription.pushEndpoint,
          subject: account,
        });
        headers.Authorization = `Bearer ${token}`;
      }
    }
    const body = JSON.stringify({
      message: {
        attributes: message.attributes,
        data: message.data,
        messageId: message.messageId,
        message_id: message.messageId,
        publishTime: message.publishTime,
        publish_time: message.publishTime,
      },
      subscription: subscription.name,
    });
    try {
      const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]);
      const response = await fetch(subscription.pushEndpoint, { method: 'POST', headers, body, signal });
      await response.arrayBuffer().catch(() => undefined);
      return response.status;
    } catch {
      return undefined;
    }
  }
}

/** `rotation` → `projects/{project}/topics/rotation`; full names pass through. */
function topicName(project: string, topic: string): string {
  return topic.startsWith('projects/') ? topic : `projects/${project}/topics/${topic}`;
}
