import { check, InvalidOptionError, parseDuration, resolveOptions as resolve, type OptionCheck } from './options-validation';
import { createJsonLogger, type Logger } from './logger';
import { redactingLogger } from './redact';

/** The signals a lifecycle may listen to; faults like SIGSEGV are never handled. */
export const SHUTDOWN_SIGNALS = Object.freeze(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'] as const);

/** A signal that starts a graceful shutdown. */
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/** Options of {@link createLifecycle}. */
export interface LifecycleOptions {
  /**
   * The whole shutdown budget in ms (or a string like `'30s'`): from the signal
   * to the exit, every phase included. Kubernetes' default grace period.
   * @defaultValue `30000`
   */
  shutdownTimeout: number | string;
  /**
   * The deregistration delay in ms (or `'5s'`): readiness fails and traffic is
   * still served, so load balancers move off first. `'auto'` is 5000 in
   * Kubernetes (when `KUBERNETES_SERVICE_HOST` is set), capped at a fifth of
   * `shutdownTimeout`, and 0 elsewhere.
   * @defaultValue `'auto'`
   */
  preStopDelay: number | string;
  /**
   * The default timeout of one shutdown hook, in ms (or `'10s'`). A hook's own
   * `timeout` wins; no hook runs past its phase's share of the budget.
   * @defaultValue `10000`
   */
  hookTimeout: number | string;
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
export const DEFAULTS: Readonly<{
  shutdownTimeout: number;
  preStopDelay: 'auto';
  hookTimeout: number;
  signals: readonly ShutdownSignal[];
  exit: boolean;
}> = Object.freeze({
  shutdownTimeout: 30_000,
  preStopDelay: 'auto' as const,
  hookTimeout: 10_000,
  signals: Object.freeze(['SIGTERM', 'SIGINT'] as ShutdownSignal[]),
  exit: false,
});

/** Options after defaults and checks, every duration in ms and `preStopDelay` resolved. */
export interface ResolvedLifecycleOptions extends Readonly<LifecycleOptions> {
  readonly shutdownTimeout: number;
  readonly preStopDelay: number;
  readonly hookTimeout: number;
}

const MAX_DURATION = 24 * 3_600_000;

/**
 * The preStopDelay that `'auto'` means in this environment: 5000 ms when running
 * in Kubernetes (`KUBERNETES_SERVICE_HOST` is set in every pod), capped at a fifth
 * of `shutdownTimeout` so the other phases keep most of the budget; 0 elsewhere.
 */
export function autoPreStopDelay(env: NodeJS.ProcessEnv = process.env, shutdownTimeout = Infinity): number {
  return env.KUBERNETES_SERVICE_HOST ? Math.min(5_000, Math.floor(shutdownTimeout / 5)) : 0;
}

/** Checks `input` against {@link LifecycleOptions} and fills in defaults; throws on any bad option. */
export function resolveOptions(input: unknown): ResolvedLifecycleOptions {
  const preStopDelay: OptionCheck<number | string> = check.either<'auto', number>(
    check.oneOf('auto' as const),
    check.duration(0, MAX_DURATION),
    `'auto' or a duration from 0 ms to ${MAX_DURATION} ms`,
  );
  const signal = check.oneOf<ShutdownSignal>(...SHUTDOWN_SIGNALS);
  const options = resolve<LifecycleOptions & { shutdownTimeout: number; hookTimeout: number }>(
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
    preStopDelay: options.preStopDelay === 'auto' ? autoPreStopDelay(process.env, options.shutdownTimeout) : (options.preStopDelay as number),
    // Every line a lifecycle writes, and every package's that logs through it, is redacted.
    logger: redactingLogger(options.logger ?? createJsonLogger()),
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

/** Options of {@link useClsHooked}. */
export interface ClsHookedOptions {
  /**
   * The namespace key the request context is stored under: `namespace.get('keel')`.
   * @defaultValue `'keel'`
   */
  key: string;
}

/** The one source of {@link ClsHookedOptions} defaults. */
export const CLS_HOOKED_DEFAULTS: Readonly<ClsHookedOptions> = Object.freeze({ key: 'keel' });

/** Checks `input` against {@link ClsHookedOptions} and fills in defaults. */
export function resolveClsHookedOptions(input: unknown): Readonly<ClsHookedOptions> {
  return resolve<ClsHookedOptions>('@keel/lifecycle', input, CLS_HOOKED_DEFAULTS, { key: check.string() });
}

/** Options of {@link requestContext}; none yet, so a typo still fails. */
export type RequestContextOptions = Record<string, never>;

/** Checks `input` against {@link RequestContextOptions}: any key is unknown. */
export function resolveRequestContextOptions(input: unknown): Readonly<RequestContextOptions> {
  return resolve<RequestContextOptions>('@keel/lifecycle', input, {}, {});
}

/**
 * A health check: healthy when it returns or resolves to anything but `false`;
 * failing when it throws, rejects, returns `false` or outlives its timeout.
 * `signal` aborts when the timeout passes, so the check can cancel its work.
 */
export type HealthCheckFunction = (signal: AbortSignal) => unknown;

/** A named health check with its own timeout and the probe it affects. */
export interface HealthCheck {
  /** The check itself. */
  check: HealthCheckFunction;
  /**
   * Its timeout in ms (or `'500ms'`).
   * @defaultValue the probes' `checkTimeout`
   */
  timeout?: number | string;
  /**
   * The probe a failure fails: `'ready'` (the service leaves the load balancer)
   * or `'live'` (the orchestrator restarts the process: only for faults a restart fixes).
   * @defaultValue `'ready'`
   */
  affects?: 'ready' | 'live';
}

/** The paths the probes answer on; `false` turns a probe off. */
export interface ProbePaths {
  /** @defaultValue `'/livez'` */
  live: string | false;
  /** @defaultValue `'/readyz'` */
  ready: string | false;
  /** @defaultValue `'/startupz'` */
  startup: string | false;
}

/** The lifecycle surface the probes read (any copy of this package's `Lifecycle` fits). */
export interface ProbedLifecycle {
  readonly state: string;
  readonly isShuttingDown: boolean;
  readonly isReady: boolean;
  /** Absent on lifecycles of older copies: then any state past `starting` counts. */
  readonly hasBeenReady?: boolean;
  readonly readinessHolds: readonly string[];
}

/** Options of {@link probes}. */
export interface ProbesOptions {
  /**
   * The lifecycle whose state the probes report; unset, the process-wide
   * `getDefaultLifecycle()`.
   * @defaultValue `undefined`
   */
  lifecycle: ProbedLifecycle | undefined;
  /**
   * Where each probe answers; paths are matched against `req.url` without its
   * query, so under `app.use('/health', probes())` they are relative to `/health`.
   * @defaultValue `{ live: '/livez', ready: '/readyz', startup: '/startupz' }`
   */
  paths: Partial<ProbePaths>;
  /**
   * Named health checks: a function, or `{ check, timeout, affects }`. One call
   * per check is in flight at a time (probe requests meanwhile join it, and a
   * call past its timeout counts as failing until it settles, without a second
   * call starting); a settled result is reused for `checkCacheTtl`.
   * @defaultValue `{}`
   */
  checks: Readonly<Record<string, HealthCheck | HealthCheckFunction>>;
  /**
   * The timeout of a check without its own, in ms (or `'500ms'`); under the
   * orchestrator's probe timeout (1 s by default in Kubernetes), so the body can
   * still say which check was slow.
   * @defaultValue `500`
   */
  checkTimeout: number | string;
  /**
   * How long, in ms (or `'1s'`), a check's settled result answers probes
   * before the check is called again; `0` calls it for every probe not joining
   * a call in flight. Bounds the load that many probers (load-balancer nodes,
   * kubelets) put on a dependency.
   * @defaultValue `1000`
   */
  checkCacheTtl: number | string;
  /**
   * Whether bodies say more than `{"status":"ok"}` / `{"status":"unavailable"}`:
   * the lifecycle state, the reason, readiness holds, and each check's status,
   * duration and error message. Off by default, because state, hold and check
   * names and error messages tell whoever reaches the probe about internals;
   * turn it on only where probes are off the public path.
   * @defaultValue `false`
   */
  verbose: boolean;
}

/** The one source of {@link ProbesOptions} defaults; `lifecycle: undefined` means `getDefaultLifecycle()`. */
export const PROBES_DEFAULTS: Readonly<{
  lifecycle: undefined;
  paths: Readonly<ProbePaths>;
  checks: Readonly<Record<string, never>>;
  checkTimeout: number;
  checkCacheTtl: number;
  verbose: boolean;
}> = Object.freeze({
  lifecycle: undefined,
  paths: Object.freeze({ live: '/livez', ready: '/readyz', startup: '/startupz' } as ProbePaths),
  checks: Object.freeze({}),
  checkTimeout: 500,
  checkCacheTtl: 1000,
  verbose: false,
});

/** A health check after checks and defaults. */
export interface ResolvedHealthCheck {
  readonly name: string;
  readonly check: HealthCheckFunction;
  readonly timeout: number;
  readonly affects: 'ready' | 'live';
}

/** Probe options after defaults and checks; `lifecycle` stays unset when not given. */
export interface ResolvedProbesOptions {
  readonly lifecycle: ProbedLifecycle | undefined;
  readonly paths: Readonly<ProbePaths>;
  readonly checks: readonly ResolvedHealthCheck[];
  readonly checkTimeout: number;
  readonly checkCacheTtl: number;
  readonly verbose: boolean;
}

const PROBE_NAMES = ['live', 'ready', 'startup'] as const;

function fail(option: string, expected: string, received: unknown): never {
  throw new InvalidOptionError('@keel/lifecycle', option, expected, received);
}

function checkPaths(value: unknown): Readonly<ProbePaths> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('paths', 'an object with live, ready and/or startup', value);
  const paths: ProbePaths = { ...PROBES_DEFAULTS.paths };
  for (const [name, path] of Object.entries(value)) {
    if (!(PROBE_NAMES as readonly string[]).includes(name)) fail(`paths.${name}`, 'one of the probes (live, ready, startup)', 'an unknown probe');
    if (path === undefined) continue;
    if (path !== false && (typeof path !== 'string' || !/^\/[^\s?#]*$/.test(path))) fail(`paths.${name}`, "a path starting with '/' (no query, no spaces), or false", path);
    paths[name as keyof ProbePaths] = path as string | false;
  }
  const used = PROBE_NAMES.map((name) => paths[name]).filter((path) => path !== false);
  if (new Set(used).size !== used.length) fail('paths', 'a different path for each probe', value);
  return Object.freeze(paths);
}

function checkHealthChecks(value: unknown, defaultTimeout: number): readonly ResolvedHealthCheck[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('checks', 'an object of named health checks', value);
  return Object.freeze(
    Object.entries(value).map(([name, entry]): ResolvedHealthCheck => {
      const option = `checks.${name}`;
      if (typeof entry === 'function') return Object.freeze({ name, check: entry as HealthCheckFunction, timeout: defaultTimeout, affects: 'ready' });
      if (typeof entry !== 'object' || entry === null) fail(option, 'a function, or { check, timeout, affects }', entry);
      const { check: fn, timeout, affects, ...rest } = entry as Partial<HealthCheck>;
      const unknown = Object.keys(rest)[0];
      if (unknown !== undefined) fail(`${option}.${unknown}`, 'one of check, timeout, affects', 'an unknown option');
      if (typeof fn !== 'function') fail(`${option}.check`, 'a function', fn);
      const ms = timeout === undefined ? defaultTimeout : parseDuration(timeout);
      if (ms === undefined || ms < 1 || ms > MAX_DURATION) fail(`${option}.timeout`, `a duration from 1 ms to ${MAX_DURATION} ms`, timeout);
      if (affects !== undefined && affects !== 'ready' && affects !== 'live') fail(`${option}.affects`, "'ready' or 'live'", affects);
      return Object.freeze({ name, check: fn, timeout: ms, affects: affects ?? 'ready' });
    }),
  );
}

function isProbedLifecycle(value: unknown): value is ProbedLifecycle {
  const candidate = value as Record<string, unknown> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.state === 'string' &&
    typeof candidate.isShuttingDown === 'boolean' &&
    typeof candidate.isReady === 'boolean' &&
    Array.isArray(candidate.readinessHolds)
  );
}

/** Checks `input` against {@link ProbesOptions} and fills in defaults; throws on any bad option. */
export function resolveProbesOptions(input: unknown): ResolvedProbesOptions {
  const options = resolve<{
    lifecycle: ProbedLifecycle | undefined;
    paths: Readonly<ProbePaths>;
    checks: unknown;
    checkTimeout: number;
    checkCacheTtl: number;
    verbose: boolean;
  }>(
    '@keel/lifecycle',
    input,
    PROBES_DEFAULTS,
    {
      lifecycle: (value, failWith) => (isProbedLifecycle(value) ? value : failWith('a lifecycle from createLifecycle()')),
      paths: (value) => checkPaths(value),
      checks: check.any(),
      checkTimeout: check.duration(1, MAX_DURATION),
      checkCacheTtl: check.duration(0, MAX_DURATION),
      verbose: check.boolean(),
    },
  );
  return Object.freeze({ ...options, checks: checkHealthChecks(options.checks, options.checkTimeout) });
}
