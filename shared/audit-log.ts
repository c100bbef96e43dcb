/**
 * Structured audit entries, one per decision: a JSON line on stdout that Cloud Functions/Run
 * ingests into Cloud Logging (no API call on the request path, no logging IAM permission), in
 * exactly the format of `@google-cloud/logging`'s `Entry.toStructuredJSON` (what its LogSync
 * writes; test/unit/shared/audit-log-format.test.ts compares the two), formatted by hand because
 * the library's deep copies cost a fifth of a cache hit. Lines are buffered and handed to the
 * transport once per event-loop turn; the buffer is bounded by back-pressure, never by dropping,
 * and is written synchronously when the process exits. Cloud Run (and so Cloud Functions gen2)
 * sends SIGTERM before it stops an instance
 * (https://cloud.google.com/run/docs/samples/cloudrun-sigterm-handler), and functions-framework
 * answers SIGTERM with `process.exit()` (its invoker.js), which runs the exit write.
 */
import { hash, randomBytes } from 'node:crypto';
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
    /** User-delegated tokens and grant revocation (issue 19): whose grant. */
    user?: { sub: string; email?: string };
    /** Grant revocation: why, and whether Google confirmed it. */
    revokedReason?: string;
    revokedAtGoogle?: boolean;
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
  /** Resolves when the entries written so far have been handed to the transport. */
  flush(): Promise<void>;
}

/** The buffered writer `createAuditLog` returns. */
export interface BufferedAuditLog extends AuditLog {
  /**
   * Back-pressure: true while more than `maxBufferedBytes` wait for the transport. The token
   * function then waits for `drained()` before taking on the next request.
   */
  readonly backlogged: boolean;
  /** Resolves once nothing over the bound waits (at once when not backlogged). */
  drained(): Promise<void>;
}

/** SHA-256 fingerprint of a token, safe to log. */
export function tokenFingerprint(token: string): string {
  return `sha256:${hash('sha256', token, 'hex')}`;
}

/**
 * {@link tokenFingerprint} of a minted token: the one the minter computed once when it minted it
 * (a cache hit re-uses it), or computed now.
 */
export function fingerprintOf(minted: { token: string; fingerprint?: string }): string {
  return minted.fingerprint ?? tokenFingerprint(minted.token);
}

export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Audit logs holding lines not yet handed to their transport; written out when the process exits. */
const unwritten = new Set<() => void>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const writeNow of unwritten) writeNow();
    unwritten.clear();
  });
}

/** The metadata the writer gives each entry (what `new Entry(metadata, data)` would get). */
export interface AuditLineMetadata {
  timestamp: Date;
  insertId: string;
  severity: string;
  labels: Record<string, string>;
  trace?: string;
  spanId?: string;
  traceSampled?: boolean;
}

/**
 * One line, byte for byte what `JSON.stringify(new Entry(metadata, data).toStructuredJSON(p,
 * false))` gives for our metadata and a plain, non-empty object `data` whose keys are not the
 * metadata's (the library's key order: timestamp, severity, labels, insertId, trace fields, then
 * the data), plus our `logName`.
 */
export function formatAuditLine(
  metadata: AuditLineMetadata,
  data: Record<string, unknown>,
  logName: string | undefined,
): string {
  // Entry's toNanosAndSecondsObj, same arithmetic (same float rounding).
  const secondsFloat = metadata.timestamp.getTime() / 1000;
  const seconds = Math.floor(secondsFloat);
  const nanos = Math.floor((secondsFloat - seconds) * 1e9);
  let line = `{"timestamp":{"seconds":${seconds},"nanos":${nanos}},"severity":${JSON.stringify(metadata.severity)},"logging.googleapis.com/labels":${JSON.stringify(metadata.labels)},"logging.googleapis.com/insertId":${JSON.stringify(metadata.insertId)}`;
  if (metadata.trace) {
    line += `,"logging.googleapis.com/trace":${JSON.stringify(metadata.trace)}`;
    if (metadata.spanId) line += `,"logging.googleapis.com/spanId":${JSON.stringify(metadata.spanId)}`;
    if (metadata.traceSampled !== undefined)
      line += `,"logging.googleapis.com/trace_sampled":${metadata.traceSampled}`;
  }
  const payload = JSON.stringify(data);
  if (payload.length > 2) line += `,${payload.slice(1, -1)}`;
  if (logName !== undefined) line += `,"logName":${JSON.stringify(logName)}`;
  return `${line}}\n`;
}

