/**
 * Resuming `creating` after a crashed run: remove what the rotator can prove it made and never
 * finished with, and only that. A version added after the claim is destroyed only if it holds
 * the recorded new key; a recorded new SA key whose material is lost is deleted; any other key
 * that appeared since the claim (an operator's break-glass key, or one a run created and died
 * before recording) is someone else's: reported, never deleted. Each destructive call is made
 * right after re-asserting the claim.
 */
import { stateMismatch } from '../credentials/state-mismatch.js';
import type { StepContext } from './context.js';
import { aliasedVersions, payloadOf, refuseIfInUse, status } from './ownership.js';

export async function clearLeftovers(ctx: StepContext): Promise<void> {
  const { session, credential } = ctx;
  const { config } = session;
  const state = session.state;
  const baseVersion = state.baseVersion ?? 0;

  for (const version of await ctx.secrets.listVersions(session.info.name)) {
    if (version.number <= baseVersion || version.state === 'DESTROYED') continue;
    const payload = version.state === 'ENABLED' ? await payloadOf(ctx, version.number) : undefined;
    const ours =
      state.newKey !== undefined &&
      payload !== undefined &&
      (await credential.holds(config, payload, state.newKey));
    if (!ours) {
      ctx.audit.done('keep-foreign', ctx.fields({ version: version.number }), 'FOREIGN_VERSION_KEPT');
      continue;
    }
    if (aliasedVersions(ctx).has(version.number))
      throw stateMismatch(`version ${version.number} holds new-key ${state.newKey} but an alias names it`);
    await session.reassert();
    await ctx.secrets.destroy(version.name);
    ctx.audit.done(
      'discard-version',
      ctx.fields({ version: version.number, newKeyId: state.newKey }),
      'STRAY_VERSION_DESTROYED',
    );
    await ctx.mark('discard-version');
  }

  const newKey = session.state.newKey;
  if (newKey !== undefined && !credential.retryAdoptsKey) {
    if (newKey === state.currentKey || state.keysBefore?.includes(newKey))
      throw stateMismatch(`new-key ${newKey} existed before this rotation was claimed`);
    if ((await status(ctx, newKey, 'new-key')) !== 'absent') {
      await refuseIfInUse(ctx, newKey, 'new-key');
      await session.reassert();
      await credential.delete(config, newKey);
      ctx.audit.done('delete-orphan', ctx.fields({ keyId: newKey }), 'ORPHAN_KEY_DELETED');
      await ctx.mark('delete-orphan');
    }
    const { newKey: _gone, ...rest } = session.state;
    await session.save(rest);
  }

  const known = [session.state.currentKey, session.state.newKey].filter((k): k is string => k !== undefined);
  for (const keyId of await credential.unrecordedKeys(config, state.keysBefore ?? [], known)) {
    ctx.audit.done('keep-foreign', ctx.fields({ keyId }), 'FOREIGN_KEY_KEPT');
    ctx.foreign(keyId);
  }
}
