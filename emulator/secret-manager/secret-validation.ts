/**
 * Google's documented limits on Secret fields (resources.proto comments and the Secret Manager
 * docs). Every violation is INVALID_ARGUMENT; the messages are ours, the limits are Google's.
 */
import { invalidArgument } from './secret-manager-error.js';
import type { Replication, Rotation, Topic } from './secret-model.js';

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

// resources.proto: keys `[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}`, values
// `[\p{Ll}\p{Lo}\p{N}_-]{0,63}`, each at most 128 UTF-8 bytes; no more than 64 labels.
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
export const MAX_LABELS = 64;

export function validateLabels(labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw invalidArgument(`A secret can have at most ${MAX_LABELS} labels.`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || utf8Bytes(key) > 128) throw invalidArgument(`Label key [${key}] is invalid.`);
    if (!LABEL_VALUE.test(value) || utf8Bytes(value) > 128) {
      throw invalidArgument(`Label value [${value}] for key [${key}] is invalid.`);
    }
  }
}

// resources.proto: keys 1–63 chars, ≤ 128 bytes, begin and end alphanumeric, `-_.` inside;
// "the total size of annotation keys and values must be less than 16KiB".
const ANNOTATION_KEY = /^[a-zA-Z0-9](?:[a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?$/;
export const MAX_ANNOTATIONS_BYTES = 16 * 1024;

export function validateAnnotations(annotations: Record<string, string>): void {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    if (!ANNOTATION_KEY.test(key) || utf8Bytes(key) > 128)
      throw invalidArgument(`Annotation key [${key}] is invalid.`);
    total += utf8Bytes(key) + utf8Bytes(value);
  }
  if (total >= MAX_ANNOTATIONS_BYTES) {
    throw invalidArgument(
      `The total size of annotation keys and values must be less than 16KiB (got ${total} bytes).`,
    );
  }
}

// resources.proto: alias ≤ 63 chars of letters, digits, `-`, `_`, starting with a letter, not
// `latest` or `NEW`; no more than 50 aliases.
const ALIAS = /^[a-zA-Z][a-zA-Z0-9_-]{0,62}$/;
export const MAX_ALIASES = 50;

export function validateAliases(
  aliases: Record<string, number>,
  versionExists: (n: number) => boolean,
): void {
  const entries = Object.entries(aliases);
  if (entries.length > MAX_ALIASES)
    throw invalidArgument(`A secret can have at most ${MAX_ALIASES} version aliases.`);
  for (const [alias, version] of entries) {
    if (!ALIAS.test(alias) || alias === 'latest' || alias === 'NEW') {
      throw invalidArgument(`Version alias [${alias}] is invalid.`);
    }
    if (!Number.isSafeInteger(version) || version < 1 || !versionExists(version)) {
      throw invalidArgument(`Version alias [${alias}] refers to version [${version}], which does not exist.`);
    }
  }
}

// resources.proto: "A list of up to 10 Pub/Sub topics"; Topic pattern projects/{project}/topics/{topic}.
const TOPIC = /^projects\/[^/]+\/topics\/[^/]+$/;
export const MAX_TOPICS = 10;

export function validateTopics(topics: Topic[]): void {
  if (topics.length > MAX_TOPICS) throw invalidArgument(`A secret can have at most ${MAX_TOPICS} topics.`);
  for (const topic of topics) {
    if (!TOPIC.test(topic.name))
      throw invalidArgument(`Topic name [${topic.name}] is invalid: expected projects/*/topics/*.`);
  }
}

// Rotation docs: topics must be set; next_rotation_time must be set if rotation_period is;
// next_rotation_time ≥ 5 minutes ahead (≤ 100 years); rotation_period whole seconds in
// [3600s, 3153600000s].
const HUNDRED_YEARS_SECONDS = 3_153_600_000;

export function validateRotation(rotation: Rotation, topics: Topic[], now: Date): void {
  const { nextRotationTime, rotationPeriodSeconds } = rotation;
  if (nextRotationTime === undefined && rotationPeriodSeconds === undefined) return;
  if (topics.length === 0) throw invalidArgument('Secret.topics must be set to configure rotation.');
  if (rotationPeriodSeconds !== undefined && nextRotationTime === undefined) {
    throw invalidArgument('next_rotation_time must be set if rotation_period is set.');
  }
  if (nextRotationTime !== undefined) {
    const aheadSeconds = (nextRotationTime.getTime() - now.getTime()) / 1000;
    if (aheadSeconds < 300 || aheadSeconds > HUNDRED_YEARS_SECONDS) {
      throw invalidArgument(
        'next_rotation_time must be at least 5 minutes and at most 100 years in the future.',
      );
    }
  }
  if (rotationPeriodSeconds !== undefined) {
    if (
      !Number.isInteger(rotationPeriodSeconds) ||
      rotationPeriodSeconds < 3600 ||
      rotationPeriodSeconds > HUNDRED_YEARS_SECONDS
    ) {
      throw invalidArgument('rotation_period must be whole seconds, at least 3600s and at most 3153600000s.');
    }
  }
}

export function validateReplication(replication: Replication | undefined): void {
  if (!replication) throw invalidArgument('Secret.replication is required.');
  if ('userManaged' in replication) {
    const replicas = replication.userManaged.replicas;
    if (replicas.length === 0) throw invalidArgument('Replication.user_managed.replicas cannot be empty.');
    const seen = new Set<string>();
    for (const replica of replicas) {
      if (!replica.location) throw invalidArgument('Replica location is required.');
      if (seen.has(replica.location))
        throw invalidArgument(`Duplicate replica location [${replica.location}].`);
      seen.add(replica.location);
    }
  }
}

/** TTL-like durations (`ttl`, `version_destroy_ttl`) must be positive. */
export function validatePositiveDuration(field: string, seconds: number | undefined): void {
  if (seconds !== undefined && !(seconds > 0)) throw invalidArgument(`${field} must be a positive duration.`);
}
