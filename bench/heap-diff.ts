/**
 * Summarises V8 heap snapshots by constructor: `npx tsx bench/heap-diff.ts A.heapsnapshot
 * [B.heapsnapshot]` prints the biggest constructors (count, self size) of A, or of B with the
 * difference from A (e.g. the end of warm-up against the end of a load run; see
 * `bench/memory-probe.ts --snapshots`). Self sizes only: what each object itself occupies, so
 * the rows add up to the heap that survived the snapshot's GC.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Row {
  count: number;
  bytes: number;
}

/** `(type) name` → count and self size, for every node of the snapshot. */
export function byConstructor(snapshot: Snapshot): Map<string, Row> {
  const fields = snapshot.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snapshot.snapshot.meta.node_types[0];
  const rows = new Map<string, Row>();
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = types[snapshot.nodes[i + typeAt]];
    // Objects by constructor; strings, arrays, code and the rest by their type.
    const name =
      type === 'object' || type === 'closure' || type === 'native'
        ? `${snapshot.strings[snapshot.nodes[i + nameAt]]} (${type})`
        : `(${type})`;
    const row = rows.get(name) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += snapshot.nodes[i + sizeAt];
    rows.set(name, row);
  }
  return rows;
}

function load(path: string): Map<string, Row> {
  return byConstructor(JSON.parse(readFileSync(path, 'utf8')) as Snapshot);
}

const total = (rows: Map<string, Row>) => [...rows.values()].reduce((sum, r) => sum + r.bytes, 0);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

if (process.argv[1]?.endsWith('heap-diff.ts')) {
  const [first, second] = process.argv.slice(2);
  if (!first) throw new Error('usage: heap-diff.ts A.heapsnapshot [B.heapsnapshot]');
  const a = load(first);
  const top = Number(process.env.TOP ?? 30);
  if (!second) {
    process.stdout.write(`total ${kb(total(a))}\n`);
    for (const [name, row] of [...a].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, top))
      process.stdout.write(`${kb(row.bytes).padStart(10)} ${String(row.count).padStart(9)}  ${name}\n`);
  } else {
    const b = load(second);
    process.stdout.write(
      `total ${kb(total(a))} → ${kb(total(b))} (${total(b) >= total(a) ? '+' : ''}${kb(total(b) - total(a))})\n`,
    );
    const names = new Set([...a.keys(), ...b.keys()]);
    const diffs = [...names].map((name) => {
      const before = a.get(name) ?? { count: 0, bytes: 0 };
      const after = b.get(name) ?? { count: 0, bytes: 0 };
      return { name, before, after, delta: after.bytes - before.bytes };
    });
    process.stdout.write('largest in B, with change from A:\n');
    for (const d of diffs.sort((x, y) => y.after.bytes - x.after.bytes).slice(0, top))
      process.stdout.write(
        `${kb(d.after.bytes).padStart(10)} ${String(d.after.count).padStart(9)}  (${d.delta >= 0 ? '+' : ''}${kb(d.delta)}, ${d.after.count - d.before.count >= 0 ? '+' : ''}${d.after.count - d.before.count})  ${d.name}\n`,
      );
    process.stdout.write('largest growth:\n');
    for (const d of diffs.sort((x, y) => y.delta - x.delta).slice(0, top))
      process.stdout.write(
        `${(d.delta >= 0 ? '+' : '') + kb(d.delta)}`.padStart(10) +
          ` ${(d.after.count - d.before.count >= 0 ? '+' : '') + String(d.after.count - d.before.count)}`.padStart(
            10,
          ) +
          `  ${d.name}\n`,
      );
  }
}
