/**
 * The local status page's numbers, computed from THE SAME entries the production log-based
 * metrics read: the token/rotate functions' audit lines (stdout) and ops lines (stderr) are teed
 * into `ingest`. Memory is bounded: counters with a capped number of keys, and a fixed-size ring
 * of recent mint latencies per backend. Nothing secret is kept: only decision, reason, rule,
 * backend, cache-hit flags, latencies and rotation-health fields (no tokens, no claims, no callers).
 */

export const LATENCY_RESERVOIR = 1024;
export const MAX_KEYS = 200;

export interface SecretHealth {
  secret: string;
  kind?: string;
  outcome?: string;
  phase?: string;
  /** Absolute time the next rotation is due (ms since epoch), when known. */
  dueAtMs?: number | null;
  credentialAgeSeconds?: number | null;
  lastError?: { code: string; reason: string };
  /** When the health line was seen (ms). */
  seenAtMs: number;
}

export interface StatusSnapshot {
  decisions: Array<{ decision: string; reason: string; count: number }>;
  rules: Array<{ rule: string; count: number }>;
  cache: { hits: number; misses: number; ratio: number | null };
  mintLatency: Array<{ backend: string; count: number; p50: number; p95: number; p99: number }>;
  upstreamErrors: Array<{ upstream: string; count: number }>;
  rotationHealth: SecretHealth[];
}

class Ring {
  private readonly values: number[] = [];
  private next = 0;
  count = 0;
  constructor(private readonly size: number) {}
  add(v: number): void {
    this.count++;
    if (this.values.length < this.size) this.values.push(v);
    else this.values[this.next] = v;
    this.next = (this.next + 1) % this.size;
  }
  percentiles(): { p50: number; p95: number; p99: number } {
    const s = [...this.values].sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
    return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
  }
}

const str = (v: unknown, max = 120): string | undefined =>
  typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const BACKENDS = new Set(['key', 'keyless']);

export class StatusAggregator {
  private readonly decisions = new Map<string, { decision: string; reason: string; count: number }>();
  private readonly rules = new Map<string, number>();
  private readonly upstream = new Map<string, number>();
  private readonly latency = new Map<string, Ring>();
  private readonly health = new Map<string, SecretHealth>();
  private hits = 0;
  private misses = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** One line (or several, newline-separated) as the functions wrote it; anything unparsable is ignored. */
  ingest(text: string): void {
    for (const line of text.split('\n')) {
      if (!line.trim().startsWith('{')) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (parsed === null || typeof parsed !== 'object') continue;
      const o = parsed as Record<string, unknown>;
      const payload = (o.jsonPayload && typeof o.jsonPayload === 'object' ? o.jsonPayload : o) as Record<
        string,
        unknown
      >;
      if (payload.event === 'rotation_health') this.rotationHealth(payload);
      else if (typeof payload.decision === 'string' && typeof payload.reason === 'string')
        this.audit(payload);
    }
  }

  private bump<K>(map: Map<K, number>, key: K): void {
    if (!map.has(key) && map.size >= MAX_KEYS) return;
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  private audit(e: Record<string, unknown>): void {
    const decision = str(e.decision, 40)!;
    const reason = str(e.reason, 80)!;
    const k = `${decision}\u0000${reason}`;
    const d = this.decisions.get(k);
    if (d) d.count++;
    else if (this.decisions.size < MAX_KEYS) this.decisions.set(k, { decision, reason, count: 1 });
    const rule = str(e.rule, 80);
    if (rule) this.bump(this.rules, rule);
    const upstream = str(e.upstream, 40);
    if (decision === 'error' && upstream) this.bump(this.upstream, upstream);
    if (e.cacheHit === true) this.hits++;
    else if (e.cacheHit === false && (e.mint !== undefined || decision === 'granted')) this.misses++;
    // Contract (ops-contract.md): `mint: {backend, latencyMs, attempts}` on every entry that minted.
    // Before those fields exist, a granted cache miss's whole-request latency stands in.
    const mint = e.mint && typeof e.mint === 'object' ? (e.mint as Record<string, unknown>) : undefined;
    const target = e.target && typeof e.target === 'object' ? (e.target as Record<string, unknown>) : {};
    const sample = mint
      ? { backend: mint.backend, ms: num(mint.latencyMs) }
      : e.cacheHit === false && decision === 'granted'
        ? { backend: target.backend, ms: num(e.latencyMs) }
        : undefined;
    if (sample?.ms !== undefined) {
      const backend =
        typeof sample.backend === 'string' && BACKENDS.has(sample.backend) ? sample.backend : 'other';
      let ring = this.latency.get(backend);
      if (!ring) this.latency.set(backend, (ring = new Ring(LATENCY_RESERVOIR)));
      ring.add(sample.ms);
    }
  }

  private rotationHealth(e: Record<string, unknown>): void {
    const secret = str(e.secret, 300);
    if (!secret || (!this.health.has(secret) && this.health.size >= MAX_KEYS)) return;
    const now = this.now();
    const due = num(e.dueInSeconds);
    const err =
      e.lastError && typeof e.lastError === 'object' ? (e.lastError as Record<string, unknown>) : undefined;
    this.health.set(secret, {
      secret,
      kind: str(e.kind, 20),
      outcome: str(e.outcome, 20),
      phase: str(e.phase, 20),
      dueAtMs: due === undefined ? null : now + due * 1000,
      credentialAgeSeconds: num(e.credentialAgeSeconds) ?? null,
      ...(err ? { lastError: { code: str(err.code, 40) ?? '', reason: str(err.reason, 120) ?? '' } } : {}),
      seenAtMs: now,
    });
  }

  snapshot(): StatusSnapshot {
    const total = this.hits + this.misses;
    return {
      decisions: [...this.decisions.values()].sort((a, b) => b.count - a.count).map((d) => ({ ...d })),
      rules: [...this.rules].map(([rule, count]) => ({ rule, count })).sort((a, b) => b.count - a.count),
      cache: { hits: this.hits, misses: this.misses, ratio: total === 0 ? null : this.hits / total },
      mintLatency: [...this.latency]
        .map(([backend, ring]) => ({ backend, count: ring.count, ...ring.percentiles() }))
        .sort((a, b) => a.backend.localeCompare(b.backend)),
      upstreamErrors: [...this.upstream].map(([upstream, count]) => ({ upstream, count })),
      rotationHealth: [...this.health.values()].map((h) => ({ ...h })),
    };
  }
}
