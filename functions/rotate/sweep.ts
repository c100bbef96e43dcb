/**
 * A sweep: every managed secret (found by label, the only inventory), or the named ones,
 * reconciled one after another. One failing secret does not stop the others.
 */
import { NotFoundError, TvsError } from '../../shared/errors.js';
import type { SecretInfo } from '../../shared/gcp/secret-admin.js';
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
  return { secret, outcome: 'failed', actions: [], error: { code: error?.code ?? 'INTERNAL', reason: error?.reason ?? reason, message: error?.message ?? 'Internal error.' } };
}

/** Runs one sweep over the project's managed secrets. */
export async function sweep(deps: ReconcileDeps & { projectId: string }, request: SweepRequest = {}): Promise<RunReport> {
  const { secrets: wanted, ...options } = request;
  let managed: SecretInfo[];
  try {
    managed = (await deps.secrets.list(deps.projectId, MANAGED_FILTER)).filter(isManaged);
  } catch (err) {
    return { runId: deps.owner, dryRun: options.dryRun === true, ok: false, secrets: [failed('*', err, 'LIST_FAILED')] };
  }
  const reports: SecretReport[] = [];
  if (wanted) {
    for (const id of new Set(wanted.map(shortId))) {
      const secret = managed.find((s) => s.secretId === id);
      if (!secret) reports.push(failed(id, new NotFoundError('No managed secret with this id.', { reason: 'NOT_MANAGED' }), 'NOT_MANAGED'));
      else reports.push(await reconcileSecret(deps, secret, options));
    }
  } else {
    for (const secret of managed.sort((a, b) => a.secretId.localeCompare(b.secretId))) reports.push(await reconcileSecret(deps, secret, options));
  }
  return { runId: deps.owner, dryRun: options.dryRun === true, ok: reports.every((r) => r.outcome !== 'failed' && r.outcome !== 'rolled-back'), secrets: reports };
}
