import { check, resolveOptions as resolve, type Lifecycle, type Logger, type OptionCheck } from '@keel/lifecycle';

/** What a process-level fault does once it has been answered and logged. */
export type FaultPolicy = 'shutdown' | 'continue';

/** Options of {@link installProcessGuards}. */
export interface ProcessGuardsOptions {
  /**
   * What an `uncaughtException` does after the owning request was answered and
   * the error logged: `'shutdown'` starts a graceful shutdown of the lifecycle
   * with exit code 1 (Node does not promise a sane state after one); `'continue'`
   * keeps serving.
   * @defaultValue `'shutdown'`
   */
  onUncaughtException: FaultPolicy;
  /**
   * What an `unhandledRejection` does after the owning request was answered and
   * the error logged: `'continue'` keeps serving; `'shutdown'` treats it like an
   * uncaught exception.
   * @defaultValue `'continue'`
   */
  onUnhandledRejection: FaultPolicy;
  /**
   * Whether the request that owned the fault is answered with a 500 when its
   * response is still open: through the app's error handlers (`req.next(err)`)
   * while Express is routing it, else with a minimal `application/problem+json` 500.
   * @defaultValue `true`
   */
  respond: boolean;
  /**
   * Whether the guards may call `process.exit(1)`: at once on a fatal error
   * while the lifecycle is already shutting down, and when a shutdown they
   * started has ended without the lifecycle exiting itself. `'auto'` follows the
   * lifecycle's own `exit` option (true for the default lifecycle).
   * @defaultValue `'auto'`
   */
  exit: boolean | 'auto';
  /**
   * The lifecycle a fatal error shuts down.
   * @defaultValue `getDefaultLifecycle()`, looked up when first needed
   */
  lifecycle: Lifecycle | undefined;
  /**
   * Where faults are logged, one line each, with the request's trace ID.
   * @defaultValue the lifecycle's logger (a JSON-lines logger on stdout)
   */
  logger: Logger | undefined;
}

/** The one source of {@link ProcessGuardsOptions} defaults (`lifecycle` and `logger` are looked up when needed). */
export const DEFAULTS: Readonly<Omit<ProcessGuardsOptions, 'lifecycle' | 'logger'>> = Object.freeze({
  onUncaughtException: 'shutdown' as const,
  onUnhandledRejection: 'continue' as const,
  respond: true,
  exit: 'auto' as const,
});

const lifecycleCheck: OptionCheck<Lifecycle | undefined> = (value, fail) => {
  const candidate = value as Partial<Record<'shutdown' | 'onShutdown', unknown>> | null;
  const ok = typeof candidate === 'object' && candidate !== null && typeof candidate.shutdown === 'function' && typeof candidate.onShutdown === 'function';
  return ok ? (value as Lifecycle) : fail('a lifecycle from @keel/lifecycle (with shutdown() and onShutdown())');
};

/** Checks `input` against {@link ProcessGuardsOptions} and fills in defaults; throws on any bad option. */
export function resolveOptions(input: unknown): Readonly<ProcessGuardsOptions> {
  return resolve<ProcessGuardsOptions>(
    '@keel/async-guard',
    input,
    { ...DEFAULTS, lifecycle: undefined, logger: undefined },
    {
      onUncaughtException: check.oneOf<FaultPolicy>('shutdown', 'continue'),
      onUnhandledRejection: check.oneOf<FaultPolicy>('shutdown', 'continue'),
      respond: check.boolean(),
      exit: check.either(check.boolean(), check.oneOf('auto' as const), "a boolean or 'auto'"),
      lifecycle: lifecycleCheck,
      logger: check.logger<Logger>(),
    },
  );
}

/** Options of {@link asyncGuard}; none yet, so a typo still fails at call time. */
export type AsyncGuardOptions = Record<string, never>;

/** Checks `input` against {@link AsyncGuardOptions}: any key is unknown. */
export function resolveAsyncGuardOptions(input: unknown): Readonly<AsyncGuardOptions> {
  return resolve<AsyncGuardOptions>('@keel/async-guard', input, {}, {});
}
