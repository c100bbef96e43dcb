/**
 * Trace correlation: the request's W3C `traceparent` (preferred) or Google's `X-Cloud-Trace-Context`,
 * validated strictly, as the three fields Cloud Logging joins on. A header that does not parse is
 * ignored (never echoed): only the validated hex ids reach a log entry.
 */
export interface TraceContext {
  /** `projects/P/traces/T` (T: 32 lower hex). */
  trace: string;
  /** 16 lower hex. */
  spanId: string;
  sampled: boolean;
}

const MAX_HEADER = 256;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const CLOUD_TRACE = /^([0-9a-f]{32})\/([0-9]{1,20})(?:;o=([01]))?$/i;
const MAX_U64 = (1n << 64n) - 1n;

/** W3C Trace Context `traceparent`: version 00 exactly 4 fields; future versions may append more. */
export function parseTraceparent(
  value: string | undefined,
): (Omit<TraceContext, 'trace'> & { traceId: string }) | undefined {
  if (value === undefined || value.length > MAX_HEADER) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS`, SPAN_ID decimal (unsigned 64-bit). */
export function parseCloudTraceContext(
  value: string | undefined,
): (Omit<TraceContext, 'trace'> & { traceId: string }) | undefined {
  if (value === undefined || value.length > MAX_HEADER) return undefined;
  const m = CLOUD_TRACE.exec(value.trim());
  if (!m) return undefined;
  const traceId = m[1].toLowerCase();
  const span = BigInt(m[2]);
  if (/^0+$/.test(traceId) || span === 0n || span > MAX_U64) return undefined;
  return { traceId, spanId: span.toString(16).padStart(16, '0'), sampled: m[3] === '1' };
}

/** The request's trace context, or undefined (no project, or no valid header). */
export function traceContext(
  projectId: string | undefined,
  traceparent: string | undefined,
  cloudTraceContext: string | undefined,
): TraceContext | undefined {
  if (!projectId || !/^[a-z0-9-:.]{1,100}$/.test(projectId)) return undefined;
  const parsed = parseTraceparent(traceparent) ?? parseCloudTraceContext(cloudTraceContext);
  if (!parsed) return undefined;
  return {
    trace: `projects/${projectId}/traces/${parsed.traceId}`,
    spanId: parsed.spanId,
    sampled: parsed.sampled,
  };
}

/** The structured-logging keys Cloud Logging lifts into LogEntry.trace/spanId/traceSampled. */
export function traceFields(ctx: TraceContext | undefined): Record<string, unknown> {
  return ctx
    ? {
        'logging.googleapis.com/trace': ctx.trace,
        'logging.googleapis.com/spanId': ctx.spanId,
        'logging.googleapis.com/trace_sampled': ctx.sampled,
      }
    : {};
}
