/**
 * The policy's health in the operational log, with a stable `event` field alerts filter on
 * (`jsonPayload.event` in Cloud Logging): `policy_reload_failed` for every failed re-read,
 * `policy_stale` when requests start being refused, `policy_recovered` when a re-read ends that.
 * Entries name the source and the error (which names rule and field), never policy text.
 */
import { describe } from '../../../shared/google-error.js';
import type { OpsLog } from '../../../shared/ops-log.js';
import type { PolicyProviderOptions, PolicyStatus } from './policy-provider.js';

export const POLICY_EVENTS = {
  reloadFailed: 'policy_reload_failed',
  stale: 'policy_stale',
  recovered: 'policy_recovered',
} as const;

/** The provider's `onReloadError` / `onStaleChange` callbacks, writing to `log`. */
export function policyHealthLog(
  log: OpsLog,
  source: string,
  maxStalenessSeconds: number,
): Pick<PolicyProviderOptions, 'onReloadError' | 'onStaleChange'> {
  const fields = (status: PolicyStatus) => ({
    source,
    lastGoodAgeSeconds: Math.floor(status.lastGoodAgeMs / 1000),
    maxStalenessSeconds,
    consecutiveFailures: status.consecutiveFailures,
    stale: status.stale,
  });
  return {
    onReloadError: (err, status) =>
      log(
        'ERROR',
        status.stale
          ? 'policy reload failed; refusing requests until one succeeds'
          : 'policy reload failed; keeping the last good policy',
        {
          event: POLICY_EVENTS.reloadFailed,
          ...fields(status),
          error: describe(err),
        },
      ),
    onStaleChange: (stale, status) =>
      stale
        ? log(
            'CRITICAL',
            'policy is past its maximum staleness; refusing requests (503 POLICY_STALE) until a reload succeeds',
            { event: POLICY_EVENTS.stale, ...fields(status) },
          )
        : log('NOTICE', 'policy reloaded; serving requests again', {
            event: POLICY_EVENTS.recovered,
            ...fields(status),
          }),
  };
}
