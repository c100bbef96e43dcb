/** Medians with their spread, and ratios against a baseline measured in the same run. */

/** A figure over repeated runs: median and min..max of the samples. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

/** Median (mean of the middle two for an even count), min and max. Throws on no samples. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new TypeError('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], samples: [...samples] };
}

/**
 * Per-run ratios `ours[i] / baseline[i]` (runs are interleaved, so each pair saw the same
 * machine weather), summarised. Arrays must be the same length.
 */
export function pairedRatio(ours: readonly number[], baseline: readonly number[]): Summary {
  if (ours.length !== baseline.length) throw new TypeError('pairedRatio: runs differ in number');
  return summarize(ours.map((value, i) => value / baseline[i]));
}

/** Percentile (nearest rank) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new TypeError('percentile: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** `12.3 (11.0..14.1)` with a fixed number of decimals. */
export function formatSummary(summary: Summary, decimals = 0): string {
  if (Number.isNaN(summary.median)) return 'n/a';
  const f = (n: number) => n.toFixed(decimals);
  return `${f(summary.median)} (${f(summary.min)}..${f(summary.max)})`;
}
