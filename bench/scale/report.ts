/**
 * Runs the scale model over a grid of (instances, keys) and formats what it found as Markdown.
 */
import { expectedPerMinute, type UpstreamRates } from './closed-form.js';
import { checkParams, type ScaleParams } from './params.js';
import { exceeds, firstExceeding, type GoogleQuota } from './quotas.js';
import { simulate } from './simulate.js';

export interface GridPoint {
  instances: number;
  keys: number;
  /** Closed-form steady-state mean per minute. */
  expected: UpstreamRates;
  /** Simulated steady state (staggered instance starts, third hour): mean and busiest minute. */
  steadyMean: UpstreamRates;
  steadyPeak: UpstreamRates;
  /** Simulated rollout (all instances start empty together, first hour): busiest minute. */
  rolloutPeak: UpstreamRates;
}

/** The measures a quota is checked against, in the order they are reported. */
export const MEASURES = [
  { id: 'expected', label: 'steady mean (closed form)' },
  { id: 'steadyPeak', label: 'steady busiest minute (simulated)' },
  { id: 'rolloutPeak', label: 'rollout busiest minute (simulated)' },
] as const satisfies ReadonlyArray<{ id: keyof GridPoint; label: string }>;

/** A seed per grid point, so a point's numbers do not depend on which other points were run. */
export function pointSeed(seed: number, instances: number, keys: number, salt: number): number {
  return (
    (Math.imul(seed ^ 0x9e3779b9, 31) + Math.imul(instances, 100_003) + Math.imul(keys, 7_919) + salt) | 0
  );
}

export function runGrid(
  base: ScaleParams,
  instancesGrid: readonly number[],
  keysGrid: readonly number[],
  seed: number,
): GridPoint[] {
  const points: GridPoint[] = [];
  for (const keys of keysGrid) {
    for (const instances of instancesGrid) {
      const params = { ...base, instances, keys };
      checkParams(params);
      const steady = simulate(params, { seed: pointSeed(seed, instances, keys, 1), start: 'staggered' });
      const rollout = simulate(params, { seed: pointSeed(seed, instances, keys, 2), start: 'together' });
      points.push({
        instances,
        keys,
        expected: expectedPerMinute(params),
        steadyMean: steady.mean,
        steadyPeak: steady.peak,
        rolloutPeak: rollout.peak,
      });
    }
  }
  return points;
}

/** 950 → "950", 12_345 → "12k", 1_234_567 → "1.2M". */
export function compact(value: number): string {
  const v = Math.round(value);
  if (v < 1000) return String(v);
  if (v < 10_000) return `${(v / 1000).toFixed(1)}k`;
  if (v < 1_000_000) return `${Math.round(v / 1000)}k`;
  return `${(v / 1_000_000).toFixed(1)}M`;
}

/**
 * A Markdown matrix, keys down and instances across; each cell is "steady mean / steady busiest
 * minute / rollout busiest minute" of the quota's calls per minute, in bold where over the quota.
 */
export function quotaMatrix(points: readonly GridPoint[], quota: GoogleQuota): string {
  const instances = [...new Set(points.map((p) => p.instances))];
  const keys = [...new Set(points.map((p) => p.keys))];
  const cell = (p: GridPoint) =>
    MEASURES.map(({ id }) => {
      const calls = quota.counts(p[id]);
      return exceeds(quota, calls) ? `**${compact(calls)}**` : compact(calls);
    }).join(' / ');
  const lines = [
    `| keys \\ instances | ${instances.join(' | ')} |`,
    `| ---: | ${instances.map(() => '---').join(' | ')} |`,
  ];
  for (const k of keys) {
    const row = instances.map((n) => cell(points.find((p) => p.instances === n && p.keys === k)!));
    lines.push(`| ${k} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** For each measure and key count, the fewest instances of the grid at which the quota is exceeded. */
export function thresholdTable(points: readonly GridPoint[], quota: GoogleQuota): string {
  const instances = [...new Set(points.map((p) => p.instances))].sort((a, b) => a - b);
  const keys = [...new Set(points.map((p) => p.keys))];
  const lines = [
    `| measure | ${keys.map((k) => `${k} keys`).join(' | ')} |`,
    `| --- | ${keys.map(() => '---').join(' | ')} |`,
  ];
  for (const { id, label } of MEASURES) {
    const row = keys.map((k) => {
      const n = firstExceeding(quota, instances, (i) =>
        quota.counts(points.find((p) => p.instances === i && p.keys === k)![id]),
      );
      return n === null ? '—' : String(n);
    });
    lines.push(`| ${label} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}
