import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../shared/audit-log.js';
import { createOpsLog, runWithRequestTrace, type RequestTraceSlot } from '../../../shared/ops-log.js';
import {
  parseCloudTraceContext,
  parseTraceparent,
  traceContext,
  traceFields,
} from '../../../shared/trace-context.js';
import { createCapture } from '../../support/capture.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('parseTraceparent (W3C)', () => {
  it('parses version 00 with the sampled flag', () => {
    expect(parseTraceparent(`00-${T}-${S}-01`)).toEqual({ traceId: T, spanId: S, sampled: true });
    expect(parseTraceparent(`00-${T}-${S}-00`)).toEqual({ traceId: T, spanId: S, sampled: false });
  });
  it('accepts a future version with extra fields, not 00 with extra fields', () => {
    expect(parseTraceparent(`01-${T}-${S}-01-extra`)).toEqual({ traceId: T, spanId: S, sampled: true });
    expect(parseTraceparent(`00-${T}-${S}-01-extra`)).toBeUndefined();
  });
  it.each([
    ['all-zero trace id', `00-${'0'.repeat(32)}-${S}-01`],
    ['all-zero span id', `00-${T}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${T.toUpperCase()}-${S}-01`],
    ['version ff', `ff-${T}-${S}-01`],
    ['short trace id', `00-${T.slice(1)}-${S}-01`],
    ['long span id', `00-${T}-${S}0-01`],
    ['injection', `00-${T}-${S}-01\n{"severity":"CRITICAL"}`],
    ['huge', `00-${T}-${S}-01-${'a'.repeat(100_000)}`],
    ['empty', ''],
  ])('rejects %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });
});

describe('parseCloudTraceContext', () => {
  it('converts the decimal span id to 16 hex and reads o=1', () => {
    expect(parseCloudTraceContext(`${T}/1;o=1`)).toEqual({
      traceId: T,
      spanId: '0000000000000001',
      sampled: true,
    });
    expect(parseCloudTraceContext(`${T}/18446744073709551615;o=0`)).toEqual({
      traceId: T,
      spanId: 'ffffffffffffffff',
      sampled: false,
    });
    expect(parseCloudTraceContext(`${T}/123`)).toEqual({
      traceId: T,
      spanId: '000000000000007b',
      sampled: false,
    });
  });
  it.each([
    ['span over 2^64-1', `${T}/18446744073709551616;o=1`],
    ['span zero', `${T}/0;o=1`],
    ['hex span', `${T}/abc;o=1`],
    ['no span', T],
    ['zero trace', `${'0'.repeat(32)}/1;o=1`],
    ['bad option', `${T}/1;o=2`],
    ['injection', `${T}/1;o=1","severity":"CRITICAL`],
    ['huge', `${T}/${'1'.repeat(10_000)}`],
  ])('rejects %s', (_name, value) => {
    expect(parseCloudTraceContext(value)).toBeUndefined();
  });
});

describe('traceContext', () => {
  it('prefers traceparent and names the trace by project', () => {
    expect(traceContext('p', `00-${T}-${S}-01`, `${'a'.repeat(32)}/5;o=0`)).toEqual({
      trace: `projects/p/traces/${T}`,
      spanId: S,
      sampled: true,
    });
  });
  it('falls back to X-Cloud-Trace-Context when traceparent is invalid', () => {
    expect(traceContext('p', 'garbage', `${T}/5;o=1`)?.spanId).toBe('0000000000000005');
  });
  it('is undefined without a project or a valid header', () => {
    expect(traceContext(undefined, `00-${T}-${S}-01`, undefined)).toBeUndefined();
    expect(traceContext('p', 'x', 'y')).toBeUndefined();
    expect(traceFields(undefined)).toEqual({});
  });
});

describe('trace on entries', () => {
  it('the audit entry carries trace, spanId and trace_sampled', async () => {
    const out = createCapture();
    const log = createAuditLog({ logName: 'a', projectId: 'p', transport: out.stream });
    log.write(
      { decision: 'granted', reason: 'GRANTED', action: 'x', httpStatus: 200, requestId: 'r', latencyMs: 1 },
      { trace: `projects/p/traces/${T}`, spanId: S, traceSampled: false },
    );
    await log.flush();
    const [e] = out.entries();
    expect(e).toMatchObject({
      'logging.googleapis.com/trace': `projects/p/traces/${T}`,
      'logging.googleapis.com/spanId': S,
      'logging.googleapis.com/trace_sampled': false,
    });
  });

  it('ops lines carry the request trace only until the response ends', async () => {
    const lines: string[] = [];
    const ops = createOpsLog('token', (l) => lines.push(l));
    const slot: RequestTraceSlot = { trace: { trace: `projects/p/traces/${T}`, spanId: S, sampled: true } };
    let later: Promise<void> = Promise.resolve();
    runWithRequestTrace(slot, () => {
      ops('INFO', 'during');
      later = Promise.resolve().then(() => ops('INFO', 'after'));
      slot.trace = undefined; // the response ended before the background continuation ran
    });
    await later;
    ops('INFO', 'outside');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({
      'logging.googleapis.com/trace': `projects/p/traces/${T}`,
      'logging.googleapis.com/spanId': S,
      'logging.googleapis.com/trace_sampled': true,
    });
    expect(parsed[1]).not.toHaveProperty('logging.googleapis.com/trace');
    expect(parsed[2]).not.toHaveProperty('logging.googleapis.com/trace');
  });
});
