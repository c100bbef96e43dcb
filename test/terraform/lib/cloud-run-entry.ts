/**
 * The LogEntry Cloud Logging stores for a JSON line a function wrote, shaped as the platform
 * stores it (see GOOGLE-FACTS "Facts of the running platform"): the log name is the platform's
 * (`run.googleapis.com/stdout|stderr` for Cloud Run and gen2 functions,
 * `cloudfunctions.googleapis.com/cloud-functions` for the `cloud_function` resource); the
 * recognised special fields are lifted out of the line into the entry; everything else,
 * including a `logName` field the line carries, stays inside `jsonPayload`.
 */
import type { Entry } from './log-filter.js';

export interface Workload {
  project: string;
  /** The Cloud Run service name (= the gen2 function's name). */
  service: string;
  region?: string;
  /** How the platform labels the entry's resource. */
  resource?: 'cloud_run_revision' | 'cloud_function';
}

const LABELS = 'logging.googleapis.com/labels';
/** Special fields lifted from the line into the LogEntry (and removed from jsonPayload). */
const SPECIAL: Readonly<Record<string, string>> = {
  severity: 'severity',
  httpRequest: 'httpRequest',
  'logging.googleapis.com/trace': 'trace',
  'logging.googleapis.com/spanId': 'spanId',
  'logging.googleapis.com/trace_sampled': 'traceSampled',
  'logging.googleapis.com/sourceLocation': 'sourceLocation',
  'logging.googleapis.com/operation': 'operation',
  'logging.googleapis.com/insertId': 'insertId',
  timestamp: 'timestamp',
  time: 'timestamp',
};

function resource(w: Workload): Entry {
  const region = w.region ?? 'europe-west1';
  if (w.resource === 'cloud_function') {
    return { type: 'cloud_function', labels: { project_id: w.project, region, function_name: w.service } };
  }
  return {
    type: 'cloud_run_revision',
    labels: { project_id: w.project, location: region, service_name: w.service, revision_name: `${w.service}-00007-xyz`, configuration_name: w.service },
  };
}

function logName(w: Workload, stream: 'stdout' | 'stderr'): string {
  const id = w.resource === 'cloud_function' ? 'cloudfunctions.googleapis.com/cloud-functions' : `run.googleapis.com/${stream}`;
  return `projects/${w.project}/logs/${encodeURIComponent(id)}`;
}

/** The stored entry for one line the workload wrote on `stream`. */
export function storedEntry(line: string, w: Workload, stream: 'stdout' | 'stderr'): Entry {
  const parsed = JSON.parse(line) as Record<string, unknown>;
  const entry: Entry = { logName: logName(w, stream), resource: resource(w), severity: 'DEFAULT', labels: { instanceId: '00f1ab' } };
  const payload: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key === LABELS) entry.labels = { ...(entry.labels as object), ...(value as object) };
    else if (key in SPECIAL) entry[SPECIAL[key]] = value;
    else payload[key] = value;
  }
  entry.jsonPayload = payload;
  return entry;
}

/** Cloud Run's own request log entry for a request the service answered with `status`. */
export function requestLogEntry(w: Workload, status: number, path: string): Entry {
  return {
    logName: `projects/${w.project}/logs/${encodeURIComponent('run.googleapis.com/requests')}`,
    resource: resource({ ...w, resource: 'cloud_run_revision' }),
    severity: status >= 500 ? 'ERROR' : status >= 400 ? 'WARNING' : 'INFO',
    httpRequest: { requestMethod: 'POST', requestUrl: `https://${w.service}-abc-ew.a.run.app${path}`, status, responseSize: '312', userAgent: 'node', remoteIp: '10.8.0.4', latency: '0.012s', protocol: 'HTTP/1.1' },
    labels: { instanceId: '00f1ab' },
  };
}
