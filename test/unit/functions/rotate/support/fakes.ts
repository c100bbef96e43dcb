/**
 * In-memory fakes of the rotator's own ports: a Secret Manager with etag compare-and-swap and
 * version states, and a credential kind (SA-like: server-chosen ids and a 10-key cap; or
 * API-like: deterministic ids). Every call yields to the event loop, so concurrent runs interleave.
 */
import { randomBytes } from 'node:crypto';
import {
  AbortedError,
  FailedPreconditionError,
  InternalError,
  NotFoundError,
} from '../../../../../shared/errors.js';
import type {
  SecretAdmin,
  SecretInfo,
  VersionInfo,
  VersionState,
} from '../../../../../shared/gcp/secret-admin.js';
import type { Credential } from '../../../../../functions/rotate/credentials/credential.js';
import type { RotationAudit } from '../../../../../functions/rotate/rotation-audit.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

interface StoredSecret {
  info: SecretInfo;
  versions: Array<{ state: VersionState; data?: Buffer }>;
}

export class FakeSecrets implements SecretAdmin {
  readonly secrets = new Map<string, StoredSecret>();
  writes = 0;
  /** Every mutation, in order, shared with the keys (`update`, `add-version`, `destroy`, `disable`, `key-delete`, ...). */
  readonly log: string[] = [];
  private etag = 0;

  add(
    secretId: string,
    labels: Record<string, string>,
    annotations: Record<string, string>,
    payloads: string[] = [],
    aliases: Record<string, number> = {},
  ): string {
    const name = `projects/42/secrets/${secretId}`;
    this.secrets.set(name, {
      info: { name, secretId, labels, annotations, aliases, etag: this.nextEtag() },
      versions: payloads.map((p) => ({ state: 'ENABLED' as const, data: Buffer.from(p) })),
    });
    return name;
  }

  secret(name: string): StoredSecret {
    const s = this.secrets.get(name);
    if (!s) throw new NotFoundError('not found', { reason: 'SECRET_NOT_FOUND' });
    return s;
  }

  /** The payload `current` resolves to, as consumers read it. */
  currentPayload(name: string): string | undefined {
    const s = this.secret(name);
    const n = s.info.aliases.current;
    const v = n === undefined ? undefined : s.versions[n - 1];
    return v?.state === 'ENABLED' ? v.data?.toString() : undefined;
  }

  private nextEtag(): string {
    return `"e${++this.etag}"`;
  }

  private copy(s: StoredSecret): SecretInfo {
    return structuredClone(s.info);
  }

  private version(versionName: string): { s: StoredSecret; n: number } {
    const [secretName, ref] = versionName.split('/versions/');
    const s = this.secret(secretName);
    const n = /^\d+$/.test(ref) ? Number(ref) : s.info.aliases[ref];
    if (n === undefined || !s.versions[n - 1])
      throw new NotFoundError('no version', { reason: 'SECRET_NOT_FOUND' });
    return { s, n };
  }

  async list(_projectId: string, filter: string): Promise<SecretInfo[]> {
    await tick();
    const [k, v] = filter.replace(/^labels\./, '').split('=');
    return [...this.secrets.values()].filter((s) => s.info.labels[k] === v).map((s) => this.copy(s));
  }

  async get(name: string): Promise<SecretInfo> {
    await tick();
    return this.copy(this.secret(name));
  }

  async update(
    name: string,
    update: { annotations: Record<string, string>; aliases?: Record<string, number> },
    etag: string,
  ): Promise<SecretInfo> {
    await tick();
    const s = this.secret(name);
    if (s.info.etag !== etag) throw new AbortedError('changed', { reason: 'ETAG_MISMATCH' });
    for (const n of Object.values(update.aliases ?? {}))
      if (!s.versions[n - 1]) throw new Error(`alias to missing version ${n}`);
    s.info = {
      ...s.info,
      annotations: { ...update.annotations },
      ...(update.aliases ? { aliases: { ...update.aliases } } : {}),
      etag: this.nextEtag(),
    };
    this.writes++;
    this.log.push('update');
    return this.copy(s);
  }

  async addVersion(secretName: string, data: Buffer): Promise<VersionInfo> {
    await tick();
    const s = this.secret(secretName);
    s.versions.push({ state: 'ENABLED', data: Buffer.from(data) });
    this.writes++;
    this.log.push('add-version');
    return {
      name: `${secretName}/versions/${s.versions.length}`,
      number: s.versions.length,
      state: 'ENABLED',
    };
  }

  async listVersions(secretName: string): Promise<VersionInfo[]> {
    await tick();
    return this.secret(secretName).versions.map((v, i) => ({
      name: `${secretName}/versions/${i + 1}`,
      number: i + 1,
      state: v.state,
    }));
  }

  async access(versionName: string): Promise<Buffer> {
    await tick();
    const { s, n } = this.version(versionName);
    const v = s.versions[n - 1];
    if (v.state !== 'ENABLED' || !v.data)
      throw new InternalError('not enabled', { reason: 'SECRET_VERSION_NOT_ENABLED' });
    return Buffer.from(v.data);
  }

