/**
 * Returns the process-wide value stored under `Symbol.for(key)` on `globalThis`,
 * creating it on first use. Two installed copies of this package share it, so
 * they never split the request context or the default lifecycle.
 */
export function processGlobal<T>(key: string, create: () => T): T {
  const symbol = Symbol.for(key);
  const store = globalThis as unknown as Record<symbol, T | undefined>;
  let value = store[symbol];
  if (value === undefined) {
    value = create();
    store[symbol] = value;
  }
  return value;
}

/** The layout versions of each versioned process-wide value loaded in this process, by name. */
const loadedVersions = processGlobal('keel.processGlobal.versions', () => new Map<string, Set<number>>());

/**
 * Like {@link processGlobal}, for a value whose shape can change between
 * releases: copies of the package that agree on `version` share one value;
 * a copy with another version keeps its own (sharing a value it cannot read
 * would be unsafe) and the process is warned once per name that the copies no
 * longer share it (`KEEL_SPLIT_STATE`: deduplicate the installed packages).
 */
export function versionedProcessGlobal<T>(name: string, version: number, create: () => T): T {
  let versions = loadedVersions.get(name);
  if (versions === undefined) {
    versions = new Set();
    loadedVersions.set(name, versions);
  }
  if (!versions.has(version)) {
    versions.add(version);
    if (versions.size === 2) {
      process.emitWarning(`two copies of a keel package with different layouts of "${name}" (versions ${[...versions].join(' and ')}) are loaded: they do not share it`, {
        code: 'KEEL_SPLIT_STATE',
        detail: 'Requests seen by one copy are invisible to the other. Install one version of each @keel package (npm dedupe; npm ls @keel/lifecycle shows the copies).',
      });
    }
  }
  return processGlobal(`${name}@${version}`, create);
}
