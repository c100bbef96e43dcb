/**
 * Secret and SecretVersion as proto3 JSON (https://protobuf.dev/programming-guides/json/), the
 * form Secret Manager puts in Pub/Sub notification `data`: camelCase names, RFC 3339 times,
 * durations as `"3600s"`, int64 as strings, enums by name, empty fields left out.
 */
import type { Secret, SecretVersion } from './secret-model.js';

/** RFC 3339 in UTC, as proto3 JSON writes a Timestamp. */
export function timestampJson(date: Date): string {
  return date.toISOString();
}

/** A Duration as proto3 JSON (`"3600s"`, `"1.5s"`). */
export function durationJson(seconds: number): string {
  return `${seconds}s`;
}

const nonEmpty = (map: Record<string, unknown>): boolean => Object.keys(map).length > 0;

export function secretToJson(secret: Secret): Record<string, unknown> {
  const json: Record<string, unknown> = {
    name: secret.name,
    replication: structuredClone(secret.replication),
    createTime: timestampJson(secret.createTime),
  };
  if (nonEmpty(secret.labels)) json.labels = { ...secret.labels };
  if (secret.topics.length > 0) json.topics = secret.topics.map((t) => ({ name: t.name }));
  if (secret.expireTime) json.expireTime = timestampJson(secret.expireTime);
  json.etag = secret.etag;
  if (secret.rotation) {
    const rotation: Record<string, string> = {};
    if (secret.rotation.nextRotationTime)
      rotation.nextRotationTime = timestampJson(secret.rotation.nextRotationTime);
    if (secret.rotation.rotationPeriodSeconds !== undefined) {
      rotation.rotationPeriod = durationJson(secret.rotation.rotationPeriodSeconds);
    }
    json.rotation = rotation;
  }
  if (nonEmpty(secret.versionAliases)) {
    json.versionAliases = Object.fromEntries(
      Object.entries(secret.versionAliases).map(([k, v]) => [k, String(v)]),
    );
  }
  if (nonEmpty(secret.annotations)) json.annotations = { ...secret.annotations };
  if (secret.versionDestroyTtlSeconds !== undefined)
    json.versionDestroyTtl = durationJson(secret.versionDestroyTtlSeconds);
  return json;
}

export function versionToJson(version: SecretVersion): Record<string, unknown> {
  const json: Record<string, unknown> = {
    name: version.name,
    createTime: timestampJson(version.createTime),
  };
  if (version.destroyTime) json.destroyTime = timestampJson(version.destroyTime);
  json.state = version.state;
  json.replicationStatus = structuredClone(version.replicationStatus);
  json.etag = version.etag;
  if (version.clientSpecifiedPayloadChecksum) json.clientSpecifiedPayloadChecksum = true;
  if (version.scheduledDestroyTime) json.scheduledDestroyTime = timestampJson(version.scheduledDestroyTime);
  return json;
}
