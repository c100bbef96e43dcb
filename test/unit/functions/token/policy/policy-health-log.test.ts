import { describe, expect, it } from 'vitest';
import { createOpsLog } from '../../../../../shared/ops-log.js';
import { PolicyError } from '../../../../../functions/token/policy/compile-policy.js';
import { policyHealthLog } from '../../../../../functions/token/policy/policy-health-log.js';

function capture() {
  const lines: string[] = [];
  const callbacks = policyHealthLog(
    createOpsLog('token', (line) => lines.push(line)),
    'secret projects/p/secrets/tvs-policy/versions/latest',
    3600,
  );
  return { callbacks, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('policyHealthLog', () => {
  it('writes one structured entry per failed reload, with the stable event the alert filters on', () => {
    const { callbacks, entries } = capture();
    callbacks.onReloadError?.(
      new PolicyError('Invalid policy: rules[0] (name=x).scopes[0]: must be an https scope URL'),
      { lastGoodAgeMs: 301_500, stale: false, consecutiveFailures: 1 },
    );
    callbacks.onReloadError?.(new Error('PERMISSION_DENIED: secretmanager.versions.access'), {
      lastGoodAgeMs: 3_601_000,
      stale: true,
      consecutiveFailures: 12,
    });
    expect(entries()).toEqual([
      {
        severity: 'ERROR',
        component: 'token',
        event: 'policy_reload_failed',
        message: 'policy reload failed; keeping the last good policy',
        source: 'secret projects/p/secrets/tvs-policy/versions/latest',
        lastGoodAgeSeconds: 301,
        maxStalenessSeconds: 3600,
        consecutiveFailures: 1,
        stale: false,
        error: 'PolicyError: Invalid policy: rules[0] (name=x).scopes[0]: must be an https scope URL',
        time: expect.any(String),
      },
      expect.objectContaining({
        severity: 'ERROR',
        event: 'policy_reload_failed',
        stale: true,
        consecutiveFailures: 12,
        message: 'policy reload failed; refusing requests until one succeeds',
      }),
    ]);
  });

  it('marks the start and the end of refusing requests', () => {
    const { callbacks, entries } = capture();
    callbacks.onStaleChange?.(true, { lastGoodAgeMs: 3_601_000, stale: true, consecutiveFailures: 12 });
    callbacks.onStaleChange?.(false, { lastGoodAgeMs: 0, stale: false, consecutiveFailures: 0 });
    expect(entries()).toEqual([
      expect.objectContaining({
        severity: 'CRITICAL',
        event: 'policy_stale',
        message:
          'policy is past its maximum staleness; refusing requests (503 POLICY_STALE) until a reload succeeds',
        lastGoodAgeSeconds: 3601,
        stale: true,
      }),
      expect.objectContaining({
        severity: 'NOTICE',
        event: 'policy_recovered',
        message: 'policy reloaded; serving requests again',
        lastGoodAgeSeconds: 0,
        stale: false,
      }),
    ]);
  });
});
