/**
 * Summarises a sampled allocation profile (`bench/memory-probe.ts --env=TVS_MEMORY_PROBE_ALLOCATIONS=A-B`
 * writes one, garbage included): `npx tsx bench/allocation-sites.ts allocations.heapprofile`
 * prints the functions that allocated the most bytes (self), and the same grouped by package.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: allocation-sites.ts allocations.heapprofile');
const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: ProfileNode };
const bySite = new Map<string, number>();
const byPackage = new Map<string, number>();
let total = 0;
const walk = (node: ProfileNode, stack: string[], caller: string) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/');
  // Builtins (Array.prototype.push, Map.prototype.set, ...) have no URL: charge their caller.
  const site = url ? `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}` : caller;
  const here = [...stack, where];
  if (node.selfSize > 0) {
    total += node.selfSize;
    bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    // The innermost frame that is not Node's own code names the package responsible.
    const owner = [...here].reverse().find((u) => u && !u.startsWith('node:')) ?? '(node internals)';
    const pkg = owner.startsWith('@') ? owner.split('/').slice(0, 2).join('/') : owner.split('/')[0];
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + node.selfSize);
  }
  for (const child of node.children) walk(child, here, site);
};
walk(head, [], '(root)');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const top = (rows: Map<string, number>, n: number) =>
  [...rows]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(
      ([name, bytes]) =>
        `${mb(bytes).padStart(10)} ${((bytes / total) * 100).toFixed(1).padStart(5)} %  ${name}`,
    )
    .join('\n');
process.stdout.write(
  `sampled allocations: ${mb(total)}\n\nby site:\n${top(bySite, 25)}\n\nby package (innermost non-node frame):\n${top(byPackage, 15)}\n`,
);
