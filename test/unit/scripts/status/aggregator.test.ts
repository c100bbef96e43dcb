/**
 * The status aggregator over lines shaped as the contract (docs: ops-contract) says the functions
 * write them: the new `mint` and `rotation_health` fields when present, the fallbacks before, and
 * bounded memory whatever a caller makes the functions log.
 */
import { describe, expect, it } from 'vitest';
import { LATENCY_RESERVOIR, MAX_KEYS, StatusAggregator } from '../../../../scripts/status/aggregator.js';

const line = (o: unknown) => `${JSON.stringify(o)}\n`;

describe('StatusAggregator', () => {
  it('prefers mint.latencyMs/backend over the request latency, and counts hits and misses', () => {
    const a = new StatusAggregator(() => 0);
    a.ingest(
      line({
        decision: 'granted',
        reason: 'OK',
        cacheHit: false,
        latencyMs: 90,
        mint: { backend: 'keyless', latencyMs: 40, attempts: 2 },
        target: { backend: 'key' },
      }),
    );
    a.ingest(line({ decision: 'granted', reason: 'OK', cacheHit: true, latencyMs: 2 }));
    a.ingest(
      line({
        decision: 'error',
        reason: 'UPSTREAM',
        cacheHit: false,
        upstream: 'iam_credentials',
        mint: { backend: 'keyless', latencyMs: 60, attempts: 3 },
      }),
    );
    const s = a.snapshot();
    expect(s.mintLatency).toEqual([{ backend: 'keyless', count: 2, p50: 40, p95: 60, p99: 60 }]);
    expect(s.cache).toEqual({ hits: 1, misses: 2, ratio: 1 / 3 });
    expect(s.upstreamErrors).toEqual([{ upstream: 'iam_credentials', count: 1 }]);
  });

  it('reads rotation_health lines (the contract) into a next-due time on its own clock', () => {
    const a = new StatusAggregator(() => 1_000_000);
    a.ingest(
      line({
        severity: 'WARNING',
        component: 'rotate',
        event: 'rotation_health',
        secret: 'projects/p/secrets/s',
        kind: 'sa-key',
        outcome: 'failed',
        phase: 'verifying',
        credentialAgeSeconds: 10,
        dueInSeconds: -5,
        periodSeconds: 1,
        graceSeconds: 1,
        phaseAgeSeconds: 3,
        claimTtlSeconds: 9,
        lastError: { code: 'UNAVAILABLE', reason: 'x' },
      }),
    );
    expect(a.snapshot().rotationHealth).toEqual([
      {
        secret: 'projects/p/secrets/s',
        kind: 'sa-key',
        outcome: 'failed',
        phase: 'verifying',
        dueAtMs: 995_000,
        credentialAgeSeconds: 10,
        lastError: { code: 'UNAVAILABLE', reason: 'x' },
        seenAtMs: 1_000_000,
      },
    ]);
  });

  it('keeps memory bounded and ignores what is not an entry; keeps no caller, token or detail', () => {
    const a = new StatusAggregator();
    for (let i = 0; i < MAX_KEYS + 50; i++)
      a.ingest(
        line({
          decision: 'denied',
          reason: `R${i}`,
          rule: `rule${i}`,
          caller: { subject: 'secret-sub' },
          tokenFingerprint: 'fp',
          detail: 'd',
        }),
      );
    for (let i = 0; i < LATENCY_RESERVOIR * 3; i++)
      a.ingest(
        line({
          decision: 'granted',
          reason: 'OK',
          cacheHit: false,
          mint: { backend: 'evil-backend', latencyMs: i },
        }),
      );
    a.ingest('not json\n{"broken"\nnull\n[1]\n');
    const s = a.snapshot();
    expect(s.decisions).toHaveLength(MAX_KEYS);
    expect(s.rules).toHaveLength(MAX_KEYS);
    expect(s.mintLatency).toEqual([
      {
        backend: 'other',
        count: LATENCY_RESERVOIR * 3,
        p50: expect.any(Number),
        p95: expect.any(Number),
        p99: expect.any(Number),
      },
    ]);
    expect(s.mintLatency[0].p50).toBeGreaterThanOrEqual(LATENCY_RESERVOIR * 2);
    const text = JSON.stringify(s);
    for (const secret of ['secret-sub', 'fp', '"d"']) expect(text).not.toContain(secret);
  });
});
