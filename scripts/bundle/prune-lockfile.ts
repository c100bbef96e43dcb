/**
 * A package-lock.json for a deployed function: the repository's lock cut down to the packages the
 * function installs (the runtime dependencies and everything they pull in, at the very versions
 * and paths the tests ran), so the buildpack's `npm ci` reproduces them.
 */

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  link?: boolean;
  [field: string]: unknown;
}

export interface Lockfile {
  name: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry> & { '': LockEntry };
}

/** Where `name` resolves from the package installed at `from` (Node's lookup, over lock paths). */
function resolve(packages: Lockfile['packages'], from: string, name: string): string | undefined {
  for (let dir = from; ;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at === -1 ? '' : dir.slice(0, at);
  }
}

/**
 * The lock of a package named `name` whose only dependencies are `roots` (pinned to the locked
 * versions), holding exactly their closure. Throws when the lock lacks a package it needs.
 */
export function prunedLockfile(lock: Lockfile, name: string, roots: readonly string[]): Lockfile {
  if (lock.lockfileVersion < 2) throw new TypeError('package-lock.json must be lockfileVersion 2 or 3');
  const kept: Record<string, LockEntry> = {};
  const rootDependencies: Record<string, string> = {};
  const queue: Array<{ from: string; dep: string; optional: boolean }> = roots.map((dep) => ({
    from: '',
    dep,
    optional: false,
  }));
  for (let item = queue.shift(); item; item = queue.shift()) {
    const path = resolve(lock.packages, item.from, item.dep);
    if (!path) {
      if (item.optional) continue;
      throw new Error(`package-lock.json has no ${item.dep} for ${item.from || 'the root'}`);
    }
    const entry = lock.packages[path];
    if (item.from === '') rootDependencies[item.dep] = entry.version!;
    if (kept[path]) continue;
    if (entry.link) throw new Error(`${path} is a link; a deployed function cannot install it`);
    const { dev: _dev, devOptional: _devOptional, ...copy } = entry;
    kept[path] = copy;
    for (const dep of Object.keys(entry.dependencies ?? {})) queue.push({ from: path, dep, optional: false });
    for (const dep of Object.keys(entry.optionalDependencies ?? {}))
      queue.push({ from: path, dep, optional: true });
    for (const dep of Object.keys(entry.peerDependencies ?? {}))
      queue.push({ from: path, dep, optional: entry.peerDependenciesMeta?.[dep]?.optional === true });
  }
  const sorted = Object.fromEntries(
    Object.keys(kept)
      .sort()
      .map((path) => [path, kept[path]]),
  );
  return {
    name,
    lockfileVersion: lock.lockfileVersion,
    requires: true,
    packages: { '': { name, dependencies: rootDependencies }, ...sorted },
  };
}
