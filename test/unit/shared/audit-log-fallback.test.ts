/**
 * The audit log without `@google-cloud/logging` (a broken install): entries still go out, as the
 * same structured-logging fields in plain JSON, and the operator is warned once. Its own file:
 * the library is mocked away for the whole module graph.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createCapture } from '../../support/capture.js';

vi.mock('@google-cloud/logging/build/src/entry.js', () => {
  throw new Error('Cannot find module @google-cloud/logging');
});

afterAll(() => {
  vi.restoreAllMocks();
});

describe('createAuditLog when @google-cloud/logging cannot load', () => {
  it('writes plain structured JSON with severity, labels and trace, and warns with the cause', async () => {
    const warnings: string[] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation((w) => void warnings.push(String(w)));
    const { createAuditLog } = await import('../../../shared/audit-log.js');
    const out = createCapture();
    const log = createAuditLog({ logName: 'token-vending-audit', projectId: 'p', transport: out.stream });
    log.write(
      {
        decision: 'denied',
        reason: 'NO_RULE_FOR_CALLER',
        action: 'generateAccessToken',
        httpStatus: 403,
        latencyMs: 3,
        requestId: 'req-1',
      },
      { trace: 'projects/p/traces/abc' },
    );
    log.write({
      decision: 'granted',
      reason: 'GRANTED',
      action: 'generateIdToken',
      httpStatus: 200,
      latencyMs: 1,
      requestId: 'req-2',
    });
    await log.flush();
    const [denied, granted] = out.entries();
    expect(denied).toMatchObject({
      decision: 'denied',
      reason: 'NO_RULE_FOR_CALLER',
      severity: 'NOTICE',
      'logging.googleapis.com/trace': 'projects/p/traces/abc',
      'logging.googleapis.com/labels': expect.objectContaining({ decision: 'denied' }),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      logName: 'projects/p/logs/token-vending-audit',
    });
    expect(granted).not.toHaveProperty('logging.googleapis.com/trace');
    expect(granted.severity).toBe('INFO');
    expect(warnings).toEqual([
      expect.stringMatching(
        // vitest wraps the factory's error; the cause's message is quoted in parentheses.
        /^audit log: @google-cloud\/logging unavailable, writing plain JSON \(\[vitest\] .+\)$/s,
      ),
    ]);
  });
});
