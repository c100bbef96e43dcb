/**
 * The `verifying` phase: prove the new credential works, then promote it in one
 * compare-and-swap (`current` → new version, `previous` → old version, state → retiring).
 * A credential that does not work is rolled back: its version disabled, the key deleted, the
 * secret back to idle with the old credential untouched and still current.
 */
import { FailedPreconditionError, TvsError } from '../../../shared/errors.js';
import { stateMismatch } from '../credentials/state-mismatch.js';
import type { RotationState } from '../state.js';
import type { StepContext } from './context.js';
import { versionName } from './context.js';
import { mayDeleteNew } from './ownership.js';

export async function verifyAndPromote(ctx: StepContext): Promise<'promoted' | 'rolled-back'> {
  const { session, credential } = ctx;
  const state = session.state;
  const newKey = state.newKey!;
  const newVersion = state.newVersion!;
  const newVersionName = versionName(session.info.name, newVersion);

  let failure: TvsError | undefined;
  let payload: Buffer | undefined;
  try {
    payload = await ctx.secrets.access(newVersionName);
    await credential.verify(session.config, payload);
  } catch (err) {
    // Secret Manager being unreachable says nothing about the credential: try again later.
    if (err instanceof TvsError && err.code === 'UNAVAILABLE' && err.reason === 'SECRET_MANAGER_UNAVAILABLE')
      throw err;
    failure =
      err instanceof TvsError && err.reason === 'VERIFY_FAILED'
        ? err
        : new FailedPreconditionError('The new credential could not be verified.', {
            reason: 'VERIFY_FAILED',
            detail: err instanceof Error ? err.message : 'unknown',
            cause: err,
          });
  }
  if (failure) {
    await rollback(ctx, failure, payload);
    return 'rolled-back';
  }
  // The credential works; promote it only if it is the key the state says this rotation made.
  if (!(await credential.holds(session.config, payload!, newKey)))
    throw stateMismatch(`new-key ${newKey} is not the key in new-version ${newVersion}`);
  ctx.audit.done('verify', ctx.fields({ newKeyId: newKey, version: newVersion }), 'CREDENTIAL_WORKS');
  await ctx.mark('verify');

  const aliases: Record<string, number> = { ...session.info.aliases, current: newVersion };
  if (state.oldVersion !== undefined) aliases.previous = state.oldVersion;
  else delete aliases.previous;
  const retiring = state.currentKey !== undefined || state.oldVersion !== undefined;
  // Fields left undefined are not written (a first rotation has no old key or version to retire).
  const next: RotationState = {
    phase: retiring ? 'retiring' : 'idle',
    generation: state.generation,
    currentKey: newKey,
    oldKey: state.currentKey,
    oldVersion: state.oldVersion,
    rotatedAtMs: ctx.now(),
  };
  await session.save(next, { release: true, aliases });
  ctx.audit.done(
    'promote',
    ctx.fields({
      newKeyId: newKey,
      ...(state.currentKey ? { oldKeyId: state.currentKey } : {}),
      version: newVersion,
    }),
    'PROMOTED',
  );
  await ctx.mark('promote');
  return 'promoted';
}

async function rollback(ctx: StepContext, failure: TvsError, payload: Buffer | undefined): Promise<void> {
  const { session, credential } = ctx;
  const state = session.state;
  // The key first, while its version still proves it ours; a crash after it resumes here.
  // Each destructive call right after re-asserting the claim: if a newer run took the secret over
  // while this one was verifying (and maybe promoted this very key), the swap loses and nothing goes.
  if (state.newKey && (await mayDeleteNew(ctx, state.newKey, payload)) === 'act') {
    await session.reassert();
    await credential.delete(session.config, state.newKey);
  }
  const versions = await ctx.secrets.listVersions(session.info.name);
  const version = versions.find((v) => v.number === state.newVersion);
  if (version?.state === 'ENABLED' && session.info.aliases.current !== version.number) {
    await session.reassert();
    await ctx.secrets.disable(version.name);
  }
  // Back to idle as before the rotation (fields left undefined are not written).
  await session.save(
    {
      phase: 'idle',
      generation: state.generation,
      currentKey: state.currentKey,
      rotatedAtMs: state.rotatedAtMs,
      lastError: failure.reason,
    },
    { release: true },
  );
  ctx.audit.failed(
    'rollback',
    ctx.fields({
      ...(state.newKey ? { newKeyId: state.newKey } : {}),
      ...(state.newVersion ? { version: state.newVersion } : {}),
    }),
    failure,
  );
  await ctx.mark('rollback');
}
