/**
 * Converts between the message objects @grpc/proto-loader hands the server (camelCase,
 * int64 as strings, Timestamp/Duration as `{seconds, nanos}`) and the store's model.
 */
import { invalidArgument } from './secret-manager-error.js';
import type {
  AccessedVersion,
  CustomerManagedEncryption,
  Page,
  Replication,
  Rotation,
  Secret,
  SecretInput,
  SecretVersion,
} from './secret-model.js';

/** google.protobuf.Timestamp / Duration as proto-loader decodes them. */
export interface SecondsNanos {
  seconds?: string | number;
  nanos?: number;
}

/** google.cloud.secretmanager.v1.Secret as decoded (only the fields the emulator reads). */
export interface SecretMessage {
  name?: string;
  replication?: {
    automatic?: { customerManagedEncryption?: CustomerManagedEncryption };
    userManaged?: {
      replicas?: Array<{ location?: string; customerManagedEncryption?: CustomerManagedEncryption }>;
    };
  };
  labels?: Record<string, string>;
  topics?: Array<{ name?: string }>;
  expireTime?: SecondsNanos;
  ttl?: SecondsNanos;
  etag?: string;
  rotation?: { nextRotationTime?: SecondsNanos; rotationPeriod?: SecondsNanos };
  versionAliases?: Record<string, string | number>;
  annotations?: Record<string, string>;
  versionDestroyTtl?: SecondsNanos;
}

export function toDate(value: SecondsNanos): Date {
  return new Date(Number(value.seconds ?? 0) * 1000 + Math.floor((value.nanos ?? 0) / 1e6));
}

export function toSeconds(value: SecondsNanos): number {
  return Number(value.seconds ?? 0) + (value.nanos ?? 0) / 1e9;
}

export function fromDate(date: Date): { seconds: number; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

export function fromSeconds(seconds: number): { seconds: number; nanos: number } {
  const whole = Math.floor(seconds);
  return { seconds: whole, nanos: Math.round((seconds - whole) * 1e9) };
}

function replicationFrom(message: SecretMessage['replication']): Replication | undefined {
  if (message?.automatic) {
    const automatic: { customerManagedEncryption?: CustomerManagedEncryption } = {};
    if (message.automatic.customerManagedEncryption)
      automatic.customerManagedEncryption = { ...message.automatic.customerManagedEncryption };
    return { automatic };
  }
  if (message?.userManaged) {
    return {
      userManaged: {
        replicas: (message.userManaged.replicas ?? []).map((r) => {
          const replica: { location: string; customerManagedEncryption?: CustomerManagedEncryption } = {
            location: r.location ?? '',
          };
          if (r.customerManagedEncryption)
            replica.customerManagedEncryption = { ...r.customerManagedEncryption };
          return replica;
        }),
      },
    };
  }
  return undefined;
}

/** The request's Secret as store input. */
export function secretInputFrom(message: SecretMessage | undefined): SecretInput {
  const input: SecretInput = {};
  if (!message) return input;
  const replication = replicationFrom(message.replication);
  if (replication) input.replication = replication;
  if (message.labels) input.labels = { ...message.labels };
  if (message.topics) input.topics = message.topics.map((t) => ({ name: t.name ?? '' }));
  if (message.expireTime) input.expireTime = toDate(message.expireTime);
  if (message.ttl) input.ttlSeconds = toSeconds(message.ttl);
  if (message.etag) input.etag = message.etag;
  if (message.rotation) {
    const rotation: Rotation = {};
    if (message.rotation.nextRotationTime)
      rotation.nextRotationTime = toDate(message.rotation.nextRotationTime);
    if (message.rotation.rotationPeriod)
      rotation.rotationPeriodSeconds = toSeconds(message.rotation.rotationPeriod);
    input.rotation = rotation;
  }
  if (message.versionAliases) {
    input.versionAliases = Object.fromEntries(
      Object.entries(message.versionAliases).map(([k, v]) => [k, Number(v)]),
    );
  }
  if (message.annotations) input.annotations = { ...message.annotations };
  if (message.versionDestroyTtl) input.versionDestroyTtlSeconds = toSeconds(message.versionDestroyTtl);
  return input;
}

export function secretMessage(secret: Secret): Record<string, unknown> {
  const message: Record<string, unknown> = {
    name: secret.name,
    replication: structuredClone(secret.replication),
    createTime: fromDate(secret.createTime),
    labels: { ...secret.labels },
    topics: secret.topics.map((t) => ({ name: t.name })),
    etag: secret.etag,
    versionAliases: Object.fromEntries(Object.entries(secret.versionAliases).map(([k, v]) => [k, String(v)])),
    annotations: { ...secret.annotations },
  };
  if (secret.expireTime) message.expireTime = fromDate(secret.expireTime);
  if (secret.rotation) {
    const rotation: Record<string, unknown> = {};
    if (secret.rotation.nextRotationTime)
      rotation.nextRotationTime = fromDate(secret.rotation.nextRotationTime);
    if (secret.rotation.rotationPeriodSeconds !== undefined)
      rotation.rotationPeriod = fromSeconds(secret.rotation.rotationPeriodSeconds);
    message.rotation = rotation;
  }
  if (secret.versionDestroyTtlSeconds !== undefined)
    message.versionDestroyTtl = fromSeconds(secret.versionDestroyTtlSeconds);
  return message;
}

export function versionMessage(version: SecretVersion): Record<string, unknown> {
  const message: Record<string, unknown> = {
    name: version.name,
    createTime: fromDate(version.createTime),
    state: version.state,
    replicationStatus: structuredClone(version.replicationStatus),
    etag: version.etag,
    clientSpecifiedPayloadChecksum: version.clientSpecifiedPayloadChecksum,
  };
  if (version.destroyTime) message.destroyTime = fromDate(version.destroyTime);
  if (version.scheduledDestroyTime) message.scheduledDestroyTime = fromDate(version.scheduledDestroyTime);
  return message;
}

export function accessMessage(accessed: AccessedVersion): Record<string, unknown> {
  return { name: accessed.name, payload: { data: accessed.data, dataCrc32c: String(accessed.dataCrc32c) } };
}

export function secretsPageMessage(page: Page<Secret>): Record<string, unknown> {
  return {
    secrets: page.items.map(secretMessage),
    nextPageToken: page.nextPageToken,
    totalSize: page.totalSize,
  };
}

export function versionsPageMessage(page: Page<SecretVersion>): Record<string, unknown> {
  return {
    versions: page.items.map(versionMessage),
    nextPageToken: page.nextPageToken,
    totalSize: page.totalSize,
  };
}

/** `data_crc32c` (optional int64) as a number, or undefined when the caller did not send one. */
export function crc32cFrom(value: string | number | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw invalidArgument('data_crc32c is out of range.');
  return number;
}
