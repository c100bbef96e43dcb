/**
 * docs/security.md names, for each threat, the test that proves the mitigation. This keeps those
 * references true: every cited file exists, and every quoted test name (unless abbreviated with
 * "…" or a `%s` placeholder) is the name of a test in that file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const doc = readFileSync(`${ROOT}docs/security.md`, 'utf8');

/** `file.test.ts` › "name", "name" … as cited in the doc (paths relative to test/). */
function citations(): Array<{ file: string; names: string[] }> {
  const out: Array<{ file: string; names: string[] }> = [];
  for (const m of doc.matchAll(/`([a-z0-9/_.-]+\.test\.ts)`(?: › ((?:"[^"]+"(?:, )?)+))?/g)) {
    out.push({ file: `test/${m[1]}`, names: m[2] ? [...m[2].matchAll(/"([^"]+)"/g)].map((n) => n[1]) : [] });
  }
  return out;
}

/**
 * Whether `name` is a test title in `source`: a literal title, or a `%s` template (it.each) whose
 * filled-in parts each appear in the source as well.
 */
function namesATest(source: string, name: string): boolean {
  if (source.includes(name) || source.includes(name.replace(/'/g, "\\'"))) return true;
  const templates = [...source.matchAll(/(['`"])((?:(?!\1).)*%s(?:(?!\1).)*)\1/g)].map((m) => m[2]);
  return templates.some((template) => {
    const pattern = template
      .split('%s')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('(.+)');
    const match = new RegExp(`^${pattern}$`).exec(name);
    return match !== null && match.slice(1).every((part) => source.includes(part));
  });
}

describe('docs/security.md', () => {
  const cited = citations();

  it('cites tests', () => {
    expect(cited.length).toBeGreaterThan(30);
  });

  it.each(cited.map((c) => [c.file, c]))('cites %s, which exists and holds the named tests', (_file, c) => {
    expect(existsSync(`${ROOT}${c.file}`), c.file).toBe(true);
    const source = readFileSync(`${ROOT}${c.file}`, 'utf8');
    for (const name of c.names.filter((n) => !n.includes('…') && !n.includes('%'))) {
      expect(namesATest(source, name), `${c.file}: "${name}"`).toBe(true);
    }
  });
});
