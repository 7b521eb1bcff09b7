import { EventEmitter, setMaxListeners } from 'node:events';
import { BeaconSet, type Beacon } from './beacons';
import { runHook, SHUTDOWN_PHASES, type HookOutcome, type RegisteredHook, type ShutdownHook, type ShutdownHookOptions, type ShutdownPhase } from './hooks';
import { InvalidOptionError, parseDuration } from './options-validation';
import { resolveOptions, type LifecycleOptions, type ResolvedLifecycleOptions, type ShutdownSignal } from './options';
import { compactReport, deadlinesFrom, describeReason, type ShutdownDeadlines, type ShutdownOptions, type ShutdownReport } from './report';
import { runOutsideRequestContext } from './context';
import { publishPhase, publishState } from './channels';

export type { ShutdownDeadlines, ShutdownOptions, ShutdownReport } from './report';

/** Where a process is in its life. */
export type LifecycleState = 'starting' | 'ready' | 'draining' | 'stopping' | 'stopped';

const PACKAGE = '@keel/lifecycle';
const FORBIDDEN_DESCRIPTION = 'a non-empty hook name';
const HOOK_OPTION_KEYS = new Set(['phase', 'timeout']);

/**
 * The life of one process: its state, the signals that end it, and the ordered,
 * time-boxed shutdown that runs hooks phase by phase within one budget.
 *
 * Events: `'state'` `(next, previous)` on every transition, then one event named
 * after the new state: `'ready'`, `'draining'` (reason), `'stopping'` (reason),
 * `'stopped'` (the {@link ShutdownReport}); `'forced'` (signal) when a second
 * signal ends a shutdown early. A listener that throws is logged and skipped.
 */
export class Lifecycle extends EventEmitter {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedLifecycleOptions;
  readonly #controller = new AbortController();
  readonly #hooks = new Set<RegisteredHook>();
  readonly #ranHooks = new WeakSet<RegisteredHook>();
  readonly #beacons = new BeaconSet();
  readonly #readinessHolds = new Map<symbol, string>();
  readonly #signalListeners = new Map<ShutdownSignal, () => void>();
  #state: LifecycleState = 'starting';
  #signalReceived = false;
  #readyRequested = false;
  #hasBeenReady = false;
  #shutdown: Promise<ShutdownReport> | undefined;
  #deadlines: ShutdownDeadlines | undefined;
  #requestedExitCode: 0 | 1 = 0;
  /** Index in SHUTDOWN_PHASES of the phase under way; -1 before the first. */
  #phaseIndex = -1;
  #beaconsWaited = false;
  #report: ShutdownReport | undefined;

