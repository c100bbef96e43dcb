/**
 * In-memory Secret Manager: the state and Google's rules, no transport. Every method is
 * synchronous, so a check-then-write (etag compare-and-swap) can never interleave with another
 * call: of two updates carrying the same etag exactly one wins.
 *
 * Google behaviours followed here (sources in the report and the comments):
 * - names in answers use the project NUMBER; requests may use the id or the number;
 * - etag mismatch → FAILED_PRECONDITION (cloud.google.com/secret-manager/docs/etags), and every
 *   modification, even a no-op, changes the etag of the resource it applies to (only that one);
 * - `latest` is the most recently created version whatever its state, so access fails when it
 *   is disabled or destroyed (external-secrets#4042, get-secretmanager-secrets#268);
 * - accessing a DISABLED/DESTROYED version → FAILED_PRECONDITION
 *   "Secret Version [...] is in DISABLED state." (same issues);
 * - lists are newest first (ListSecretsResponse doc); totalSize is 0 when filtered.
 */
import { EventEmitter } from 'node:events';
import { EtagClock } from './etag-clock.js';
import {
  SECRET_FILTER_FIELDS,
  VERSION_FILTER_FIELDS,
  secretFilterDoc,
  versionFilterDoc,
} from './filter-docs.js';
import { compileFilter } from './list-filter.js';
import { buildNotification } from './notification.js';
import { paginate } from './paging.js';
import {
  checkSecretId,
  parseProjectParent,
  parseSecretName,
  parseVersionName,
  secretName,
  versionName,
  type ProjectIdentity,
} from './resource-names.js';
import { SecretManagerError, failedPrecondition, invalidArgument, notFound } from './secret-manager-error.js';
import {
  copySecret,
  copyVersion,
  type AccessedVersion,
  type NotificationEventType,
  type Page,
  type Secret,
  type SecretInput,
  type SecretVersion,
} from './secret-model.js';
import { applySecretUpdate } from './secret-update.js';
import {
  advanceRotation,
  applyTransition,
  checkPayload,
  destroyEntry,
  replicationStatusOf,
  resolveVersionRef,
  type Transition,
  type VersionEntry,
} from './version-rules.js';
import {
  validateAliases,
  validateAnnotations,
  validateLabels,
  validatePositiveDuration,
  validateReplication,
  validateRotation,
  validateTopics,
} from './secret-validation.js';

export interface SecretStoreOptions {
  projectId: string;
  projectNumber: string;
  /** Clock, for tests; defaults to the wall clock. */
  now?: () => Date;
}

export interface ListRequest {
  pageSize?: number;
  pageToken?: string;
  filter?: string;
}

interface SecretEntry {
  seq: number;
  secret: Secret;
  /** Index = version number - 1. */
  versions: VersionEntry[];
}

export class SecretStore extends EventEmitter {
  private readonly project: ProjectIdentity;
  private readonly now: () => Date;
  private readonly secrets = new Map<string, SecretEntry>();
  private readonly etags: EtagClock;
  private nextSeq = 1;

  constructor(options: SecretStoreOptions) {
    super();
    if (!/^\d+$/.test(options.projectNumber)) throw new TypeError('projectNumber must be digits');
    this.project = { projectId: options.projectId, projectNumber: options.projectNumber };
    this.now = options.now ?? (() => new Date());
    this.etags = new EtagClock(this.now);
  }

