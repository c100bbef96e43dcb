/**
 * The Node.js versions the project declares, builds, tests and deploys on agree: package.json
 * `engines`, the Cloud Build images, the Node 24 that `.ci/run` fetches, the functions' runtime.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_RUNTIME, SUPPORTED_RUNTIMES } from './lib/rules-node-runtime.js';

const read = (path: string) => readFile(fileURLToPath(new URL(`../../${path}`, import.meta.url)), 'utf8');

/** Whether `version` (x.y.z) satisfies an engines range written as `^a.b.c || ^d.e.f ...` (the only form we use). */
function satisfies(range: string, version: string): boolean {
  const [major, minor, patch] = version.split('.').map(Number);
  return range.split('||').some((part) => {
    const m = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`engines part "${part}" is not a caret range`);
    const [M, mi, p] = m.slice(1).map(Number);
    return major === M && (minor > mi || (minor === mi && patch >= p));
  });
}

describe('Node.js versions', () => {
  let engines: string;
  let ciNode24: string;
  let buildImages: string[];
  beforeAll(async () => {
    engines = (JSON.parse(await read('package.json')) as { engines: { node: string } }).engines.node;
    ciNode24 = /NODE24_VERSION="\$\{NODE24_VERSION:-(\d+\.\d+\.\d+)\}"/.exec(await read('.ci/run'))?.[1] ?? '';
    const steps = (parse(await read('cloudbuild.yaml')) as { steps: { name: string }[] }).steps;
    buildImages = steps.map((s) => s.name).filter((n) => n.startsWith('node:'));
  });

  it('.ci/run tests on an exact Node 24 release, the one Cloud Build builds on', () => {
    expect(ciNode24).toMatch(/^24\.\d+\.\d+$/);
    expect(buildImages.length).toBeGreaterThan(0);
    for (const image of buildImages) expect(image).toMatch(new RegExp(`^node:${ciNode24.replace(/\./g, '\\.')}-`));
  });

  it('engines accept the Node 20 of the dev machines, and every runtime the functions may deploy on', () => {
    expect(satisfies(engines, process.versions.node)).toBe(true);
    expect(satisfies(engines, '20.19.0')).toBe(true); // what vitest and vite need
    expect(satisfies(engines, ciNode24)).toBe(true);
    for (const runtime of SUPPORTED_RUNTIMES) expect(satisfies(engines, `${runtime.replace('nodejs', '')}.20.0`)).toBe(true);
    expect(DEFAULT_RUNTIME).toBe(`nodejs${ciNode24.split('.')[0]}`);
  });

  it.each(['18.20.0', '20.18.0', '21.7.0', '23.11.0', '25.0.0', '26.0.0'])('engines refuse %s (end of life, odd-numbered, or untested)', (version) => {
    expect(satisfies(engines, version)).toBe(false);
  });
});