  constructor(options?: Partial<LifecycleOptions>) {
    super();
    this.options = resolveOptions(options);
    // Background loops and every in-flight request may listen to this one signal.
    setMaxListeners(0, this.#controller.signal);
    for (const signal of this.options.signals) {
      const listener = (): void => this.#onSignal(signal);
      this.#signalListeners.set(signal, listener);
      process.on(signal, listener);
    }
  }

  /** The current state. */
  get state(): LifecycleState {
    return this.#state;
  }

  /** True from the moment shutdown starts (before any `'draining'` listener runs). */
  get isShuttingDown(): boolean {
    return this.#deadlines !== undefined;
  }

  /** True while the service should receive traffic: ready, and no readiness hold is open. */
  get isReady(): boolean {
    return this.#state === 'ready' && this.#readinessHolds.size === 0;
  }

  /** True once the state has been `ready`, even if shutdown has started since (the `/startupz` answer). */
  get hasBeenReady(): boolean {
    return this.#hasBeenReady;
  }

  /** Names of the readiness holds not yet released. */
  get readinessHolds(): string[] {
    return [...this.#readinessHolds.values()];
  }

  /** Names of the beacons not yet released. */
  get beacons(): string[] {
    return this.#beacons.names();
  }

  /** Aborts when shutdown starts, with its reason: give it to background loops. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The budget's phase deadlines, once shutdown has started. */
  get deadlines(): ShutdownDeadlines | undefined {
    return this.#deadlines;
  }

  /** Epoch ms at which the whole shutdown budget ends, once shutdown has started. */
  get shutdownDeadline(): number | undefined {
    return this.#deadlines?.endsAt;
  }

  /** The report of the finished shutdown, once the state is `stopped`. */
  get report(): ShutdownReport | undefined {
    return this.#report;
  }

  /** The logger lifecycle events go to. */
  get logger(): ResolvedLifecycleOptions['logger'] {
    return this.options.logger;
  }

  /**
   * Declares the app ready for traffic. The state becomes `ready` once every
   * readiness hold is released too. Does nothing once shutdown has started.
   */
  markReady(): void {
    this.#readyRequested = true;
    this.#becomeReadyIfDue();
  }

  /**
   * Holds readiness until the returned function is called, for a named
   * condition such as `'db'`. Holding after the app is ready fails `/readyz` again.
   */
  holdReadiness(name: string): () => void {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError(PACKAGE, 'holdReadiness name', 'a non-empty string', name);
    const key = Symbol(name);
    this.#readinessHolds.set(key, name);
    return () => {
      if (this.#readinessHolds.delete(key)) this.#becomeReadyIfDue();
    };
  }

  /**
   * Registers a shutdown hook in a phase and returns the function that
   * unregisters it. Within a phase, hooks run last registered first. A hook
   * registered during shutdown still runs: in its phase if that has not ended,
   * else in the phase under way. After `stopped` it can no longer run.
   */
  onShutdown(name: string, fn: ShutdownHook, options: ShutdownHookOptions = {}): () => void {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError(PACKAGE, 'onShutdown name', FORBIDDEN_DESCRIPTION, name);
    if (typeof fn !== 'function') throw new InvalidOptionError(PACKAGE, 'onShutdown fn', 'a function', fn);
    if (options === null || typeof options !== 'object') throw new InvalidOptionError(PACKAGE, 'onShutdown options', 'an object or undefined', options);
    for (const key of Object.keys(options)) {
      if (!HOOK_OPTION_KEYS.has(key)) throw new InvalidOptionError(PACKAGE, `onShutdown ${key}`, 'one of the known hook options (phase, timeout)', 'an unknown option');
    }
    const phase = options.phase ?? 'cleanup';
    if (!SHUTDOWN_PHASES.includes(phase)) {
      throw new InvalidOptionError(PACKAGE, 'onShutdown phase', `one of ${SHUTDOWN_PHASES.join(', ')}`, options.phase);
    }
    const timeout = options.timeout === undefined ? this.options.hookTimeout : parseDuration(options.timeout);
    if (timeout === undefined || timeout <= 0) {
      throw new InvalidOptionError(PACKAGE, 'onShutdown timeout', "a positive duration (ms, or a string like '5s')", options.timeout);
    }
    if (this.#state === 'stopped') {
      this.#log('warn', 'shutdown hook registered after shutdown ended: it will not run', { hook: name, phase });
      return () => {};
    }
    const hook: RegisteredHook = { name, fn, phase, timeout };
    this.#hooks.add(hook);
    return () => {
      this.#hooks.delete(hook);
    };
  }

  /**
   * Creates a beacon: shutdown waits (within budget) for its release after the
   * drain phase, before cleanup. A beacon created after that wait holds nothing.
   */
  beacon(name: string): Beacon {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError(PACKAGE, 'beacon name', 'a non-empty string', name);
    if (this.#beaconsWaited) this.#log('warn', 'beacon created after the wait for beacons: it does not hold shutdown', { beacon: name, state: this.#state });
    return this.#beacons.create(name);
  }

  /**
   * Starts the shutdown (once; later calls return the same promise): readiness
   * fails, the deregistration delay passes, then hooks run phase by phase.
   * Never rejects.
   */
  shutdown(reason: unknown = 'shutdown()', options: ShutdownOptions = {}): Promise<ShutdownReport> {
    const exitCode = options?.exitCode;
    if (exitCode !== undefined && exitCode !== 0 && exitCode !== 1) throw new InvalidOptionError(PACKAGE, 'shutdown exitCode', '0 or 1', exitCode);
    if (exitCode === 1) this.#requestedExitCode = 1;
    if (this.#shutdown === undefined) {
      this.#deadlines = deadlinesFrom(Date.now(), this.options.shutdownTimeout, this.options.preStopDelay);
      let settle!: (report: ShutdownReport) => void;
      // Assigned before the sequence runs, so a listener that calls shutdown() again gets this promise.
      this.#shutdown = new Promise((resolve) => {
        settle = resolve;
      });
      const deadlines = this.#deadlines;
      // A shutdown started from inside a request (a fatal fault) must not run its hooks as that request.
      void runOutsideRequestContext(() => this.#runShutdown(reason, deadlines)).then(settle, (error: unknown) => settle(this.#abandon(reason, deadlines, error)));
    }
    return this.#shutdown;
  }

  /** Removes this lifecycle's signal listeners; for lifecycles that end before the process. */
  dispose(): void {
    for (const [signal, listener] of this.#signalListeners) process.off(signal, listener);
    this.#signalListeners.clear();
  }

  #becomeReadyIfDue(): void {
    if (this.#state === 'starting' && this.#readyRequested && this.#readinessHolds.size === 0) {
      this.#hasBeenReady = true;
      this.#setState('ready');
    }
  }

  #setState(next: LifecycleState, payload?: unknown): void {
    const previous = this.#state;
    this.#state = next;
    publishState(this, next, previous, payload);
    this.#emitSafely('state', next, previous);
    this.#emitSafely(next, payload);
  }

  // The sequence must reach its end whatever a listener or a logger does.
  #emitSafely(event: string, ...args: unknown[]): void {
    // rawListeners: calling a once() wrapper removes it, as emit() would.
    for (const listener of this.rawListeners(event)) {
      try {
        (listener as (...values: unknown[]) => unknown).apply(this, args);
      } catch (error) {
        this.#log('error', 'lifecycle event listener threw', { event, error });
      }
    }
  }

  #log(level: 'error' | 'warn' | 'info', message: string, fields: Record<string, unknown>): void {
    try {
      this.options.logger[level](message, fields);
    } catch {
      // A broken logger must not stop the shutdown.
    }
  }

