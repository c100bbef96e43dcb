/**
 * Structured audit entries, one per decision, written through `@google-cloud/logging`'s LogSync:
 * a JSON line on stdout that Cloud Functions/Run ingests into Cloud Logging (no API call on the
 * request path, no logging IAM permission). The library is loaded lazily, off the cold-start
 * path; entries written before it is ready are queued and flushed in order.
 */
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';

export interface AuditEntry {
  /** What was decided (`done`: a rotation action completed). */
  decision: 'granted' | 'denied' | 'error' | 'done';
  /** Stable reason (ErrorInfo reason for denials and errors; the rule name travels separately). */
  reason: string;
  action: string;
  httpStatus: number;
  requestId: string;
  caller?: { kind: string; issuer?: string; subject?: string; email?: string; clientId?: string };
  target?: {
    serviceAccount?: string;
    scopes?: readonly string[];
    audience?: string;
    lifetimeSeconds?: number;
    backend?: string;
    /** A downscoped token: number of boundary rules and the rendered boundary's fingerprint (no claim values). */
    accessBoundary?: { rules: number; fingerprint: string };
  };
  rule?: string;
  cacheHit?: boolean;
  latencyMs: number;
  /** `sha256:<hex>` of the issued token: lets an incident responder match a token to its grant. */
  tokenFingerprint?: string;
  detail?: string;
  /** Rotation actions: the secret and credential ids involved (ids only, never key material). */
  rotation?: {
    secret: string;
    kind?: string;
    phase?: string;
    keyId?: string;
    oldKeyId?: string;
    newKeyId?: string;
    version?: number;
    trigger?: string;
  };
  /** Issue 16: the mint this request started (cache miss): backend, upstream time incl. retries, attempts. */
  mint?: { backend: 'key' | 'keyless'; latencyMs: number; attempts: number };
  /** Issue 16: on `error` entries caused by an upstream, which one. */
  upstream?: 'token_endpoint' | 'iam_credentials' | 'secret_manager' | 'sts';
}

export interface AuditContext {
  /** `projects/P/traces/T`, so the entry joins the request's trace in Cloud Logging. */
  trace?: string;
  /** 16 lower hex: the request's span (written as `logging.googleapis.com/spanId`). */
  spanId?: string;
  /** Whether the caller sampled the trace (`logging.googleapis.com/trace_sampled`). */
  traceSampled?: boolean;
}

export interface AuditLog {
  write(entry: AuditEntry, context?: AuditContext): void;
  /** Resolves when queued entries have been handed to the transport. */
  flush(): Promise<void>;
}

/** SHA-256 fingerprint of a token, safe to log. */
export function tokenFingerprint(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex')}`;
}

/**
 * An audit log formatted by `@google-cloud/logging` (its `Entry.toStructuredJSON`, the format
 * LogSync writes), one JSON line per entry on `transport` (stdout by default). `Logging`/`LogSync`
 * themselves are not constructed: their constructor builds a gRPC client and probes for
 * credentials and the metadata server, work a stdout writer does not need.
 */
export function createAuditLog(options: {
  logName: string;
  projectId?: string;
  transport?: Writable;
}): AuditLog {
  // Only the Entry module (~60 modules) is loaded, not the package root (~600: google-gax, protobufjs,
  // the gRPC client), whose load blocked the event loop for ~0.5 s of CPU right after cold start.
  type EntryClass = typeof import('@google-cloud/logging/build/src/entry.js').Entry;
  const transport: Writable = options.transport ?? process.stdout;
  const logName = options.projectId
    ? `projects/${options.projectId}/logs/${encodeURIComponent(options.logName)}`
    : undefined;
  let Entry: EntryClass | undefined;
  const queue: Array<[AuditEntry, AuditContext | undefined]> = [];

  const emit = (EntryCtor: EntryClass, entry: AuditEntry, context: AuditContext | undefined) => {
    const severity =
      entry.decision === 'granted' || entry.decision === 'done'
        ? 'INFO'
        : entry.decision === 'denied'
          ? 'NOTICE'
          : 'ERROR';
    const metadata = {
      severity,
      labels: { component: 'token-vending', decision: entry.decision },
      ...(context?.trace ? { trace: context.trace } : {}),
      ...(context?.trace && context.spanId ? { spanId: context.spanId } : {}),
      ...(context?.trace && context.traceSampled !== undefined ? { traceSampled: context.traceSampled } : {}),
    };
    const json = new EntryCtor(metadata, {
      ...entry,
      message: `${entry.action} ${entry.decision}: ${entry.reason}`,
    }).toStructuredJSON(options.projectId, false) as Record<string, unknown>;
    // Stryker disable next-line ConditionalExpression: an undefined logName is dropped by JSON.stringify anyway
    if (logName) json.logName = logName;
    transport.write(`${JSON.stringify(json)}\n`);
  };

  const ready = (async () => {
    try {
      ({ Entry } = await import('@google-cloud/logging/build/src/entry.js'));
    } catch (err) {
      // Never fail open: without the library, entries still go out as plain structured JSON.
      process.emitWarning(
        `audit log: @google-cloud/logging unavailable, writing plain JSON (${err instanceof Error ? err.message : String(err)})`,
      );
      Entry = PlainEntry as unknown as EntryClass;
    }
    for (const [entry, context] of queue.splice(0)) emit(Entry, entry, context);
  })();

  return {
    write(entry, context) {
      if (Entry) emit(Entry, entry, context);
      else queue.push([entry, context]); // only until the import settles, which it always does
    },
    flush: () => ready,
  };
}

/** Fallback formatter with the same structured-logging fields, used only if the library cannot load. */
class PlainEntry {
  constructor(
    private readonly metadata: {
      severity: string;
      labels: Record<string, string>;
      trace?: string;
      spanId?: string;
      traceSampled?: boolean;
    },
    private readonly data: object,
  ) {}
  toStructuredJSON(): Record<string, unknown> {
    return {
      ...this.data,
      severity: this.metadata.severity,
      'logging.googleapis.com/labels': this.metadata.labels,
      ...(this.metadata.trace ? { 'logging.googleapis.com/trace': this.metadata.trace } : {}),
      ...(this.metadata.spanId ? { 'logging.googleapis.com/spanId': this.metadata.spanId } : {}),
      ...(this.metadata.traceSampled !== undefined
        ? { 'logging.googleapis.com/trace_sampled': this.metadata.traceSampled }
        : {}),
      timestamp: new Date().toISOString(),
    };
  }
}
