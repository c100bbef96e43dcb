/**
 * The rules of one secret version, without the store around them: payload limits and checksum,
 * how a version reference (`3`, `latest`, an alias) resolves, the state machine
 * ENABLED ⇄ DISABLED → DESTROYED (terminal) with delayed destroy, and rotation schedules.
 */
import { crc32c } from '../../shared/crc32c.js';
import { invalidArgument } from './secret-manager-error.js';
import type {
  NotificationEventType,
  ReplicationStatus,
  Rotation,
  Secret,
  SecretVersion,
} from './secret-model.js';

/** Secret payloads are at most 64 KiB. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

/** A version as stored: its metadata, and its data until destroyed. */
export interface VersionEntry {
  version: SecretVersion;
  data?: Buffer;
  crc32c?: number;
}

/** Checks size and any caller checksum; returns the payload's CRC32C. */
export function checkPayload(data: Buffer, dataCrc32c: number | undefined): number {
  if (data.length > MAX_PAYLOAD_BYTES) {
    throw invalidArgument(`Secret payload is ${data.length} bytes; the limit is ${MAX_PAYLOAD_BYTES} bytes.`);
  }
  const actual = crc32c(data);
  if (dataCrc32c !== undefined && dataCrc32c !== actual) {
    // Google verifies a given checksum (docs/data-integrity); the wording is ours.
    throw invalidArgument(
      'Checksum mismatch: the data_crc32c provided does not match the CRC32C of the payload data.',
    );
  }
  return actual;
}

/**
 * Resolves a version reference to a number, or undefined when nothing matches. `latest` is the
 * most recently created version whatever its state. Aliases and `latest` only resolve where
 * Google documents them (Get/Access: "Access by alias is only supported on GetSecretVersion
 * and AccessSecretVersion"); elsewhere a non-number is INVALID_ARGUMENT.
 */
export function resolveVersionRef(
  ref: string,
  versionCount: number,
  aliases: Record<string, number>,
  allowAliases: boolean,
): number | undefined {
  if (/^\d+$/.test(ref)) return Number(ref);
  if (!allowAliases) throw invalidArgument(`Version [${ref}] must be a version number for this method.`);
  if (ref === 'latest') return versionCount > 0 ? versionCount : undefined;
  return aliases[ref];
}

export function replicationStatusOf(secret: Secret): ReplicationStatus {
  if ('userManaged' in secret.replication) {
    return {
      userManaged: {
        replicas: secret.replication.userManaged.replicas.map((r) => ({ location: r.location })),
      },
    };
  }
  return { automatic: {} };
}

/** DESTROYED: the data is dropped for good. */
export function destroyEntry(entry: VersionEntry, at: Date): void {
  entry.version.state = 'DESTROYED';
  entry.version.destroyTime = at;
  delete entry.version.scheduledDestroyTime;
  delete entry.data;
}

export type Transition = 'enable' | 'disable' | 'destroy';

/**
 * Applies a transition to a version that is not DESTROYED and names the event it causes.
 * Enable/disable cancel a scheduled destroy; destroy with the secret's `versionDestroyTtl`
 * disables and schedules instead of destroying (delayed destroy).
 */
export function applyTransition(
  entry: VersionEntry,
  transition: Transition,
  secret: Secret,
  now: Date,
): NotificationEventType {
  const version = entry.version;
  if (transition !== 'destroy') {
    version.state = transition === 'enable' ? 'ENABLED' : 'DISABLED';
    delete version.scheduledDestroyTime;
    return transition === 'enable' ? 'SECRET_VERSION_ENABLE' : 'SECRET_VERSION_DISABLE';
  }
  if (secret.versionDestroyTtlSeconds !== undefined) {
    version.state = 'DISABLED';
    version.scheduledDestroyTime = new Date(now.getTime() + secret.versionDestroyTtlSeconds * 1000);
    return 'SECRET_VERSION_DESTROY_SCHEDULED';
  }
  destroyEntry(entry, now);
  return 'SECRET_VERSION_DESTROY';
}

/**
 * If the rotation is due at `now`, moves `nextRotationTime` past `now` by whole periods (or
 * clears a one-off time) and returns true: Google advances it before announcing SECRET_ROTATE.
 */
export function advanceRotation(rotation: Rotation | undefined, now: Date): boolean {
  const next = rotation?.nextRotationTime;
  if (!rotation || !next || next.getTime() > now.getTime()) return false;
  const periodMs = (rotation.rotationPeriodSeconds ?? 0) * 1000;
  if (periodMs > 0) {
    let at = next.getTime();
    while (at <= now.getTime()) at += periodMs;
    rotation.nextRotationTime = new Date(at);
  } else {
    delete rotation.nextRotationTime;
  }
  return true;
}