  #onSignal(signal: ShutdownSignal): void {
    // Only a second signal forces the exit: the first one may arrive after a
    // shutdown that code started (a fatal fault), and must not cut that drain.
    const firstSignal = !this.#signalReceived;
    this.#signalReceived = true;
    if (this.isShuttingDown && firstSignal) {
      this.#log('info', 'signal during shutdown: already draining', { signal, state: this.#state });
      return;
    }
    if (this.isShuttingDown) {
      this.#log('error', 'second signal during shutdown: exiting now', { signal, state: this.#state });
      this.#emitSafely('forced', signal);
      if (this.options.exit) process.exit(1);
      return;
    }
    void this.shutdown(signal);
  }

  async #runShutdown(reason: unknown, deadlines: ShutdownDeadlines): Promise<ShutdownReport> {
    const reasonText = describeReason(reason);
    let failsafe: NodeJS.Timeout | undefined;
    if (this.options.exit) {
      // Every wait below is bounded by the budget; this catches only what cannot be bounded.
      failsafe = setTimeout(() => {
        this.#log('error', 'shutdown budget exceeded: exiting now', { reason: reasonText, budgetMs: this.options.shutdownTimeout });
        process.exit(1);
      }, deadlines.endsAt - deadlines.startedAt + 50);
      failsafe.unref();
    }

    const preStopDelayMs = deadlines.preStopEndsAt - deadlines.startedAt;
    this.#log('info', 'shutdown started', { reason: reasonText, budgetMs: this.options.shutdownTimeout, preStopDelayMs });
    this.#setState('draining', reason);
    try {
      this.#controller.abort(reason);
    } catch (error) {
      this.#log('error', 'lifecycle signal listener threw', { error });
    }

    const preStopMs = deadlines.preStopEndsAt - Date.now();
    if (preStopMs > 0) {
      this.#log('info', 'shutdown phase', { phase: 'deregister', durationMs: preStopMs });
      await sleep(preStopMs);
    }
    publishPhase(this, 'deregister', Date.now() - deadlines.startedAt);

    const phases: Array<ShutdownReport['phases'][number]> = [];
    const phaseEnds: Record<ShutdownPhase, number> = { drain: deadlines.drainEndsAt, cleanup: deadlines.cleanupEndsAt, flush: deadlines.endsAt };
    let unreleasedBeacons: string[] = [];
    let beaconWaitMs = 0;
    for (const [index, phase] of SHUTDOWN_PHASES.entries()) {
      if (phase === 'cleanup') {
        const waitStartedAt = Date.now();
        const held = this.#beacons.names();
        if (held.length > 0) this.#log('info', 'shutdown waiting for beacons', { beacons: held });
        if (!(await this.#beacons.waitUntilReleased(deadlines.drainEndsAt))) {
          unreleasedBeacons = this.#beacons.names();
          this.#log('error', 'shutdown beacons still held at the drain deadline', { beacons: unreleasedBeacons });
        }
        this.#beaconsWaited = true;
        beaconWaitMs = Date.now() - waitStartedAt;
        publishPhase(this, 'beacons', beaconWaitMs);
        this.#setState('stopping', reason);
      }
      phases.push(await this.#runPhase(index, reason, phaseEnds[phase]));
      publishPhase(this, phase, phases[phases.length - 1]!.durationMs);
    }

    const failed = phases.some((phase) => phase.hooks.some((hook) => hook.outcome !== 'ok')) || unreleasedBeacons.length > 0;
    const report: ShutdownReport = {
      reason: reasonText,
      exitCode: this.#requestedExitCode === 1 || failed ? 1 : 0,
      durationMs: Date.now() - deadlines.startedAt,
      budgetMs: this.options.shutdownTimeout,
      preStopDelayMs,
      phases,
      unreleasedBeacons,
      beaconWaitMs,
    };
    this.#report = report;
    this.#log(report.exitCode === 0 ? 'info' : 'error', 'shutdown complete', { report: compactReport(report) });
    this.dispose();
    this.#setState('stopped', report);
    clearTimeout(failsafe);
    if (this.options.exit) process.exit(report.exitCode);
    return report;
  }

  // Reached only through a defect in the sequence itself: end as a failed shutdown rather than hang.
  #abandon(reason: unknown, deadlines: ShutdownDeadlines, error: unknown): ShutdownReport {
    const report: ShutdownReport = {
      reason: describeReason(reason),
      exitCode: 1,
      durationMs: Date.now() - deadlines.startedAt,
      budgetMs: this.options.shutdownTimeout,
      preStopDelayMs: deadlines.preStopEndsAt - deadlines.startedAt,
      phases: [],
      unreleasedBeacons: this.#beacons.names(),
    };
    this.#report = report;
    this.#log('error', 'shutdown sequence failed', { error, report });
    this.dispose();
    if (this.#state !== 'stopped') this.#setState('stopped', report);
    if (this.options.exit) process.exit(1);
    return report;
  }

  async #runPhase(index: number, reason: unknown, endsAt: number): Promise<ShutdownReport['phases'][number]> {
    const phase = SHUTDOWN_PHASES[index]!;
    this.#phaseIndex = index;
    const startedAt = Date.now();
    const outcomes: HookOutcome[] = [];
    const pending = this.#pendingHooks();
    if (pending.length > 0) this.#log('info', 'shutdown phase', { phase, hooks: pending.map((hook) => hook.name) });
    // Picked one at a time: a hook may register or unregister others while it runs.
    for (let hook = pending[0]; hook !== undefined; hook = this.#pendingHooks()[0]) {
      this.#ranHooks.add(hook);
      const outcome = await runHook(hook, reason, endsAt);
      if (outcome.outcome !== 'ok') {
        this.#log('error', `shutdown hook ${outcome.outcome === 'timeout' ? 'timed out' : 'failed'}`, { hook: hook.name, phase: hook.phase, durationMs: outcome.durationMs, error: outcome.error });
      }
      outcomes.push(outcome);
    }
    return { phase, durationMs: Date.now() - startedAt, hooks: outcomes };
  }

  /** Hooks due in the phase under way (or in one already over) that have not run, last registered first. */
  #pendingHooks(): RegisteredHook[] {
    const due: RegisteredHook[] = [];
    for (const hook of this.#hooks) {
      if (!this.#ranHooks.has(hook) && SHUTDOWN_PHASES.indexOf(hook.phase) <= this.#phaseIndex) due.push(hook);
    }
    return due.reverse();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Creates an isolated lifecycle. Tests and apps that wire things explicitly use this. */
export function createLifecycle(options?: Partial<LifecycleOptions>): Lifecycle {
  return new Lifecycle(options);
}
