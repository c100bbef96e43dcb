/** The bench's figures: each with its same-run baseline and ratio, printed as a table. */
import { formatSummary, type Summary } from './stats.js';

export interface Figure {
  /** e.g. `1a` */
  id: string;
  name: string;
  unit: string;
  ours: Summary;
  /** What the baseline is (measured in the same run). */
  baselineName: string;
  baseline: Summary;
  /** Per-run `ours / baseline`, summarised. */
  ratio: Summary;
  /** Human-readable target, e.g. `ratio ≥ 0.90`; absent for context-only figures. */
  target?: string;
  /** Whether the target was met (median); absent without a target. */
  met?: boolean;
  decimals?: number;
  /** Decimals of the ratio column (default 2). */
  ratioDecimals?: number;
  note?: string;
}

export interface BenchReport {
  mode: 'quick' | 'full';
  startedAt: string;
  durationSeconds: number;
  machine: {
    cpuModel: string;
    cores: number;
    node: string;
    platform: string;
    pinned: boolean;
    totalMemMb: number;
    loadAverageAtStart: number[];
  };
  setup: string[];
  figures: Figure[];
  details: Record<string, unknown>;
  /** Set when a scenario failed; figures measured before it are still reported. */
  error?: string;
}

function fmt(summary: Summary, decimals: number): string {
  return formatSummary(summary, decimals);
}

function verdict(figure: Figure): string {
  if (figure.met === undefined) return '—';
  return figure.met ? 'yes' : 'NO';
}

function rows(figures: readonly Figure[]): string[][] {
  return figures.map((f) => [
    f.id,
    `${f.name} (${f.unit})`,
    fmt(f.ours, f.decimals ?? 0),
    `${f.baselineName}: ${fmt(f.baseline, f.decimals ?? 0)}`,
    `${fmt(f.ratio, f.ratioDecimals ?? 2)}×`,
    f.target ?? '—',
    verdict(f),
  ]);
}

const HEADER = [
  '#',
  'figure',
  'ours: median (min..max)',
  'baseline (same run): median (min..max)',
  'ratio',
  'target',
  'met',
];

/** A plain-text table for the terminal. */
export function textTable(figures: readonly Figure[]): string {
  const all = [HEADER, ...rows(figures)];
  const widths = HEADER.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  return [line(all[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

/** The same table in Markdown (for docs/performance.md). */
export function markdownTable(figures: readonly Figure[]): string {
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  const all = rows(figures);
  return [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...all.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

/** Notes attached to figures, one line each. */
export function figureNotes(figures: readonly Figure[]): string[] {
  return figures.filter((f) => f.note).map((f) => `${f.id}: ${f.note}`);
}
