/**
 * A sweep: every managed secret (found by label) and every secret the deploy-time binding names,
 * or the named ones, reconciled one after another. One failing secret does not stop the others.
 * A labelled secret outside the binding is refused (`NOT_IN_BINDING`, in the reconcile); a bound
 * secret that Secret Manager does not list as managed is reported (`BOUND_SECRET_MISSING`).
 */
import { NotFoundError, TvsError } from '../../shared/errors.js';
import type { SecretInfo } from '../../shared/gcp/secret-admin.js';
import { bindingRefusal } from './binding-check.js';
import { reconcileSecret, type ReconcileDeps, type ReconcileOptions } from './reconcile-secret.js';
import type { RunReport, SecretReport } from './report.js';
import { MANAGED_FILTER, MANAGED_LABEL } from './state.js';

export interface SweepRequest extends Omit<ReconcileOptions, 'eventTimeMs'> {
  /** Secret ids or names to consider; all managed secrets when absent. */
  secrets?: readonly string[];
}

const shortId = (nameOrId: string): string => nameOrId.split('/').pop() ?? nameOrId;

export function isManaged(secret: SecretInfo): boolean {
  return secret.labels[MANAGED_LABEL] === 'true';
}

function failed(secret: string, err: unknown, reason: string): SecretReport {
  const error = err instanceof TvsError ? err : undefined;
  return {
    secret,
    outcome: 'failed',
    actions: [],
    error: {
      code: error?.code ?? 'INTERNAL',
      reason: error?.reason ?? reason,
      message: error?.message ?? 'Internal error.',
    },
  };
}

/** Runs one sweep over the project's managed secrets. */
export async function sweep(
  deps: ReconcileDeps & { projectId: string },
  request: SweepRequest = {},
): Promise<RunReport> {
  const { secrets: wanted, ...options } = request;
  let managed: SecretInfo[];
  try {
    managed = (await deps.secrets.list(deps.projectId, MANAGED_FILTER)).filter(isManaged);
  } catch (err) {
    return {
      runId: deps.owner,
      dryRun: options.dryRun === true,
      ok: false,
      secrets: [failed('*', err, 'LIST_FAILED')],
    };
  }
  const reports: SecretReport[] = [];
  const missing = (id: string): SecretReport => {
    const error = bindingRefusal(
      'BOUND_SECRET_MISSING',
      'The rotation binding names a secret that does not exist or lacks the managed label.',
      `secret ${id}`,
    );
    deps.audit.failed('run', { secret: id }, error);
    return failed(id, error, error.reason);
  };
  const ids = wanted
    ? [...new Set(wanted.map(shortId))]
    : [...new Set([...managed.map((s) => s.secretId), ...deps.bindings.keys()])].sort();
  for (const id of ids) {
    const secret = managed.find((s) => s.secretId === id);
    if (secret) reports.push(await reconcileSecret(deps, secret, options));
    else if (deps.bindings.has(id)) reports.push(missing(id));
    else
      reports.push(
        failed(
          id,
          new NotFoundError('No managed secret with this id.', { reason: 'NOT_MANAGED' }),
          'NOT_MANAGED',
        ),
      );
  }
  return {
    runId: deps.owner,
    dryRun: options.dryRun === true,
    ok: reports.every((r) => r.outcome !== 'failed' && r.outcome !== 'rolled-back'),
    secrets: reports,
  };
}
