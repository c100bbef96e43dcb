/**
 * Retiring the old credential after promotion (each destructive call right after re-asserting
 * the claim, and only on keys `ownership.ts` accepts), each step only once its grace period is over
 * (longer than any token minted from the old key can live): first disable the old key and its
 * version (`retiring` → `purging`), then delete the key (API keys: soft delete) and destroy the
 * version (`purging` → `idle`).
 */
import type { StepContext } from './context.js';
import { versionName } from './context.js';
import { mayDeleteOld, mayDisableOld } from './ownership.js';

export async function disableOld(ctx: StepContext): Promise<void> {
  const { session } = ctx;
  const state = session.state;
  const verdict = state.oldKey ? await mayDisableOld(ctx, state.oldKey) : undefined;
  if (state.oldKey && verdict === 'act') {
    await session.reassert();
    await ctx.credential.disable(session.config, state.oldKey);
  }
  if (state.oldVersion !== undefined) {
    const version = (await ctx.secrets.listVersions(session.info.name)).find(
      (v) => v.number === state.oldVersion,
    );
    if (version?.state === 'ENABLED' && session.info.aliases.current !== state.oldVersion) {
      await session.reassert();
      await ctx.secrets.disable(version.name);
    }
  }
  ctx.audit.done(
    'disable',
    ctx.fields({
      ...(state.oldKey ? { oldKeyId: state.oldKey } : {}),
      ...(state.oldVersion !== undefined ? { version: state.oldVersion } : {}),
    }),
    verdict === 'gone' ? 'OLD_KEY_ALREADY_GONE' : 'OLD_CREDENTIAL_DISABLED',
  );
  await ctx.mark('disable');
  await session.save({ ...state, phase: 'purging', disabledAtMs: ctx.now() });
}

export async function deleteOld(ctx: StepContext): Promise<void> {
  const { session } = ctx;
  const state = session.state;
  const verdict = state.oldKey ? await mayDeleteOld(ctx, state.oldKey) : undefined;
  if (state.oldKey && verdict === 'act') {
    await session.reassert();
    await ctx.credential.delete(session.config, state.oldKey);
  }
  if (state.oldVersion !== undefined) {
    if (session.info.aliases.previous !== undefined) {
      // Drop the alias first: an alias must not name a destroyed version.
      const aliases = { ...session.info.aliases };
      delete aliases.previous;
      await session.save(state, { aliases });
    }
    const version = (await ctx.secrets.listVersions(session.info.name)).find(
      (v) => v.number === state.oldVersion,
    );
    if (version && version.state !== 'DESTROYED' && session.info.aliases.current !== state.oldVersion) {
      await session.reassert();
      await ctx.secrets.destroy(versionName(session.info.name, state.oldVersion));
    }
  }
  ctx.audit.done(
    'delete',
    ctx.fields({
      ...(state.oldKey ? { oldKeyId: state.oldKey } : {}),
      ...(state.oldVersion !== undefined ? { version: state.oldVersion } : {}),
    }),
    verdict === 'gone' ? 'OLD_KEY_ALREADY_GONE' : 'OLD_CREDENTIAL_DELETED',
  );
  await ctx.mark('delete');
  // Whatever the (editable) state said, a rotation ends with one key in use: report any other live
  // key of the bound target (a key whose retirement someone suppressed by editing the state, or an
  // operator's break-glass key), so it cannot linger unseen.
  for (const keyId of await ctx.credential.unrecordedKeys(
    session.config,
    [],
    state.currentKey ? [state.currentKey] : [],
  )) {
    ctx.audit.done('keep-foreign', ctx.fields({ keyId }), 'FOREIGN_KEY_KEPT');
    ctx.foreign(keyId);
  }
  await session.save(
    {
      phase: 'idle',
      generation: state.generation,
      ...(state.currentKey ? { currentKey: state.currentKey } : {}),
      ...(state.rotatedAtMs !== undefined ? { rotatedAtMs: state.rotatedAtMs } : {}),
    },
    { release: true },
  );
}
