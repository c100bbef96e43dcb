/**
 * The `creating` phase: clear what a crashed run provably left (`leftovers.ts`), check that a
 * key can be created, create it and record its id at once (before anything else: an unrecorded
 * key is never deleted), store it as a new version, record that. Every part is safe to redo.
 */
import { TvsError } from '../../../shared/errors.js';
import type { StepContext } from './context.js';
import { newNonce } from './claim.js';
import { clearLeftovers } from './leftovers.js';
import { status } from './ownership.js';

/** Refusals that will not change by retrying: the rotation returns to idle (nothing was created). */
function isDefiniteRefusal(err: unknown): boolean {
  return (
    err instanceof TvsError &&
    ['FAILED_PRECONDITION', 'PERMISSION_DENIED', 'INVALID_ARGUMENT'].includes(err.code)
  );
}

export async function create(ctx: StepContext): Promise<void> {
  const { session, credential } = ctx;
  const { config } = session;
  // A rotation claimed before nonces existed gets one now, recorded before anything is created.
  if (!session.state.nonce) await session.save({ ...session.state, nonce: newNonce() });
  const nonce = session.state.nonce!;
  await clearLeftovers(ctx);
  const state = session.state;

  let created;
  try {
    // New API keys copy the current key's restrictions: it must be a key this secret owns.
    if (state.currentKey) await status(ctx, state.currentKey, 'current-key');
    await credential.checkCapacity(config);
    created = await credential.create(config, {
      secretId: session.secretId,
      secretName: session.info.name,
      generation: state.generation,
      nonce,
      currentKey: state.currentKey,
    });
  } catch (err) {
    if (isDefiniteRefusal(err)) {
      // Nothing was created: give the secret back as it was, with the reason (fields left
      // undefined are not written).
      await session.save(
        {
          phase: 'idle',
          generation: state.generation,
          currentKey: state.currentKey,
          rotatedAtMs: state.rotatedAtMs,
          lastError: (err as TvsError).reason,
        },
        { release: true },
      );
    }
    throw err;
  }
  // Recorded before the version is stored: only a recorded key is ever deleted as this run's.
  await session.save({ ...state, newKey: created.keyId });
  ctx.audit.done('create', ctx.fields({ newKeyId: created.keyId }), 'KEY_CREATED');
  await ctx.mark('create');

  const version = await ctx.secrets.addVersion(session.info.name, created.payload);
  ctx.audit.done('store', ctx.fields({ newKeyId: created.keyId, version: version.number }), 'VERSION_ADDED');
  await ctx.mark('store');

  await session.save({
    ...session.state,
    phase: 'verifying',
    newKey: created.keyId,
    newVersion: version.number,
  });
}
