/**
 * The Secret Manager resources as the emulator keeps them: plain data with `Date`s and seconds,
 * independent of gRPC. The gRPC layer and the proto3-JSON writer convert from these.
 */

/** Customer-managed encryption settings, kept as given. */
export interface CustomerManagedEncryption {
  kmsKeyName: string;
}

/** Replication policy, required on create and immutable afterwards; returned as given. */
export type Replication =
  | { automatic: { customerManagedEncryption?: CustomerManagedEncryption } }
  | {
      userManaged: {
        replicas: Array<{ location: string; customerManagedEncryption?: CustomerManagedEncryption }>;
      };
    };

/** Rotation schedule: Secret Manager announces SECRET_ROTATE at `nextRotationTime`. */
export interface Rotation {
  nextRotationTime?: Date;
  rotationPeriodSeconds?: number;
}

/** A Pub/Sub topic that receives change notifications (`projects/<p>/topics/<t>`). */
export interface Topic {
  name: string;
}

export interface Secret {
  /** `projects/<number>/secrets/<id>` */
  name: string;
  secretId: string;
  replication: Replication;
  createTime: Date;
  labels: Record<string, string>;
  topics: Topic[];
  expireTime?: Date;
  /** Quoted, e.g. `"1665a5f0e2b4c"` (AIP-154). */
  etag: string;
  rotation?: Rotation;
  versionAliases: Record<string, number>;
  annotations: Record<string, string>;
  versionDestroyTtlSeconds?: number;
}

/** Where a version's data lives, derived from the secret's replication when it was added. */
export type ReplicationStatus =
  { automatic: Record<string, never> } | { userManaged: { replicas: Array<{ location: string }> } };

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

export interface SecretVersion {
  /** `projects/<number>/secrets/<id>/versions/<n>` */
  name: string;
  version: number;
  createTime: Date;
  /** Only when DESTROYED. */
  destroyTime?: Date;
  state: VersionState;
  etag: string;
  clientSpecifiedPayloadChecksum: boolean;
  replicationStatus: ReplicationStatus;
  /** Set while a delayed destroy is pending (secret has `versionDestroyTtl`). */
  scheduledDestroyTime?: Date;
}

/** The settable fields of a Secret, as given to create or update. */
export interface SecretInput {
  replication?: Replication;
  labels?: Record<string, string>;
  topics?: Topic[];
  expireTime?: Date;
  ttlSeconds?: number;
  /** Compare-and-swap guard on update. */
  etag?: string;
  rotation?: Rotation;
  versionAliases?: Record<string, number>;
  annotations?: Record<string, string>;
  versionDestroyTtlSeconds?: number;
}

/** What AccessSecretVersion returns. */
export interface AccessedVersion {
  /** The resolved version name (`.../versions/4` even when `latest` was asked for). */
  name: string;
  data: Buffer;
  /** CRC32C of `data`, always set (Google stores or computes one for every version). */
  dataCrc32c: number;
}

/** A page of a list call. */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
  /** Total matching items, but 0 when a filter was given (as the proto documents). */
  totalSize: number;
}

/** The event types Secret Manager publishes to a secret's topics. */
export type NotificationEventType =
  | 'SECRET_CREATE'
  | 'SECRET_UPDATE'
  | 'SECRET_DELETE'
  | 'SECRET_VERSION_ADD'
  | 'SECRET_VERSION_ENABLE'
  | 'SECRET_VERSION_DISABLE'
  | 'SECRET_VERSION_DESTROY'
  | 'SECRET_VERSION_DESTROY_SCHEDULED'
  | 'SECRET_ROTATE';

/** One notification, emitted as the store's `notification` event. */
export interface SecretNotification {
  eventType: NotificationEventType;
  /** `projects/<projectId>/secrets/<id>` */
  secretId: string;
  /** The resource name of the version, for SECRET_VERSION_* events. */
  versionId?: string;
  /** The topics the message goes to. */
  topics: string[];
  /** RFC 3339 time of the event. */
  timestamp: string;
  /** The Secret or SecretVersion, proto3 JSON. */
  data: Record<string, unknown>;
}

export function copySecret(secret: Secret): Secret {
  return structuredClone(secret);
}

export function copyVersion(version: SecretVersion): SecretVersion {
  return structuredClone(version);
}
