/**
 * Checks the rotation state against the binding before anything is disabled or deleted. The
 * state lives in annotations anyone with `secretmanager.secrets.update` may rewrite, so a key id
 * it names is acted on only when the binding and the secret's own versions back it:
 * - every key is looked up under the bound target (an SA key of another SA is not found there);
 * - an API key must be the bound key or carry this secret in its owner annotation;
 * - an enabled SA key is disabled only when the old version holds it and `current` does not;
 * - an SA key is deleted only once disabled (the rotator disables a grace period first), and no
 *   key is deleted while the version `current` names holds it (an operator's rollback);
 * - a new key is rolled back only when its version holds it and no aliased version does;
 * - a version `current` or `previous` names is never destroyed, nor the key it holds deleted.
 * Otherwise the run stops with `STATE_MISMATCH` and nothing is touched.
 */
import { TvsError } from '../../../shared/errors.js';
import { stateMismatch } from '../credentials/state-mismatch.js';
import type { StepContext } from './context.js';
import { versionName } from './context.js';

/** `act` on the key, or `gone`: no live key of the bound target has this id (nothing to do). */
export type Verdict = 'act' | 'gone';

/** A version's payload, or undefined when it cannot be read (disabled, destroyed, missing). */
export async function payloadOf(ctx: StepContext, version: number | undefined): Promise<Buffer | undefined> {
  if (version === undefined) return undefined;
  try {
    return await ctx.secrets.access(versionName(ctx.session.info.name, version));
  } catch (err) {
    if (err instanceof TvsError && err.code !== 'UNAVAILABLE' && err.code !== 'DEADLINE_EXCEEDED')
      return undefined;
    throw err;
  }
}

async function heldBy(ctx: StepContext, version: number | undefined, keyId: string): Promise<boolean> {
  const payload = await payloadOf(ctx, version);
  return payload !== undefined && (await ctx.credential.holds(ctx.session.config, payload, keyId));
}

/** The version numbers consumers are pointed at (`current`, `previous`): never destroyed by the rotator. */
export function aliasedVersions(ctx: StepContext): Set<number> {
  const { aliases } = ctx.session.info;
  return new Set([aliases.current, aliases.previous].filter((n): n is number => n !== undefined));
}

/** Throws `STATE_MISMATCH` when a version `current` or `previous` names holds `keyId` (a key in use). */
export async function refuseIfInUse(ctx: StepContext, keyId: string, role: string): Promise<void> {
  for (const version of aliasedVersions(ctx)) {
    if (await heldBy(ctx, version, keyId))
      throw stateMismatch(`${role} ${keyId} is the key version ${version} holds, which an alias names`);
  }
}

/** Throws `STATE_MISMATCH` when `keyId` is a live key the secret does not own; else its status. */
export async function status(ctx: StepContext, keyId: string, role: string) {
  const found = await ctx.credential.keyStatus(ctx.session.config, keyId, ctx.session.info.name);
  if (found === 'foreign')
    throw stateMismatch(`${role} ${keyId} is not a key of the bound target made for this secret`);
  return found;
}

/** May the retiring step disable `keyId`, the state's old key? */
export async function mayDisableOld(ctx: StepContext, keyId: string): Promise<Verdict> {
  const found = await status(ctx, keyId, 'old-key');
  if (found !== 'enabled' || ctx.session.config.kind !== 'sa-key') return found === 'absent' ? 'gone' : 'act';
  const { state, info } = ctx.session;
  if (!(await heldBy(ctx, state.oldVersion, keyId)))
    throw stateMismatch(`old-key ${keyId} is not the key in old-version ${state.oldVersion ?? '(none)'}`);
  if (await heldBy(ctx, info.aliases.current, keyId))
    throw stateMismatch(`old-key ${keyId} is the key the current version holds`);
  return 'act';
}

/** May the purging step delete `keyId`, the state's old key? */
export async function mayDeleteOld(ctx: StepContext, keyId: string): Promise<Verdict> {
  if (keyId === ctx.session.state.currentKey) throw stateMismatch(`old-key ${keyId} is the current key`);
  const found = await status(ctx, keyId, 'old-key');
  if (found === 'absent') return 'gone';
  if (found === 'enabled' && ctx.session.config.kind === 'sa-key')
    throw stateMismatch(
      `old-key ${keyId} is enabled: the rotator deletes only keys it disabled a grace period before`,
    );
  // An operator who rolled back by pointing `current` at the old version keeps a working credential.
  const { info } = ctx.session;
  if (await heldBy(ctx, info.aliases.current, keyId))
    throw stateMismatch(`old-key ${keyId} is the key the current version holds`);
  return 'act';
}

/**
 * May a rollback delete `keyId`, the state's new key, given the payload of its version (read
 * while still enabled)? A key its version does not hold is left alone.
 */
export async function mayDeleteNew(
  ctx: StepContext,
  keyId: string,
  payload: Buffer | undefined,
): Promise<Verdict> {
  const found = await status(ctx, keyId, 'new-key');
  if (found === 'absent') return 'gone';
  await refuseIfInUse(ctx, keyId, 'new-key');
  if (payload === undefined || !(await ctx.credential.holds(ctx.session.config, payload, keyId))) {
    throw stateMismatch(
      `new-key ${keyId} is not the key in new-version ${ctx.session.state.newVersion ?? '(none)'}`,
    );
  }
  return 'act';
}
