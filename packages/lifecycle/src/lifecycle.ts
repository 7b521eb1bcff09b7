import { EventEmitter } from 'node:events';
import { BeaconSet, type Beacon } from './beacons';
import { runHook, SHUTDOWN_PHASES, type HookOutcome, type RegisteredHook, type ShutdownHook, type ShutdownHookOptions, type ShutdownPhase } from './hooks';
import { check, InvalidOptionError, parseDuration } from './options-validation';
import { resolveOptions, type LifecycleOptions, type ResolvedLifecycleOptions, type ShutdownSignal } from './options';
import { processGlobal } from './process-global';

/** Where a process is in its life. */
export type LifecycleState = 'starting' | 'ready' | 'draining' | 'stopping' | 'stopped';

/** What a shutdown did, phase by phase and hook by hook; logged as one line and returned. */
export interface ShutdownReport {
  /** Why the shutdown started, as text. */
  readonly reason: string;
  /** 0 when clean; 1 after a failed or timed-out hook, unreleased beacons, or a fatal error. */
  readonly exitCode: 0 | 1;
  /** Milliseconds from the start of the shutdown to its end. */
  readonly durationMs: number;
  /** The budget the shutdown had, in ms. */
  readonly budgetMs: number;
  /** The deregistration delay that was waited, in ms. */
  readonly preStopDelayMs: number;
  /** One entry per phase, in order, with its hooks' outcomes. */
  readonly phases: ReadonlyArray<{ readonly phase: ShutdownPhase; readonly durationMs: number; readonly hooks: readonly HookOutcome[] }>;
  /** Beacons still held when the wait for them ended (empty when all were released). */
  readonly unreleasedBeacons: readonly string[];
}

/** Options of {@link Lifecycle.shutdown}. */
export interface ShutdownOptions {
  /** The exit code to end with even when every hook succeeds: 1 after a fatal error. */
  exitCode?: 0 | 1;
}

/** The budget's split into phases, known once shutdown has started. */
export interface ShutdownDeadlines {
  /** Epoch ms when the shutdown started. */
  readonly startedAt: number;
  /** Epoch ms when the deregistration delay ends and the drain phase starts. */
  readonly preStopEndsAt: number;
  /** Epoch ms by which the drain phase and the wait for beacons end. */
  readonly drainEndsAt: number;
  /** Epoch ms by which the cleanup phase ends. */
  readonly cleanupEndsAt: number;
  /** Epoch ms by which everything, the flush phase included, ends: the whole budget. */
  readonly endsAt: number;
}

const FORBIDDEN_DESCRIPTION = 'a non-empty hook name';

/**
 * The life of one process: its state, the signals that end it, and the ordered,
 * time-boxed shutdown that runs hooks phase by phase within one budget.
 */
export class Lifecycle extends EventEmitter {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedLifecycleOptions;
  readonly #controller = new AbortController();
  readonly #hooks = new Set<RegisteredHook>();
  readonly #beacons = new BeaconSet();
  readonly #readinessHolds = new Map<symbol, string>();
  readonly #signalListeners = new Map<ShutdownSignal, () => void>();
  #state: LifecycleState = 'starting';
  #readyRequested = false;
  #shutdown: Promise<ShutdownReport> | undefined;
  #deadlines: ShutdownDeadlines | undefined;

