/**
 * Claiming a secret. From idle this starts a rotation: the generation advances and the run
 * records what exists now (the versions and, for SA keys, the live keys), so that whatever a
 * crashed run leaves behind can later be told apart and removed. Otherwise the claim is a lease
 * to resume or advance the rotation in progress.
 */
import { randomBytes } from 'node:crypto';
import { TvsError } from '../../../shared/errors.js';
import type { StepContext } from './context.js';
import { versionName } from './context.js';

/** 128 random bits, lowercase hex: recorded before anything is created. */
export const newNonce = (): string => randomBytes(16).toString('hex');

export async function claim(ctx: StepContext): Promise<void> {
  const { session } = ctx;
  const state = session.state;
  if (state.phase !== 'idle') {
    await session.save(state);
    ctx.audit.done('claim', ctx.fields(), 'RESUMED');
    await ctx.mark('claim');
    return;
  }
  const versions = await ctx.secrets.listVersions(session.info.name);
  const baseVersion = versions.reduce((max, v) => Math.max(max, v.number), 0);
  const currentVersion =
    session.info.aliases.current ?? [...versions].reverse().find((v) => v.state === 'ENABLED')?.number;
  const currentKey =
    state.currentKey ?? (currentVersion === undefined ? undefined : await adoptKeyId(ctx, currentVersion));
  const keysBefore = await ctx.credential.liveKeys(session.config);
  await session.save({
    phase: 'creating',
    generation: state.generation + 1,
    nonce: newNonce(),
    ...(currentKey ? { currentKey } : {}),
    ...(keysBefore ? { keysBefore } : {}),
    baseVersion,
    // Numbers or undefined: the state encoding leaves an undefined field out.
    oldVersion: currentVersion,
    rotatedAtMs: state.rotatedAtMs,
  });
  // The audit fields name the phase just saved (creating).
  ctx.audit.done('claim', ctx.fields(currentKey ? { keyId: currentKey } : {}), 'ROTATION_STARTED');
  await ctx.mark('claim');
}

/**
 * The key id of a version the rotator did not write itself (first rotation of a secret):
 * from the key file for SA keys, else the configured target key.
 */
async function adoptKeyId(ctx: StepContext, version: number): Promise<string | undefined> {
  const { config } = ctx.session;
  if (config.kind === 'api-key') return config.target.split('/').pop();
  try {
    return ctx.credential.keyIdOf(
      config,
      await ctx.secrets.access(versionName(ctx.session.info.name, version)),
    );
  } catch (err) {
    // An unreadable current version (disabled, say) has no key to retire.
    if (err instanceof TvsError && (err.code === 'INTERNAL' || err.code === 'NOT_FOUND')) return undefined;
    throw err;
  }
}
