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
