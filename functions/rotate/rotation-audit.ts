/** One audit entry per rotation action, through the shared audit log (ids only, never key material). */
import type { AuditContext, AuditEntry, AuditLog } from '../../shared/audit-log.js';
import type { TvsError } from '../../shared/errors.js';
import { HTTP_STATUS } from '../../shared/errors.js';
import { currentRequestTrace } from '../../shared/ops-log.js';
import type { AuditOnlyStep, Step } from './report.js';

/** The ids an entry names; `trigger` is added from the run. */
export type RotationAuditFields = Omit<NonNullable<AuditEntry['rotation']>, 'trigger'>;

export interface RotationAudit {
  done(step: Step | AuditOnlyStep, fields: RotationAuditFields, reason?: string): void;
  failed(step: Step | 'run', fields: RotationAuditFields, error: TvsError): void;
}

/** Writes rotation audit entries to `log`; `runId` ties the entries of one run together. */
export function rotationAudit(
  log: AuditLog,
  runId: string,
  trigger: string,
  now: () => number = Date.now,
): RotationAudit {
  const started = now();
  const base = (fields: RotationAuditFields) => ({
    requestId: runId,
    latencyMs: now() - started,
    rotation: { ...fields, trigger },
  });
  // Issue 16: entries of a run started over HTTP carry that request's trace.
  const context = (): AuditContext | undefined => {
    const t = currentRequestTrace();
    return t ? { trace: t.trace, spanId: t.spanId, traceSampled: t.sampled } : undefined;
  };
  return {
    done(step, fields, reason = step.toUpperCase().replace(/-/g, '_')) {
      log.write(
        { decision: 'done', reason, action: `rotation.${step}`, httpStatus: 200, ...base(fields) },
        context(),
      );
    },
    failed(step, fields, error) {
      log.write(
        {
          decision: 'error',
          reason: error.reason,
          action: `rotation.${step}`,
          httpStatus: HTTP_STATUS[error.code],
          ...(error.detail ? { detail: error.detail } : {}),
          ...base(fields),
        },
        context(),
      );
    },
  };
}
