/**
 * Issue 16: a forced rotation run writes exactly one rotation_health ops line per managed secret;
 * a run started over HTTP with a trace header puts that trace on its ops and audit lines.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEmulatorMetadata } from '../../../support/google-env.js';
import {
  API_SECRET,
  GRACE_MS,
  PERIOD_MS,
  ROTATION_BINDINGS,
  SA_SECRET,
  startRotationStack,
  type RotationStack,
} from './support/rotation-stack.js';

let t: RotationStack;
let restoreEnv: () => void;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  t = await startRotationStack({
    opsLogWrite: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  restoreEnv = useEmulatorMetadata(t.stack.emulator.metadataHost);
});

afterAll(async () => {
  restoreEnv?.();
  await t?.stack.stop();
});

describe('rotation_health', () => {
  it('a forced sweep writes one line per managed secret with the contract fields', async () => {
    const before = lines.length;
    await t.stack.rotation.runSweep({ force: true });
    const health = lines.slice(before).filter((l) => l.event === 'rotation_health');
    expect(health.map((l) => l.secret).sort()).toEqual([API_SECRET, SA_SECRET].sort());
    expect(Object.keys(ROTATION_BINDINGS).length).toBe(2);
    for (const line of health) {
      expect(line).toMatchObject({
        component: 'rotate',
        event: 'rotation_health',
        periodSeconds: PERIOD_MS / 1000,
        graceSeconds: GRACE_MS / 1000,
        claimTtlSeconds: expect.any(Number) as number,
      });
      expect(['rotated', 'in_progress', 'not_due', 'failed', 'skipped']).toContain(line.outcome);
      expect(typeof line.phase).toBe('string');
      expect(line.severity).toBe(line.outcome === 'failed' ? 'ERROR' : 'INFO');
      if (line.outcome === 'rotated') {
        expect(line.credentialAgeSeconds).toBe(0);
        expect(line.dueInSeconds).toBe(PERIOD_MS / 1000);
      }
      expect(
        line.phase === 'idle' ? line.phaseAgeSeconds === null : typeof line.phaseAgeSeconds === 'number',
      ).toBe(true);
    }
  });

  it('a run started over HTTP with traceparent: its rotation_health and audit lines carry the trace; without one, none', async () => {
    const traceId = randomBytes(16).toString('hex');
    const spanId = randomBytes(8).toString('hex');
    const trace = `projects/tvs-local/traces/${traceId}`;
    t.clock.advance(PERIOD_MS + 1000);
    // Entries of earlier runs may still sit in the audit writer's buffer: out first.
    await t.stack.rotation.flushAudit();
    const before = lines.length;
    const auditBefore = t.audit.entries().length;
    const sent = await t.post({ force: true }, undefined, { traceparent: `00-${traceId}-${spanId}-01` });
    expect(sent.status).toBe(200);
    await t.stack.rotation.flushAudit();
    const health = lines.slice(before).filter((l) => l.event === 'rotation_health');
    expect(health).toHaveLength(2);
    for (const line of health) {
      expect(line['logging.googleapis.com/trace']).toBe(trace);
      expect(line['logging.googleapis.com/spanId']).toBe(spanId);
      expect(line['logging.googleapis.com/trace_sampled']).toBe(true);
    }
    const audited = t.audit.entries().slice(auditBefore);
    expect(audited.length).toBeGreaterThan(0);
    for (const entry of audited) {
      expect(entry['logging.googleapis.com/trace']).toBe(trace);
      expect(entry['logging.googleapis.com/spanId']).toBe(spanId);
    }

    const untraced = lines.length;
    const untracedAudit = t.audit.entries().length;
    expect((await t.post({ force: true, secrets: [SA_SECRET] })).status).toBe(200);
    await t.stack.rotation.flushAudit();
    const later = [...lines.slice(untraced), ...t.audit.entries().slice(untracedAudit)];
    expect(later.length).toBeGreaterThan(0);
    for (const line of later) expect(line).not.toHaveProperty(['logging.googleapis.com/trace']);
  });

  it('a caller who controls only the trace headers cannot inject fields: malformed ones are ignored, never echoed', async () => {
    await t.stack.rotation.flushAudit();
    const before = lines.length;
    const auditBefore = t.audit.entries().length;
    const evil = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01","severity":"DEBUG","decision":"granted`;
    const sent = await t.post({ dryRun: true }, undefined, {
      traceparent: evil,
      'x-cloud-trace-context': 'not-hex/1;o=1 INJECTED',
    });
    expect(sent.status).toBe(200);
    await t.stack.rotation.flushAudit();
    const written = [...lines.slice(before), ...t.audit.entries().slice(auditBefore)];
    expect(written.length).toBeGreaterThan(0);
    for (const line of written) {
      expect(line).not.toHaveProperty(['logging.googleapis.com/trace']);
      expect(JSON.stringify(line)).not.toContain('INJECTED');
      expect(JSON.stringify(line)).not.toContain('a'.repeat(32));
    }
  });
});
