/**
 * Global setup of `npm run test:long`: gives suites a directory for their figures and prints the
 * reliability summary table when the run ends.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { Figures } from './figures.js';

type Row = Figures & { suite: string };

const COLUMNS: Array<[keyof Figures, string]> = [
  ['casesTried', 'cases tried'],
  ['attacksRefused', 'attacks refused'],
  ['faultsSurvived', 'faults survived'],
  ['crashesConverged', 'crashes converged'],
  ['fiveHundredsSeen', '5xx seen'],
  ['secretsLeaked', 'secrets leaked'],
  ['rssGrowthPercent', 'RSS growth %'],
  ['p99Ms', 'p99 ms'],
  ['requests', 'requests'],
];

/** Renders rows (and a total line) as a Markdown table. */
export function renderSummary(rows: Row[]): string {
  const cell = (v: number | undefined) => (v === undefined ? '–' : String(Math.round(v * 10) / 10));
  const header = `| suite | ${COLUMNS.map(([, label]) => label).join(' | ')} |`;
  const rule = `| --- | ${COLUMNS.map(() => '---:').join(' | ')} |`;
  const lines = rows
    .sort((a, b) => a.suite.localeCompare(b.suite))
    .map((r) => `| ${r.suite} | ${COLUMNS.map(([k]) => cell(r[k])).join(' | ')} |`);
  const sum = (k: keyof Figures) =>
    rows.some((r) => r[k] !== undefined) ? rows.reduce((s, r) => s + (r[k] ?? 0), 0) : undefined;
  const total = `| **total** | ${COLUMNS.map(([k]) => (k === 'rssGrowthPercent' || k === 'p99Ms' ? '' : cell(sum(k)))).join(' | ')} |`;
  return [header, rule, ...lines, total].join('\n');
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'tvs-figures-'));
  project.provide('reliabilityFiguresDir', dir);
  return () => {
    const rows = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Row);
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`\nReliability summary (npm run test:long)\n\n${renderSummary(rows)}\n\n`);
  };
}
