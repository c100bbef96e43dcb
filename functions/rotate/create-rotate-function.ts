/**
 * Wires the rotation function from configuration: Secret Manager admin, IAM keys, API Keys,
 * credential kinds, audit log. Used by `index.ts` (Cloud Functions), the local stack and tests.
 */
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { CloudEvent } from '@google-cloud/functions-framework';
import { createAuditLog } from '../../shared/audit-log.js';
import { createApiKeys } from '../../shared/gcp/api-keys.js';
import { googleAuthTransport, type RestTransport } from '../../shared/gcp/google-rest.js';
import { createIamKeys } from '../../shared/gcp/iam-keys.js';
import { createSecretAdmin, type SecretAdmin } from '../../shared/gcp/secret-admin.js';
import { describe } from '../../shared/google-error.js';
import { createOpsLog } from '../../shared/ops-log.js';
import { API_KEY_OPERATION_DEADLINE_MS, type RotateConfig } from '../../shared/rotate-config.js';
import { apiKeyCredential } from './credentials/api-key-credential.js';
import type { Credential } from './credentials/credential.js';
import { saKeyCredential } from './credentials/sa-key-credential.js';
import { parseRotateNotice, RedeliverError, shouldRedeliver } from './event-handler.js';
import { createRotateHttpHandler } from './http-handler.js';
import { createInvokerCheck } from './invoker-check.js';
import { reconcileSecret, stateAfterRun, type ReconcileDeps } from './reconcile-secret.js';
import type { RunReport, SecretReport, Step } from './report.js';
import { rotationAudit } from './rotation-audit.js';
import { healthOutcome, rotationHealth } from './rotation-health.js';
import type { CredentialKind } from './state.js';
import { isManaged, sweep, type SweepRequest } from './sweep.js';

export interface RotateFunctionOverrides {
  auditTransport?: Writable;
  opsLogWrite?: (line: string) => void;
  /** Clock for due dates and grace periods (tests advance it instead of waiting). */
  now?: () => number;
  /** Test hook: throwing after a step simulates a crash there. */
  afterStep?: (step: Step, secretId: string) => void | Promise<void>;
  /** Authenticated transport for IAM / API Keys (default: ADC via google-auth-library). */
  restTransport?: RestTransport;
}

export interface RotateFunction {
  /** The `rotate` HTTP handler. */
  http: ReturnType<typeof createRotateHttpHandler>;
  /** The `rotateOnEvent` CloudEvent handler. */
  event: (cloudEvent: CloudEvent<unknown>) => Promise<SecretReport | undefined>;
  /** One sweep, as the HTTP handler runs it. */
  runSweep(request?: SweepRequest): Promise<RunReport>;
  secrets: SecretAdmin;
  flushAudit(): Promise<void>;
}

