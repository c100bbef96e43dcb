/**
 * Operational log lines (not audit): one JSON object per line on stderr, which Cloud Logging
 * parses into structured entries. Callers pass log-safe text only: never a token, key or secret.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { traceFields, type TraceContext } from './trace-context.js';

export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

export type OpsLog = (severity: Severity, message: string, fields?: Record<string, unknown>) => void;

/**
 * The trace of the request being handled. The slot is mutable and emptied when the response ends
 * (`endRequestTrace`), so work a request started that outlives it (a background refresh continuing
 * in the same async context) no longer writes that request's trace.
 */
export interface RequestTraceSlot {
  trace?: TraceContext;
}
const requestTrace = new AsyncLocalStorage<RequestTraceSlot>();

/** Runs `fn` with `trace` attached to every ops line written in its async context until `slot.trace` is cleared. */
export function runWithRequestTrace<T>(slot: RequestTraceSlot, fn: () => T): T {
  return requestTrace.run(slot, fn);
}

/** The trace of the request being handled here, if any (for writers other than the ops log, e.g. audit). */
export function currentRequestTrace(): TraceContext | undefined {
  return requestTrace.getStore()?.trace;
}

export function createOpsLog(
  component: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
): OpsLog {
  return (severity, message, fields = {}) => {
    write(
      `${JSON.stringify({ severity, message, component, ...fields, ...traceFields(requestTrace.getStore()?.trace), time: new Date().toISOString() })}\n`,
    );
  };
}
