import { check, InvalidOptionError, resolveOptions as resolve, type OptionCheck } from './options-validation';
import { createJsonLogger, type Logger } from './logger';

/** The signals a lifecycle may listen to; faults like SIGSEGV are never handled. */
export const SHUTDOWN_SIGNALS = Object.freeze(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const);

/** A signal that starts a graceful shutdown. */
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/** Options of {@link createLifecycle}. */
export interface LifecycleOptions {
  /**
   * The whole shutdown budget in ms (or `'30s'`): from the signal to the exit,
   * every phase included. Kubernetes' default grace period.
   * @defaultValue `30000`
   */
  shutdownTimeout: number;
  /**
   * The deregistration delay in ms: readiness fails and traffic is still served,
   * so load balancers move off first. `'auto'` is 5000 in Kubernetes (when
   * `KUBERNETES_SERVICE_HOST` is set) and 0 elsewhere.
   * @defaultValue `'auto'`
   */
  preStopDelay: number | 'auto';
  /**
   * The default timeout of one shutdown hook, in ms. A hook's own `timeout` wins.
   * @defaultValue `10000`
   */
  hookTimeout: number;
  /**
   * The signals that start a graceful shutdown; a second one forces exit 1. `[]` listens to none.
   * @defaultValue `['SIGTERM', 'SIGINT']`
   */
  signals: readonly ShutdownSignal[];
  /**
   * Whether the lifecycle owns the process: it calls `process.exit()` with the
   * shutdown's exit code when done. True for the default lifecycle.
   * @defaultValue `false`
   */
  exit: boolean;
  /**
   * Where lifecycle events are logged (winston, pino or console fit).
   * @defaultValue a JSON-lines logger on stdout
   */
  logger: Logger;
}

/** The one source of {@link LifecycleOptions} defaults. */
export const DEFAULTS: Readonly<Omit<LifecycleOptions, 'logger'>> = Object.freeze({
  shutdownTimeout: 30_000,
  preStopDelay: 'auto' as const,
  hookTimeout: 10_000,
  signals: Object.freeze(['SIGTERM', 'SIGINT'] as ShutdownSignal[]),
  exit: false,
});

/** Options after defaults and checks, with `preStopDelay` resolved to ms. */
export interface ResolvedLifecycleOptions extends Readonly<LifecycleOptions> {
  readonly preStopDelay: number;
}

const MAX_DURATION = 24 * 3_600_000;

/** The preStopDelay that `'auto'` means in this environment. */
export function autoPreStopDelay(env: NodeJS.ProcessEnv = process.env): number {
  return env.KUBERNETES_SERVICE_HOST ? 5_000 : 0;
}

/** Checks `input` against {@link LifecycleOptions} and fills in defaults; throws on any bad option. */
export function resolveOptions(input: unknown): ResolvedLifecycleOptions {
  const preStopDelay: OptionCheck<number | 'auto'> = check.either(
    check.oneOf('auto' as const),
    check.duration(0, MAX_DURATION),
    `'auto' or a duration from 0 ms to ${MAX_DURATION} ms`,
  );
  const signal = check.oneOf<ShutdownSignal>(...SHUTDOWN_SIGNALS);
  const options = resolve<LifecycleOptions>(
    '@keel/lifecycle',
    input,
    { ...DEFAULTS, logger: undefined as unknown as Logger },
    {
      shutdownTimeout: check.duration(1, MAX_DURATION),
      preStopDelay,
      hookTimeout: check.duration(1, MAX_DURATION),
      signals: check.arrayOf(signal, `an array of signals from ${SHUTDOWN_SIGNALS.join(', ')}`),
      exit: check.boolean(),
      logger: check.logger<Logger>(),
    },
  );
  const resolved = {
    ...options,
    preStopDelay: options.preStopDelay === 'auto' ? autoPreStopDelay() : options.preStopDelay,
    logger: options.logger ?? createJsonLogger(),
  };
  if (resolved.preStopDelay >= resolved.shutdownTimeout) {
    throw new InvalidOptionError(
      '@keel/lifecycle',
      'preStopDelay',
      `less than shutdownTimeout (${resolved.shutdownTimeout} ms)`,
      resolved.preStopDelay,
    );
  }
  return Object.freeze(resolved);
}
