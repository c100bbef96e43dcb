/**
 * Figures for the long run's summary table. Each suite records its counts; the long config's
 * global setup provides a directory and prints the table when the run ends. Outside the long
 * run nothing is provided and recording is a no-op.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    reliabilityFiguresDir?: string;
  }
}

/** The columns of the summary table; a suite fills those it measures. */
export interface Figures {
  casesTried?: number;
  attacksRefused?: number;
  faultsSurvived?: number;
  crashesConverged?: number;
  fiveHundredsSeen?: number;
  secretsLeaked?: number;
  rssGrowthPercent?: number;
  p99Ms?: number;
  requests?: number;
}

/** True in `npm run test:long` (TVS_LONG=1): suites then run at full size. */
export const LONG = process.env.TVS_LONG === '1';

/** Records `figures` for `suite` (one JSON file per suite; the last write wins). */
export function recordFigures(suite: string, figures: Figures): void {
  const dir = inject('reliabilityFiguresDir');
  if (!dir) return;
  writeFileSync(join(dir, `${suite}.json`), JSON.stringify({ suite, ...figures }));
}
