/**
 * `rotateOnEvent`: Secret Manager's notifications arrive through Pub/Sub (Eventarc) as
 * `google.cloud.pubsub.topic.v1.messagePublished` CloudEvents. Only `SECRET_ROTATE` is acted
 * on; every other type (`TOPIC_CONFIGURED`, `SECRET_VERSION_ADD`, ...) is acknowledged and
 * ignored. Delivery is at least once: the reconcile makes duplicates harmless. Throwing asks
 * Pub/Sub to deliver again, so only transient failures throw.
 *
 * The notice names a secret `projects/P/secrets/S`, but only `S` is taken from it: the secret is
 * always read from the configured project. Anyone who may publish to the topic could otherwise
 * name a look-alike secret in a project of their own, bound by its short id, and have the rotator
 * mint the bound credential into it.
 */
import { z } from 'zod';
import { TvsError } from '../../shared/errors.js';
import { parseJson } from '../../shared/json.js';
import type { SecretReport } from './report.js';

const eventSchema = z.object({
  message: z.object({
    attributes: z.record(z.string(), z.string()).default({}),
    publishTime: z.string().optional(),
    messageId: z.string().optional(),
  }),
});

/** What the event asks for, or why it is ignored. */
export type RotateNotice =
  | { kind: 'rotate'; secretName: string; timeMs: number; messageId?: string }
  | { kind: 'ignore'; reason: string };

/** Parses a notice; `secretName` is the announced secret's id in `projectId` (never the notice's project). */
export function parseRotateNotice(data: unknown, projectId: string): RotateNotice {
  const parsed = eventSchema.safeParse(typeof data === 'string' ? parseJson(data) : data);
  if (!parsed.success) return { kind: 'ignore', reason: 'not a Pub/Sub message' };
  const { attributes, publishTime, messageId } = parsed.data.message;
  if (attributes.eventType !== 'SECRET_ROTATE')
    return { kind: 'ignore', reason: `event type ${attributes.eventType ?? '(none)'}` };
  const announced = /^projects\/[^/]+\/secrets\/([A-Za-z0-9_-]{1,255})$/.exec(attributes.secretId ?? '');
  if (!announced) return { kind: 'ignore', reason: 'SECRET_ROTATE without a valid secretId' };
  const secretName = `projects/${projectId}/secrets/${announced[1]}`;
  const timeMs = Date.parse(attributes.timestamp ?? publishTime ?? '');
  if (Number.isNaN(timeMs)) return { kind: 'ignore', reason: 'SECRET_ROTATE without a timestamp' };
  return { kind: 'rotate', secretName, timeMs, ...(messageId ? { messageId } : {}) };
}

const TRANSIENT = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED', 'INTERNAL']);

/** True when a failed report is worth a redelivery (not a refusal that will fail again). */
export function shouldRedeliver(report: SecretReport): boolean {
  return (
    report.outcome === 'failed' &&
    report.error !== undefined &&
    TRANSIENT.has(report.error.code) &&
    report.error.reason !== 'MISCONFIGURED'
  );
}

/** Error thrown to make Pub/Sub redeliver; carries no secret. */
export class RedeliverError extends TvsError {
  readonly code = 'UNAVAILABLE' as const;
}