/**
 * The audit log on `transport` (stdout by default). `insertId`s are unique per process (a random
 * prefix and a counter) and increase, as the library's are, so entries of one millisecond keep
 * their order in Cloud Logging.
 */
export function createAuditLog(options: {
  logName: string;
  projectId?: string;
  transport?: Writable;
  maxBufferedBytes?: number;
}): BufferedAuditLog {
  const transport: Writable = options.transport ?? process.stdout;
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const logName = options.projectId
    ? `projects/${options.projectId}/logs/${encodeURIComponent(options.logName)}`
    : undefined;
  installExitHook();
  const idPrefix = randomBytes(6).toString('base64url');
  let counter = 0;
  let pending: string[] = [];
  let pendingBytes = 0;
  let scheduled = false;
  let waitingForDrain = false;
  let flushWaiters: Array<() => void> = [];
  let drainWaiters: Array<() => void> = [];

  const settle = () => {
    if (pending.length === 0 && !waitingForDrain) {
      const waiters = flushWaiters;
      flushWaiters = [];
      for (const w of waiters) w();
    }
    if (pendingBytes <= maxBufferedBytes) {
      const waiters = drainWaiters;
      drainWaiters = [];
      for (const w of waiters) w();
    }
  };

  /** Hands everything pending to the transport in one write (unless it asked us to wait). */
  const writeOut = () => {
    scheduled = false;
    if (waitingForDrain || pending.length === 0) return settle();
    const chunk = pending.length === 1 ? pending[0] : pending.join('');
    pending = [];
    pendingBytes = 0;
    unwritten.delete(onExit);
    if (!transport.write(chunk)) {
      waitingForDrain = true;
      transport.once('drain', () => {
        waitingForDrain = false;
        writeOut();
      });
    }
    settle();
  };

  // Exit (also functions-framework's exit on SIGTERM): whatever is still buffered goes out now.
  // Node's stdout and stderr are synchronous for files and pipes on Linux, so the write completes.
  const onExit = () => {
    if (pending.length > 0) transport.write(pending.join(''));
    pending = [];
    pendingBytes = 0;
  };

  return {
    write(entry, context) {
      const severity =
        entry.decision === 'granted' || entry.decision === 'done'
          ? 'INFO'
          : entry.decision === 'denied'
            ? 'NOTICE'
            : 'ERROR';
      const metadata: AuditLineMetadata = {
        timestamp: new Date(),
        insertId: `${idPrefix}${(counter++).toString(36).padStart(10, '0')}`,
        severity,
        labels: { component: 'token-vending', decision: entry.decision },
        ...(context?.trace ? { trace: context.trace } : {}),
        ...(context?.trace && context.spanId ? { spanId: context.spanId } : {}),
        ...(context?.trace && context.traceSampled !== undefined
          ? { traceSampled: context.traceSampled }
          : {}),
      };
      const line = formatAuditLine(
        metadata,
        { ...entry, message: `${entry.action} ${entry.decision}: ${entry.reason}` },
        logName,
      );
      pending.push(line);
      pendingBytes += line.length;
      unwritten.add(onExit);
      if (!scheduled) {
        scheduled = true;
        setImmediate(writeOut);
      }
    },
    flush() {
      if (pending.length === 0 && !waitingForDrain) return Promise.resolve();
      return new Promise<void>((resolve) => flushWaiters.push(resolve));
    },
    get backlogged() {
      return pendingBytes > maxBufferedBytes;
    },
    drained() {
      if (pendingBytes <= maxBufferedBytes) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
  };
}
