/**
 * The `creating` phase: clear what a crashed run may have left (versions added after the claim
 * and never recorded; SA keys created after the claim and never stored), check that a key can
 * be created, create it, store it as a new version, record both. Every part is safe to redo.
 */
import { TvsError } from '../../../shared/errors.js';
import type { StepContext } from './context.js';
import { newNonce } from './claim.js';
import { status } from './ownership.js';

/** Refusals that will not change by retrying: the rotation returns to idle (nothing was created). */
function isDefiniteRefusal(err: unknown): boolean {
  return err instanceof TvsError && ['FAILED_PRECONDITION', 'PERMISSION_DENIED', 'INVALID_ARGUMENT'].includes(err.code);
}

export async function create(ctx: StepContext): Promise<void> {
  const { session, credential } = ctx;
  const { config } = session;
  // A rotation claimed before nonces existed gets one now, recorded before anything is created.
  if (!session.state.nonce) await session.save({ ...session.state, nonce: newNonce() });
  const state = session.state;
  const nonce = state.nonce!;
  const baseVersion = state.baseVersion ?? 0;

  for (const version of await ctx.secrets.listVersions(session.info.name)) {
    if (version.number <= baseVersion || version.state === 'DESTROYED') continue;
    await ctx.secrets.destroy(version.name);
    ctx.audit.done('discard-version', ctx.fields({ version: version.number }), 'STRAY_VERSION_DESTROYED');
    await ctx.mark('discard-version');
  }
  const orphans = await credential.deleteOrphans(config, state.keysBefore ?? [], state.currentKey ? [state.currentKey] : []);
  for (const keyId of orphans) {
    ctx.audit.done('delete-orphan', ctx.fields({ keyId }), 'ORPHAN_KEY_DELETED');
    await ctx.mark('delete-orphan');
  }

  let created;
  try {
    // New API keys copy the current key's restrictions: it must be a key this secret owns.
    if (state.currentKey) await status(ctx, state.currentKey, 'current-key');
    await credential.checkCapacity(config);
    created = await credential.create(config, { secretId: session.secretId, secretName: session.info.name, generation: state.generation, nonce, currentKey: state.currentKey });
  } catch (err) {
    if (isDefiniteRefusal(err)) {
      // Nothing was created: give the secret back as it was, with the reason.
      await session.save({
        phase: 'idle',
        generation: state.generation,
        ...(state.currentKey ? { currentKey: state.currentKey } : {}),
        ...(state.rotatedAtMs !== undefined ? { rotatedAtMs: state.rotatedAtMs } : {}),
        lastError: (err as TvsError).reason,
      }, { release: true });
    }
    throw err;
  }
  ctx.audit.done('create', ctx.fields({ newKeyId: created.keyId }), 'KEY_CREATED');
  await ctx.mark('create');

  const version = await ctx.secrets.addVersion(session.info.name, created.payload);
  ctx.audit.done('store', ctx.fields({ newKeyId: created.keyId, version: version.number }), 'VERSION_ADDED');
  await ctx.mark('store');

  await session.save({ ...state, phase: 'verifying', newKey: created.keyId, newVersion: version.number });
}