  constructor(options?: Partial<LifecycleOptions>) {
    super();
    this.options = resolveOptions(options);
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

  /** True from the moment shutdown starts. */
  get isShuttingDown(): boolean {
    return this.#shutdown !== undefined;
  }

  /** True while the service should receive traffic: ready, and no readiness hold is open. */
  get isReady(): boolean {
    return this.#state === 'ready' && this.#readinessHolds.size === 0;
  }

  /** Names of the readiness holds not yet released. */
  get readinessHolds(): string[] {
    return [...this.#readinessHolds.values()];
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

  /** The logger lifecycle events go to. */
  get logger(): ResolvedLifecycleOptions['logger'] {
    return this.options.logger;
  }

  /**
   * Declares the app ready for traffic. The state becomes `ready` once every
   * readiness hold is released too.
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
    const key = Symbol(name);
    this.#readinessHolds.set(key, name);
    return () => {
      if (this.#readinessHolds.delete(key)) this.#becomeReadyIfDue();
    };
  }

  /**
   * Registers a shutdown hook in a phase and returns the function that
   * unregisters it. Within a phase, hooks run last registered first.
   */
  onShutdown(name: string, fn: ShutdownHook, options: ShutdownHookOptions = {}): () => void {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidOptionError('@keel/lifecycle', 'onShutdown name', FORBIDDEN_DESCRIPTION, name);
    if (typeof fn !== 'function') throw new InvalidOptionError('@keel/lifecycle', 'onShutdown fn', 'a function', fn);
    const phase = check.oneOf<ShutdownPhase>(...SHUTDOWN_PHASES)(options.phase ?? 'cleanup', () => {
      throw new InvalidOptionError('@keel/lifecycle', 'onShutdown phase', `one of ${SHUTDOWN_PHASES.join(', ')}`, options.phase);
    });
    const timeout = options.timeout === undefined ? this.options.hookTimeout : parseDuration(options.timeout);
    if (timeout === undefined || timeout <= 0) {
      throw new InvalidOptionError('@keel/lifecycle', 'onShutdown timeout', "a positive duration (ms, or a string like '5s')", options.timeout);
    }
    const hook: RegisteredHook = { name, fn, phase, timeout };
    this.#hooks.add(hook);
    return () => {
      this.#hooks.delete(hook);
    };
  }

  /** Creates a beacon: shutdown waits (within budget) for its release before cleanup. */
  beacon(name: string): Beacon {
    return this.#beacons.create(name);
  }

  /**
   * Starts the shutdown (once; later calls return the same promise): readiness
   * fails, the deregistration delay passes, then hooks run phase by phase.
   */
  shutdown(reason: unknown = 'shutdown()', options: ShutdownOptions = {}): Promise<ShutdownReport> {
    this.#shutdown ??= this.#runShutdown(reason, options.exitCode ?? 0);
    return this.#shutdown;
  }

  /** Removes this lifecycle's signal listeners; for lifecycles that end before the process. */
  dispose(): void {
    for (const [signal, listener] of this.#signalListeners) process.off(signal, listener);
    this.#signalListeners.clear();
  }

  #becomeReadyIfDue(): void {
    if (this.#state === 'starting' && this.#readyRequested && this.#readinessHolds.size === 0) this.#setState('ready');
  }

  #setState(next: LifecycleState, payload?: unknown): void {
    const previous = this.#state;
    this.#state = next;
    this.emit('state', next, previous);
    this.emit(next, payload);
  }

  #onSignal(signal: ShutdownSignal): void {
    if (this.isShuttingDown) {
      this.options.logger.error('second signal during shutdown: exiting now', { signal, state: this.#state });
      this.emit('forced', signal);
      if (this.options.exit) process.exit(1);
      return;
    }
    void this.shutdown(signal);
  }

  #deadlinesFrom(startedAt: number): ShutdownDeadlines {
    const budget = this.options.shutdownTimeout;
    // Cleanup and flush keep a slice of the budget, so a slow drain cannot starve them.
    const flushReserve = clamp(budget * 0.1, Math.min(100, budget * 0.1), 2_000);
    const cleanupReserve = clamp(budget * 0.2, Math.min(200, budget * 0.2), 5_000);
    const endsAt = startedAt + budget;
    const cleanupEndsAt = endsAt - flushReserve;
    const drainEndsAt = cleanupEndsAt - cleanupReserve;
    const preStopEndsAt = Math.min(startedAt + this.options.preStopDelay, drainEndsAt);
    return { startedAt, preStopEndsAt, drainEndsAt, cleanupEndsAt, endsAt };
  }

  async #runShutdown(reason: unknown, requestedExitCode: 0 | 1): Promise<ShutdownReport> {
    const deadlines = this.#deadlinesFrom(Date.now());
    this.#deadlines = deadlines;
    const { logger } = this.options;
    const reasonText = describeReason(reason);
    let failsafe: NodeJS.Timeout | undefined;
    if (this.options.exit) {
      // The sequence bounds every wait by the budget; this only catches what cannot be bounded.
      failsafe = setTimeout(() => {
        logger.error('shutdown budget exceeded: exiting now', { reason: reasonText, budgetMs: this.options.shutdownTimeout });
        process.exit(1);
      }, deadlines.endsAt - deadlines.startedAt + 50);
      failsafe.unref();
    }

    logger.info('shutdown started', { reason: reasonText, budgetMs: this.options.shutdownTimeout, preStopDelayMs: deadlines.preStopEndsAt - deadlines.startedAt });
    this.#setState('draining', reason);
    this.#controller.abort(reason);

    const preStopMs = deadlines.preStopEndsAt - Date.now();
    if (preStopMs > 0) {
      logger.info('shutdown phase', { phase: 'deregister', durationMs: preStopMs });
      await sleep(preStopMs);
    }

    const phases: Array<ShutdownReport['phases'][number]> = [];
    const phaseEnds: Record<ShutdownPhase, number> = { drain: deadlines.drainEndsAt, cleanup: deadlines.cleanupEndsAt, flush: deadlines.endsAt };
    let unreleasedBeacons: string[] = [];
    for (const phase of SHUTDOWN_PHASES) {
      if (phase === 'cleanup') {
        if (!(await this.#beacons.waitUntilReleased(deadlines.drainEndsAt))) {
          unreleasedBeacons = this.#beacons.names();
          logger.error('shutdown beacons still held at the drain deadline', { beacons: unreleasedBeacons });
        }
        this.#setState('stopping', reason);
      }
      phases.push(await this.#runPhase(phase, reason, phaseEnds[phase]));
    }

    const failed = phases.some((phase) => phase.hooks.some((hook) => hook.outcome !== 'ok')) || unreleasedBeacons.length > 0;
    const report: ShutdownReport = {
      reason: reasonText,
      exitCode: requestedExitCode === 1 || failed ? 1 : 0,
      durationMs: Date.now() - deadlines.startedAt,
      budgetMs: this.options.shutdownTimeout,
      preStopDelayMs: deadlines.preStopEndsAt - deadlines.startedAt,
      phases,
      unreleasedBeacons,
    };
    (report.exitCode === 0 ? logger.info : logger.error).call(logger, 'shutdown complete', { report });
    this.dispose();
    this.#setState('stopped', report);
    clearTimeout(failsafe);
    if (this.options.exit) process.exit(report.exitCode);
    return report;
  }

  async #runPhase(phase: ShutdownPhase, reason: unknown, endsAt: number): Promise<ShutdownReport['phases'][number]> {
    const startedAt = Date.now();
    const hooks = [...this.#hooks].filter((hook) => hook.phase === phase).reverse();
    const outcomes: HookOutcome[] = [];
    if (hooks.length > 0) this.options.logger.info('shutdown phase', { phase, hooks: hooks.map((hook) => hook.name) });
    for (const hook of hooks) {
      const outcome = await runHook(hook, reason, endsAt);
      if (outcome.outcome !== 'ok') {
        this.options.logger.error(`shutdown hook ${outcome.outcome === 'timeout' ? 'timed out' : 'failed'}`, { hook: hook.name, phase, durationMs: outcome.durationMs, error: outcome.error });
      }
      outcomes.push(outcome);
    }
    return { phase, durationMs: Date.now() - startedAt, hooks: outcomes };
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  if (typeof reason === 'string') return reason;
  try {
    return String(reason);
  } catch {
    return 'unknown';
  }
}

/** Creates an isolated lifecycle. Tests and apps that wire things explicitly use this. */
export function createLifecycle(options?: Partial<LifecycleOptions>): Lifecycle {
  return new Lifecycle(options);
}

interface DefaultLifecycleSlot {
  lifecycle: Lifecycle | undefined;
}

const defaultSlot = processGlobal<DefaultLifecycleSlot>('keel.lifecycle.default', () => ({ lifecycle: undefined }));

/**
 * The process-wide lifecycle that keel packages use when none is passed: it
 * listens to SIGTERM and SIGINT and owns the process exit. Created on first call,
 * shared by every installed copy of this package.
 */
export function getDefaultLifecycle(): Lifecycle {
  defaultSlot.lifecycle ??= createLifecycle({ exit: true });
  return defaultSlot.lifecycle;
}

/** The default lifecycle if one exists, without creating it (reading state never installs signal handlers). */
export function peekDefaultLifecycle(): Lifecycle | undefined {
  return defaultSlot.lifecycle;
}

/**
 * Makes `lifecycle` the process default, for apps that configure their own
 * (budget, logger) before mounting keel packages. Throws if another one is already in use.
 */
export function setDefaultLifecycle(lifecycle: Lifecycle): void {
  if (defaultSlot.lifecycle !== undefined && defaultSlot.lifecycle !== lifecycle) {
    throw new InvalidOptionError('@keel/lifecycle', 'setDefaultLifecycle', 'called before any keel package created the default lifecycle', 'a default lifecycle already in use');
  }
  defaultSlot.lifecycle = lifecycle;
}
