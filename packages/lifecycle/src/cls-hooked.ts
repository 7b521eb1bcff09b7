import { getContextBridge, setContextBridge, type ContextBridge, type RequestContext } from './context';
import { InvalidOptionError, describeValue } from './options-validation';
import { resolveClsHookedOptions, type ClsHookedOptions } from './options';

/**
 * The part of a cls-hooked `Namespace` (from `createNamespace()`) keel uses;
 * cls-hooked itself is never imported, so it stays an optional peer dependency.
 */
export interface ClsNamespace {
  /** The namespace's context in force, or a falsy value outside one. */
  readonly active?: unknown;
  /** Runs `fn` in a new namespace context (a child of the active one) and returns its result. */
  runAndReturn<T>(fn: (...args: any[]) => T): T;
  /** Sets `key` in the active namespace context. */
  set(key: string, value: unknown): unknown;
  /** Reads `key` from the active namespace context. */
  get(key: string): unknown;
}

function isNamespace(value: unknown): value is ClsNamespace {
  const candidate = value as Record<string, unknown> | null;
  return typeof candidate === 'object' && candidate !== null && ['runAndReturn', 'set', 'get'].every((method) => typeof candidate[method] === 'function');
}

/**
 * Publishes every request context into a cls-hooked namespace as well, under
 * `key`, for apps that already run one (Sequelize v6 `useCLS`): inside a
 * request, `namespace.get(key)` is the request's context and values the app sets
 * on the namespace stay visible for the rest of that request. AsyncLocalStorage
 * stays the primary store: `getContext()` works the same either way.
 * Returns the function that uninstalls the bridge.
 */
export function useClsHooked(namespace: ClsNamespace, options?: Partial<ClsHookedOptions>): () => void {
  if (!isNamespace(namespace)) {
    throw new InvalidOptionError('@keel/lifecycle', 'namespace', 'a cls-hooked namespace (from createNamespace())', namespace);
  }
  const { key } = resolveClsHookedOptions(options);
  if (getContextBridge() !== undefined) {
    throw new InvalidOptionError('@keel/lifecycle', 'namespace', 'the only context bridge (call the uninstall function of the previous useClsHooked() first)', `${describeValue(namespace)} while another bridge is installed`);
  }
  const bridge: ContextBridge = {
    run<T>(context: RequestContext, fn: () => T): T {
      // Re-entering the same request must not open a child namespace context,
      // or values the app set in the outer one would be shadowed.
      if (namespace.active && namespace.get(key) === context) return fn();
      return namespace.runAndReturn(() => {
        namespace.set(key, context);
        return fn();
      });
    },
  };
  setContextBridge(bridge);
  return function uninstallClsHooked(): void {
    if (getContextBridge() === bridge) setContextBridge(undefined);
  };
}
