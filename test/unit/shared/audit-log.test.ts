import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuditLog, tokenFingerprint, type AuditEntry } from '../../../shared/audit-log.js';
import { createCapture } from '../../support/capture.js';

const entry = (decision: AuditEntry['decision'], extra: Partial<AuditEntry> = {}): AuditEntry => ({
  decision,
  reason: decision === 'granted' ? 'GRANTED' : 'SOME_REASON',
  action: 'generateAccessToken',
  httpStatus: decision === 'granted' ? 200 : 403,
  requestId: `req-${decision}`,
  latencyMs: 12,
  ...extra,
});

describe('createAuditLog', () => {
  it('writes one structured JSON line per entry, in order, including those written before the library loaded', async () => {
    const out = createCapture();
    const log = createAuditLog({ logName: 'token-vending-audit', projectId: 'p', transport: out.stream });
    log.write(entry('granted'));
    log.write(entry('denied'));
    await log.flush();
    log.write(entry('error'));
    await log.flush();
    expect(out.text().split('\n').filter(Boolean)).toHaveLength(3);
    expect(out.entries().map((e) => e.requestId)).toEqual(['req-granted', 'req-denied', 'req-error']);
  });

  it.each<[AuditEntry['decision'], string]>([
    ['granted', 'INFO'],
    ['done', 'INFO'],
    ['denied', 'NOTICE'],
    ['error', 'ERROR'],
  ])(
    'logs a %s decision at severity %s with its labels and a readable message',
    async (decision, severity) => {
      const out = createCapture();
      const log = createAuditLog({ logName: 'token-vending-audit', projectId: 'p', transport: out.stream });
      log.write(entry(decision));
      await log.flush();
      const [line] = out.entries();
      expect(line).toMatchObject({
        severity,
        'logging.googleapis.com/labels': { component: 'token-vending', decision },
        message: `generateAccessToken ${decision}: ${decision === 'granted' ? 'GRANTED' : 'SOME_REASON'}`,
        decision,
        httpStatus: entry(decision).httpStatus,
        latencyMs: 12,
      });
    },
  );

  it('joins the request trace when given, and names the log in the project', async () => {
    const out = createCapture();
    const log = createAuditLog({ logName: 'token vending/audit', projectId: 'p', transport: out.stream });
    log.write(entry('granted'), { trace: 'projects/p/traces/0123456789abcdef0123456789abcdef' });
    log.write(entry('denied'));
    await log.flush();
    const [traced, untraced] = out.entries();
    expect(traced['logging.googleapis.com/trace']).toBe('projects/p/traces/0123456789abcdef0123456789abcdef');
    expect(untraced).not.toHaveProperty(['logging.googleapis.com/trace']);
    expect(traced.logName).toBe('projects/p/logs/token%20vending%2Faudit');
  });

  it('writes no logName without a project', async () => {
    const out = createCapture();
    const log = createAuditLog({ logName: 'token-vending-audit', transport: out.stream });
    log.write(entry('granted'));
    await log.flush();
    expect(out.entries()[0]).not.toHaveProperty('logName');
  });
});

describe('tokenFingerprint', () => {
  it('is the SHA-256 of the token, never the token', () => {
    const token = 'ya29.a-token-that-must-never-be-logged';
    expect(tokenFingerprint(token)).toBe(`sha256:${createHash('sha256').update(token).digest('hex')}`);
    expect(tokenFingerprint(token)).not.toContain(token);
  });
});
