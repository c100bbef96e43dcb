/**
 * The README is a map: each topic lives in one page under docs/, one click away. This keeps the map
 * true: every relative link in a tracked Markdown file names a file that exists, and a `#fragment`
 * into a Markdown file names one of its headings (GitHub's anchor for it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const markdownFiles = execFileSync(
  'git',
  ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'],
  {
    cwd: ROOT,
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter((file) => file !== '' && !file.startsWith('node_modules/') && existsSync(join(ROOT, file)));

/** The text outside fenced code blocks, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const headings = prose(readFileSync(join(ROOT, file), 'utf8')).matchAll(/^#{1,6}\s+(.+)$/gm);
  return new Set([...headings].map((m) => anchor(m[1])));
}

/** Relative link targets of a file: `[text](target)`, leaving out URLs with a scheme. */
function relativeLinks(file: string): string[] {
  const text = prose(readFileSync(join(ROOT, file), 'utf8'));
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/i.test(t));
}

describe('relative links in the Markdown docs', () => {
  it('finds the README and the docs it links to', () => {
    expect(markdownFiles).toContain('README.md');
    expect(relativeLinks('README.md').filter((t) => t.startsWith('docs/')).length).toBeGreaterThan(10);
  });

  it.each(markdownFiles.map((file) => [file]))('%s links only to files and headings that exist', (file) => {
    for (const link of relativeLinks(file)) {
      const [path, fragment] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : normalize(join(dirname(file), path));
      expect(existsSync(join(ROOT, target)), `${file}: ${link}`).toBe(true);
      if (fragment !== undefined && target.endsWith('.md')) {
        expect(anchorsOf(target), `${file}: ${link}`).toContain(fragment);
      }
    }
  });
});
