/**
 * The hand-formatted audit line is byte for byte what `@google-cloud/logging`'s
 * `Entry.toStructuredJSON` (the LogSync format Cloud Logging's agents and Cloud Run parse) gives
 * for the same metadata and entry; and the buffered writer hands every line to its transport, in
 * order, once per event-loop turn, with back-pressure instead of loss.
 */
import { Writable } from 'node:stream';
import { Entry } from '@google-cloud/logging/build/src/entry.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAuditLog, formatAuditLine, type AuditLineMetadata } from '../../../shared/audit-log.js';

const LOG = 'projects/p/logs/token-vending-audit';

function library(metadata: AuditLineMetadata, data: Record<string, unknown>): string {
  const json = new Entry({ ...metadata }, data).toStructuredJSON('p', false) as Record<string, unknown>;
  json.logName = LOG;
  return `${JSON.stringify(json)}\n`;
}

const base: AuditLineMetadata = {
  timestamp: new Date(Date.UTC(2026, 11, 6, 12, 0, 0, 123)),
  insertId: 'abcdEFGH12340000000001',
  severity: 'INFO',
  labels: { component: 'token-vending', decision: 'granted' },
};

const granted = {
  decision: 'granted',
  reason: 'RULE_MATCHED',
  action: 'generateAccessToken',
  httpStatus: 200,
  requestId: '6f1c2a52-7f1e-4f7e-9f5d-1d2b3c4d5e6f',
  caller: {
    kind: 'id_token',
    issuer: 'https://accounts.google.com',
    subject: '1234',
    email: 'w@p.iam.gserviceaccount.com',
  },
  target: {
    serviceAccount: 'sa@p.iam.gserviceaccount.com',
    scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    lifetimeSeconds: 3600,
    backend: 'key',
  },
  rule: 'gemini',
  cacheHit: false,
  latencyMs: 12,
  tokenFingerprint: `sha256:${'a'.repeat(64)}`,
  mint: { backend: 'key', latencyMs: 9, attempts: 1 },
  message: 'generateAccessToken granted: RULE_MATCHED',
};

describe('formatAuditLine', () => {
  it.each([
    ['a grant, no trace', base, granted],
    [
      'a denial with a sampled trace and span',
      {
        ...base,
        severity: 'NOTICE',
        labels: { component: 'token-vending', decision: 'denied' },
        trace: 'projects/p/traces/0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceSampled: true,
      },
      { ...granted, decision: 'denied', detail: 'quote " backslash \\ newline \n unicode é \u2028 <script>' },
    ],
    [
      'an error with an unsampled trace',
      {
        ...base,
        severity: 'ERROR',
        trace: 'projects/p/traces/0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceSampled: false,
      },
      { ...granted, decision: 'error', upstream: 'sts', caller: undefined, target: undefined },
    ],
    [
      'a trace without a span',
      { ...base, trace: 'projects/p/traces/0af7651916cd43dd8448eb211c80319c' },
      { ...granted, rotation: { secret: 's', version: 3, trigger: 'sweep' } },
    ],
  ])('%s: identical to Entry.toStructuredJSON', (_name, metadata, data) => {
    expect(formatAuditLine(metadata, data, LOG)).toBe(library(metadata, data));
  });

  it('is identical for any millisecond timestamp and any string values', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        fc.string({ unit: 'binary' }),
        fc.string(),
        (ms, detail, reason) => {
          const metadata = { ...base, timestamp: new Date(ms) };
          const data = { ...granted, reason, detail };
          expect(formatAuditLine(metadata, data, LOG)).toBe(library(metadata, data));
        },
      ),
      { numRuns: 500 },
    );
  });
});

function sink(highWaterMark = 16 * 1024) {
  const chunks: string[] = [];
  let release: (() => void) | undefined;
  let blocked = false;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      if (blocked) release = () => done();
      else done();
    },
  });
  return {
    stream,
    chunks,
    lines: () => chunks.join('').split('\n').filter(Boolean),
    block: () => (blocked = true),
    unblock: () => {
      blocked = false;
      release?.();
      release = undefined;
    },
  };
}

const entry = (i: number) => ({
  decision: 'granted' as const,
  reason: 'RULE_MATCHED',
  action: 'generateAccessToken',
  httpStatus: 200,
  requestId: `r-${i}`,
  latencyMs: 1,
});

describe('createAuditLog (buffered)', () => {
  it('hands a turn’s lines to the transport in one write, in order, with increasing insertIds', async () => {
    const out = sink();
    const log = createAuditLog({ logName: 'token-vending-audit', projectId: 'p', transport: out.stream });
    for (let i = 0; i < 5; i++) log.write(entry(i));
    expect(out.chunks).toHaveLength(0); // nothing written synchronously
    await log.flush();
    expect(out.chunks).toHaveLength(1);
    const parsed = out.lines().map((l) => JSON.parse(l) as Record<string, string>);
    expect(parsed.map((e) => e.requestId)).toEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4']);
    const ids = parsed.map((e) => e['logging.googleapis.com/insertId']);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(5);
    expect(parsed[0]).toMatchObject({
      severity: 'INFO',
      logName: 'projects/p/logs/token-vending-audit',
      message: 'generateAccessToken granted: RULE_MATCHED',
    });
  });

  it('applies back-pressure past its bound and loses nothing while the transport is slow', async () => {
    const out = sink(1);
    const log = createAuditLog({ logName: 'a', transport: out.stream, maxBufferedBytes: 2_000 });
    out.block();
    log.write(entry(0));
    await new Promise((r) => setImmediate(r)); // first write goes out and the transport stalls
    for (let i = 1; i <= 40; i++) log.write(entry(i));
    expect(log.backlogged).toBe(true);
    let drained = false;
    const waiting = log.drained().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    out.unblock();
    await waiting;
    await log.flush();
    expect(log.backlogged).toBe(false);
    expect(out.lines().map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(
      Array.from({ length: 41 }, (_, i) => `r-${i}`),
    );
  });
});