export function createRotateFunction(
  config: RotateConfig,
  overrides: RotateFunctionOverrides = {},
): RotateFunction {
  const log = createOpsLog('rotate', overrides.opsLogWrite);
  const now = overrides.now ?? Date.now;
  const transport = overrides.restTransport ?? googleAuthTransport({ projectId: config.projectId });
  const call = { deadlineMs: config.upstreamDeadlineMs, timeoutMs: config.upstreamDeadlineMs };
  const secrets = createSecretAdmin(config.secretManagerEndpoint, { timeoutMs: config.upstreamDeadlineMs });
  const credentials: Record<CredentialKind, Credential> = {
    'sa-key': saKeyCredential({
      iam: createIamKeys({ baseUrl: config.iamUrl, transport, call }),
      tokenUriAllowlist: config.tokenUriAllowlist,
      verifyDeadlineMs: config.verifyDeadlineMs,
      attemptTimeoutMs: config.upstreamDeadlineMs,
    }),
    'api-key': apiKeyCredential({
      apiKeys: createApiKeys({
        baseUrl: config.apiKeysUrl,
        transport,
        call,
        operationDeadlineMs: API_KEY_OPERATION_DEADLINE_MS,
      }),
      geminiUrl: config.geminiUrl,
      verifyDeadlineMs: config.verifyDeadlineMs,
      attemptTimeoutMs: config.upstreamDeadlineMs,
    }),
  };
  const audit = createAuditLog({
    logName: config.auditLogName,
    projectId: config.projectId,
    transport: overrides.auditTransport,
  });

  const depsFor = (trigger: string): ReconcileDeps & { projectId: string } => {
    const owner = randomBytes(6).toString('hex');
    return {
      secrets,
      credentials,
      now,
      owner,
      claimTtlMs: config.claimTtlMs,
      projectId: config.projectId,
      bindings: config.bindings,
      audit: rotationAudit(audit, owner, trigger, now),
      ...(overrides.afterStep ? { afterStep: overrides.afterStep } : {}),
    };
  };

  const writeHealth = (report: SecretReport): void => {
    const binding = config.bindings.get(report.secret);
    if (binding === undefined) return; // not a managed secret of this deployment ('*', NOT_MANAGED)
    const { severity, fields } = rotationHealth(
      `projects/${config.projectId}/secrets/${report.secret}`,
      stateAfterRun(report),
      binding,
      now(),
      healthOutcome(report),
      config.claimTtlMs,
      report.error ? { code: report.error.code, reason: report.error.reason } : undefined,
    );
    log(severity, 'rotation health', { ...fields });
  };

  const runSweep = async (request: SweepRequest = {}): Promise<RunReport> => {
    const report = await sweep(depsFor(request.dryRun ? 'dry-run' : 'sweep'), request);
    for (const s of report.secrets) writeHealth(s); // issue 16: one rotation_health per secret
    log(report.ok ? 'INFO' : 'ERROR', 'rotation sweep finished', {
      runId: report.runId,
      dryRun: report.dryRun,
      outcomes: report.secrets.map((s) => `${s.secret}:${s.outcome}`),
    });
    return report;
  };

  const event = async (cloudEvent: CloudEvent<unknown>): Promise<SecretReport | undefined> => {
    const notice = parseRotateNotice(cloudEvent.data, config.projectId);
    if (notice.kind === 'ignore') {
      log('INFO', 'notification ignored', { reason: notice.reason, eventId: cloudEvent.id });
      return undefined;
    }
    let secret;
    try {
      secret = await secrets.get(notice.secretName);
    } catch (err) {
      log('ERROR', 'cannot read the announced secret', { secret: notice.secretName, error: describe(err) });
      throw new RedeliverError('The secret could not be read; deliver again.', {
        reason: 'SECRET_UNREADABLE',
        cause: err,
      });
    }
    if (!isManaged(secret)) {
      log('INFO', 'notification for an unmanaged secret ignored', { secret: secret.secretId });
      return undefined;
    }
    const report = await reconcileSecret(depsFor('event'), secret, { eventTimeMs: notice.timeMs });
    writeHealth(report); // issue 16
    log(report.outcome === 'failed' ? 'ERROR' : 'INFO', 'rotation notice handled', {
      secret: report.secret,
      outcome: report.outcome,
      eventId: cloudEvent.id,
      ...(report.error ? { reason: report.error.reason } : {}),
    });
    if (shouldRedeliver(report))
      throw new RedeliverError('Rotation failed transiently; deliver again.', {
        reason: report.error!.reason,
      });
    return report;
  };

  const authorize = createInvokerCheck({
    audiences: config.invokers.audiences,
    invokers: config.invokers.emails,
    googleJwksUrl: config.invokers.googleJwksUrl,
    // Real time, not `now`: tests move the rotation clock by days, but ID tokens live in real time.
    clockToleranceSeconds: config.invokers.clockSkewSeconds,
  });
  const http = createRotateHttpHandler({
    projectId: config.projectId,
    run: runSweep,
    authorize,
    onRefused: (error) =>
      log('WARNING', 'rotate call refused', {
        reason: error.reason,
        ...(error.detail ? { detail: error.detail } : {}),
      }),
  });

  return { http, event, runSweep, secrets, flushAudit: () => audit.flush() };
}