  /** Creates a secret (automatic replication) with one ENABLED version per payload, then its aliases. */
  seedSecret(
    secretId: string,
    init: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      versionAliases?: Record<string, number>;
    },
    payloads: Buffer[],
  ): void {
    const parent = `projects/${this.project.projectId}`;
    this.createSecret(parent, secretId, {
      replication: { automatic: {} },
      labels: init.labels,
      annotations: init.annotations,
    });
    const name = `${parent}/secrets/${secretId}`;
    for (const data of payloads) this.addVersion(name, { data });
    if (init.versionAliases) {
      this.updateSecret({ name, versionAliases: init.versionAliases }, ['version_aliases']);
    }
  }

  createSecret(parent: string, secretId: string, input: SecretInput): Secret {
    this.sweep();
    parseProjectParent(this.project, parent, 'secretmanager.secrets.create');
    checkSecretId(secretId);
    const name = secretName(this.project, secretId);
    if (this.secrets.has(secretId))
      throw new SecretManagerError('ALREADY_EXISTS', `Secret [${name}] already exists.`);
    const now = this.now();
    validateReplication(input.replication);
    const topics = input.topics ?? [];
    validateLabels(input.labels ?? {});
    validateAnnotations(input.annotations ?? {});
    validateTopics(topics);
    if (input.rotation) validateRotation(input.rotation, topics, now);
    validatePositiveDuration('ttl', input.ttlSeconds);
    validatePositiveDuration('version_destroy_ttl', input.versionDestroyTtlSeconds);
    // A new secret has no versions, so any alias points nowhere.
    validateAliases(input.versionAliases ?? {}, () => false);
    const secret: Secret = {
      name,
      secretId,
      replication: structuredClone(input.replication!),
      createTime: now,
      labels: { ...input.labels },
      topics: topics.map((t) => ({ name: t.name })),
      etag: this.etags.next(),
      versionAliases: {},
      annotations: { ...input.annotations },
    };
    const expireTime =
      input.ttlSeconds !== undefined ? new Date(now.getTime() + input.ttlSeconds * 1000) : input.expireTime;
    if (expireTime && expireTime.getTime() <= now.getTime())
      throw invalidArgument('expire_time must be in the future.');
    if (expireTime) secret.expireTime = expireTime;
    if (input.rotation) secret.rotation = structuredClone(input.rotation);
    if (input.versionDestroyTtlSeconds !== undefined)
      secret.versionDestroyTtlSeconds = input.versionDestroyTtlSeconds;
    this.secrets.set(secretId, { seq: this.nextSeq++, secret, versions: [] });
    this.notify('SECRET_CREATE', secret);
    return copySecret(secret);
  }

  getSecret(name: string): Secret {
    this.sweep();
    return copySecret(this.findSecret(name, 'secretmanager.secrets.get').secret);
  }

  /** Applies the fields of `input` named by `updateMask` (snake_case or camelCase paths). */
  updateSecret(input: SecretInput & { name: string }, updateMask: string[]): Secret {
    this.sweep();
    const entry = this.findSecret(input.name, 'secretmanager.secrets.update');
    this.checkEtag(entry.secret.etag, input.etag, entry.secret.name);
    const updated = applySecretUpdate(entry.secret, input, updateMask, {
      now: this.now(),
      versionExists: (n) => n >= 1 && n <= entry.versions.length,
    });
    updated.etag = this.etags.next();
    entry.secret = updated;
    this.notify('SECRET_UPDATE', updated);
    return copySecret(updated);
  }

  deleteSecret(name: string, etag?: string): void {
    this.sweep();
    const entry = this.findSecret(name, 'secretmanager.secrets.delete');
    this.checkEtag(entry.secret.etag, etag, entry.secret.name);
    this.secrets.delete(entry.secret.secretId);
    this.notify('SECRET_DELETE', entry.secret);
  }

  listSecrets(parent: string, request: ListRequest = {}): Page<Secret> {
    this.sweep();
    parseProjectParent(this.project, parent, 'secretmanager.secrets.list');
    const filter = request.filter ?? '';
    const matches = compileFilter(filter, SECRET_FILTER_FIELDS);
    const items = [...this.secrets.values()]
      .filter((e) => matches(secretFilterDoc(e.secret)))
      .map((e) => ({ seq: e.seq, value: copySecret(e.secret) }));
    return paginate(items, { ...request, filtered: filter.trim() !== '', query: `${parent}|${filter}` });
  }

  addVersion(parent: string, payload: { data: Buffer; dataCrc32c?: number }): SecretVersion {
    this.sweep();
    const entry = this.findSecret(parent, 'secretmanager.versions.add');
    const actual = checkPayload(payload.data, payload.dataCrc32c);
    const number = entry.versions.length + 1;
    const version: SecretVersion = {
      name: versionName(this.project, entry.secret.secretId, number),
      version: number,
      createTime: this.now(),
      state: 'ENABLED',
      etag: this.etags.next(),
      clientSpecifiedPayloadChecksum: payload.dataCrc32c !== undefined,
      replicationStatus: replicationStatusOf(entry.secret),
    };
    entry.versions.push({ version, data: Buffer.from(payload.data), crc32c: actual });
    this.notify('SECRET_VERSION_ADD', entry.secret, version);
    return copyVersion(version);
  }

  getVersion(name: string): SecretVersion {
    this.sweep();
    return copyVersion(this.findVersion(name, 'secretmanager.versions.get', true).version);
  }

  listVersions(parent: string, request: ListRequest = {}): Page<SecretVersion> {
    this.sweep();
    const entry = this.findSecret(parent, 'secretmanager.versions.list');
    const filter = request.filter ?? '';
    const matches = compileFilter(filter, VERSION_FILTER_FIELDS);
    const items = entry.versions
      .filter((v) => matches(versionFilterDoc(v.version)))
      .map((v) => ({ seq: v.version.version, value: copyVersion(v.version) }));
    return paginate(items, {
      ...request,
      filtered: filter.trim() !== '',
      query: `${entry.secret.name}|${filter}`,
    });
  }

  accessVersion(name: string): AccessedVersion {
    this.sweep();
    const found = this.findVersion(name, 'secretmanager.versions.access', true);
    const { version } = found;
    if (version.state !== 'ENABLED' || !found.data) {
      throw failedPrecondition(`Secret Version [${version.name}] is in ${version.state} state.`);
    }
    return { name: version.name, data: Buffer.from(found.data), dataCrc32c: found.crc32c! };
  }

  enableVersion(name: string, etag?: string): SecretVersion {
    return this.changeVersion(name, etag, 'secretmanager.versions.enable', 'enable');
  }

  disableVersion(name: string, etag?: string): SecretVersion {
    return this.changeVersion(name, etag, 'secretmanager.versions.disable', 'disable');
  }

  /**
   * Destroys a version: the payload is dropped and DESTROYED is terminal. With the secret's
   * `versionDestroyTtl` set, the version is DISABLED and scheduled instead (delayed destroy);
   * enabling or disabling it again cancels the schedule, as Google documents.
   */
  destroyVersion(name: string, etag?: string): SecretVersion {
    return this.changeVersion(name, etag, 'secretmanager.versions.destroy', 'destroy');
  }

  /**
   * Announces SECRET_ROTATE for every secret whose `rotation.nextRotationTime` has passed, after
   * advancing it by `rotationPeriod` (past `now`); a one-off rotation time is cleared.
   * Returns the names of the secrets announced.
   */
  rotateDue(now: Date = this.now()): string[] {
    const rotated: string[] = [];
    for (const entry of this.secrets.values()) {
      if (!advanceRotation(entry.secret.rotation, now)) continue;
      rotated.push(entry.secret.name);
      this.notify('SECRET_ROTATE', entry.secret);
    }
    return rotated;
  }

  /** Deletes expired secrets and completes delayed destroys that are due (runs before every call). */
  sweep(now: Date = this.now()): void {
    for (const entry of [...this.secrets.values()]) {
      if (entry.secret.expireTime && entry.secret.expireTime.getTime() <= now.getTime()) {
        this.secrets.delete(entry.secret.secretId);
        this.notify('SECRET_DELETE', entry.secret);
        continue;
      }
      for (const v of entry.versions) {
        const due = v.version.scheduledDestroyTime;
        if (due && due.getTime() <= now.getTime()) {
          destroyEntry(v, due);
          v.version.etag = this.etags.next();
          this.notify('SECRET_VERSION_DESTROY', entry.secret, v.version);
        }
      }
    }
  }

  /** Forgets every secret. */
  clear(): void {
    this.secrets.clear();
  }

  private changeVersion(
    name: string,
    etag: string | undefined,
    permission: string,
    transition: Transition,
  ): SecretVersion {
    this.sweep();
    const { entry, secret } = this.findVersionEntry(name, permission, false);
    this.checkEtag(entry.version.etag, etag, entry.version.name);
    if (entry.version.state === 'DESTROYED') {
      throw failedPrecondition(`Secret Version [${entry.version.name}] is in DESTROYED state.`);
    }
    const eventType = applyTransition(entry, transition, secret, this.now());
    entry.version.etag = this.etags.next();
    this.notify(eventType, secret, entry.version);
    return copyVersion(entry.version);
  }

  private findSecret(name: string, permission: string): SecretEntry {
    const secretId = parseSecretName(this.project, name, permission);
    const entry = this.secrets.get(secretId);
    if (!entry)
      throw notFound(`Secret [${secretName(this.project, secretId)}] not found or has no versions.`);
    return entry;
  }

  private findVersion(name: string, permission: string, allowAliases: boolean): VersionEntry {
    return this.findVersionEntry(name, permission, allowAliases).entry;
  }

  /**
   * Resolves `versions/<n>`, and for Get/Access also `latest` and aliases (resources.proto:
   * "Access by alias is only supported on GetSecretVersion and AccessSecretVersion").
   */
  private findVersionEntry(
    name: string,
    permission: string,
    allowAliases: boolean,
  ): { entry: VersionEntry; secret: Secret } {
    const { secretId, version } = parseVersionName(this.project, name, permission);
    const secretEntry = this.secrets.get(secretId);
    const fullSecretName = secretName(this.project, secretId);
    if (!secretEntry) throw notFound(`Secret [${fullSecretName}] not found or has no versions.`);
    const number = resolveVersionRef(
      version,
      secretEntry.versions.length,
      secretEntry.secret.versionAliases,
      allowAliases,
    );
    if (number === undefined && version === 'latest')
      throw notFound(`Secret [${fullSecretName}] not found or has no versions.`);
    const entry = number !== undefined && number >= 1 ? secretEntry.versions[number - 1] : undefined;
    if (!entry) throw notFound(`Secret Version [${versionName(this.project, secretId, version)}] not found.`);
    return { entry, secret: secretEntry.secret };
  }

  private checkEtag(current: string, given: string | undefined, resource: string): void {
    if (given && given !== current) {
      // Google: "fails with a FAILED_PRECONDITION error and an HTTP status code 400"; wording ours.
      throw failedPrecondition(
        `The etag provided [${given}] does not match the current etag of [${resource}].`,
      );
    }
  }

  private notify(eventType: NotificationEventType, secret: Secret, version?: SecretVersion): void {
    const notification = buildNotification(this.project.projectId, eventType, this.now(), secret, version);
    if (notification) this.emit('notification', notification);
  }
}
