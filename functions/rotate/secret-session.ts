/**
 * One run's view of one managed secret: its parsed config and state, the etag it was read at,
 * and compare-and-swap writes of the state (with the run's claim renewed on every write).
 * A lost compare-and-swap means someone else moved the secret: the session re-reads it and the
 * caller either continues from the new state or reports the secret busy.
 */
import { TvsError } from '../../shared/errors.js';
import type { SecretAdmin, SecretInfo } from '../../shared/gcp/secret-admin.js';
import { parseRotationState, withRotationState, type RotationConfig, type RotationState } from './state.js';

/** Thrown when another run holds the secret's claim. */
export class BusyError extends Error {
  override readonly name = 'BusyError';
  constructor(
    readonly owner: string,
    readonly untilMs: number,
  ) {
    super(`claimed by run ${owner}`);
  }
}

/** Thrown when a compare-and-swap lost: the session has re-read the secret. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

export interface SessionDeps {
  secrets: SecretAdmin;
  now: () => number;
  /** This run's id. */
  owner: string;
  claimTtlMs: number;
}

export class SecretSession {
  info: SecretInfo;
  state: RotationState;
  readonly config: RotationConfig;

  /** `config` is the secret's deploy-time binding, already checked against its metadata. */
  constructor(
    private readonly deps: SessionDeps,
    info: SecretInfo,
    config: RotationConfig,
  ) {
    this.info = info;
    this.config = config;
    this.state = parseRotationState(info.annotations);
  }

  get secretId(): string {
    return this.info.secretId;
  }

  /** True while this run holds an unexpired claim. */
  holdsClaim(): boolean {
    const claim = this.state.claim;
    return claim !== undefined && claim.owner === this.deps.owner && claim.expiresAtMs > this.deps.now();
  }

  /** Throws `BusyError` if another run holds an unexpired claim. */
  assertNotClaimedByOther(): void {
    const claim = this.state.claim;
    if (claim && claim.owner !== this.deps.owner && claim.expiresAtMs > this.deps.now())
      throw new BusyError(claim.owner, claim.expiresAtMs);
  }

  /**
   * Writes `next` as the state if the secret is unchanged since it was read. The claim is
   * renewed unless `release` (then it is dropped). `aliases` replaces the version aliases.
   */
  async save(
    next: RotationState,
    options: { release?: boolean; aliases?: Record<string, number> } = {},
  ): Promise<void> {
    const state: RotationState = { ...next };
    if (options.release) delete state.claim;
    else state.claim = { owner: this.deps.owner, expiresAtMs: this.deps.now() + this.deps.claimTtlMs };
    const annotations = withRotationState(this.info.annotations, state);
    try {
      this.info = await this.deps.secrets.update(
        this.info.name,
        { annotations, ...(options.aliases ? { aliases: options.aliases } : {}) },
        this.info.etag,
      );
    } catch (err) {
      if (err instanceof TvsError && err.reason === 'ETAG_MISMATCH') {
        await this.reload();
        this.assertNotClaimedByOther();
        throw new ConflictError(`secret ${this.secretId} changed concurrently`, { cause: err });
      }
      throw err;
    }
    this.state = parseRotationState(this.info.annotations);
  }

  /**
   * Re-asserts this run's claim right before a destructive call: a compare-and-swap of the
   * unchanged state that renews the lease. If any other run moved the secret since this one read
   * it (its claim expired and a newer run took over), the swap loses: `ConflictError` or
   * `BusyError`, and the caller re-reads instead of acting on a stale view.
   */
  async reassert(): Promise<void> {
    await this.save(this.state);
  }

  /** Re-reads the secret. */
  async reload(): Promise<void> {
    this.info = await this.deps.secrets.get(this.info.name);
    this.state = parseRotationState(this.info.annotations);
  }
}