  private async transition(versionName: string, state: VersionState): Promise<void> {
    await tick();
    const { s, n } = this.version(versionName);
    const v = s.versions[n - 1];
    if (v.state === 'DESTROYED')
      throw new InternalError('destroyed', { reason: 'SECRET_VERSION_NOT_ENABLED' });
    v.state = state;
    if (state === 'DESTROYED') delete v.data;
    this.writes++;
    this.log.push(state === 'DESTROYED' ? 'destroy' : state === 'DISABLED' ? 'disable' : 'enable');
  }

  enable(versionName: string): Promise<void> {
    return this.transition(versionName, 'ENABLED');
  }
  disable(versionName: string): Promise<void> {
    return this.transition(versionName, 'DISABLED');
  }
  destroy(versionName: string): Promise<void> {
    return this.transition(versionName, 'DESTROYED');
  }
}

export type KeyState = 'enabled' | 'disabled' | 'deleted';

/** A credential kind over an in-memory key table. `payload` = `secret:<keyId>`. */
export class FakeKeys implements Credential {
  readonly keys = new Map<string, KeyState>();
  creates = 0;
  failVerify = false;
  refuseCreate: FailedPreconditionError | undefined;
  /** Awaited by every verify before it answers (tests hold a run in its verify step). */
  verifyGate: (() => Promise<void>) | undefined;
  /** The next create makes its key and then fails, as if the run died before recording it. */
  loseNextCreate = false;
  /** Mutations, shared with FakeSecrets by the setup. */
  log: string[] = [];

  /** API keys: the secret each key was made for (keys seeded without one are someone else's). */
  readonly madeFor = new Map<string, string>();
  /** SA keys of another service account: never found under the bound one. */
  readonly otherSa = new Set<string>();

  constructor(
    readonly mode: 'sa' | 'api',
    readonly cap = 10,
  ) {}

  async keyStatus(config: { target: string }, id: string, secretName: string) {
    await tick();
    const state = this.keys.get(id);
    if (state === undefined || state === 'deleted' || this.otherSa.has(id)) return 'absent' as const;
    if (this.mode === 'api')
      return id === config.target.split('/').pop() || this.madeFor.get(id) === secretName
        ? ('enabled' as const)
        : ('foreign' as const);
    return state;
  }

  async holds(_c: unknown, payload: Buffer, id: string) {
    await tick();
    return payload.toString() === `secret:${id}`;
  }

  /** Adds a key made elsewhere (a foreign key, or the one already stored). */
  seed(id = randomBytes(4).toString('hex')): string {
    this.keys.set(id, 'enabled');
    return id;
  }

  live(): string[] {
    return [...this.keys].filter(([, s]) => s !== 'deleted').map(([id]) => id);
  }

  async liveKeys() {
    await tick();
    return this.mode === 'sa' ? this.live() : undefined;
  }

  get retryAdoptsKey() {
    return this.mode === 'api';
  }

  async unrecordedKeys(_c: unknown, keysBefore: readonly string[], known: readonly string[]) {
    await tick();
    if (this.mode === 'api') return [];
    return this.live().filter((id) => !keysBefore.includes(id) && !known.includes(id));
  }

  async checkCapacity() {
    await tick();
    if (this.mode === 'sa' && this.live().length >= this.cap)
      throw new FailedPreconditionError('cap', { reason: 'KEY_CAP' });
  }

  async create(_c: unknown, context: { generation: number; secretName: string }) {
    await tick();
    if (this.refuseCreate) throw this.refuseCreate;
    this.creates++;
    const id = this.mode === 'api' ? `key-g${context.generation}` : randomBytes(4).toString('hex');
    if (!this.keys.has(id)) this.keys.set(id, 'enabled');
    if (this.mode === 'api') this.madeFor.set(id, context.secretName);
    this.log.push('key-create');
    if (this.loseNextCreate) {
      this.loseNextCreate = false;
      throw new Error('connection reset after the key was made');
    }
    return { keyId: id, payload: Buffer.from(`secret:${id}`) };
  }

  keyIdOf(_c: unknown, payload: Buffer) {
    return this.mode === 'sa' ? payload.toString().replace(/^secret:/, '') : undefined;
  }

  async verify(_c: unknown, payload: Buffer) {
    await tick();
    await this.verifyGate?.();
    const id = payload.toString().replace(/^secret:/, '');
    if (this.failVerify || this.keys.get(id) !== 'enabled')
      throw new FailedPreconditionError('did not work', { reason: 'VERIFY_FAILED' });
  }

  async disable(_c: unknown, id: string) {
    await tick();
    this.log.push('key-disable');
    if (this.mode === 'sa' && this.keys.get(id) === 'enabled') this.keys.set(id, 'disabled');
  }

  async delete(_c: unknown, id: string) {
    await tick();
    this.log.push('key-delete');
    if (this.keys.has(id)) this.keys.set(id, 'deleted');
  }
}

export interface RecordedAudit {
  step: string;
  ok: boolean;
  reason: string;
  fields: Record<string, unknown>;
}

export function recordingAudit(): RotationAudit & { entries: RecordedAudit[] } {
  const entries: RecordedAudit[] = [];
  return {
    entries,
    done(step, fields, reason = step) {
      entries.push({ step, ok: true, reason, fields: { ...fields } });
    },
    failed(step, fields, error) {
      entries.push({ step, ok: false, reason: error.reason, fields: { ...fields } });
    },
  };
}

/** A settable clock. */
export function fakeClock(start = Date.parse('2026-03-01T00:00:00Z')) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    set: (ms: number) => {
      now = ms;
    },
  };
}
