/** The shutdown phases, in the order they run. */
export const SHUTDOWN_PHASES = Object.freeze(['drain', 'cleanup', 'flush'] as const);

/**
 * A shutdown phase: `drain` (servers stop and finish in-flight work), `cleanup`
 * (pools, queues, files), `flush` (logs and telemetry; last, always attempted).
 */
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

/** What a shutdown hook is given. */
export interface ShutdownHookContext {
  /** Why the shutdown started: a signal name, an Error, or the reason given to `shutdown()`. */
  readonly reason: unknown;
  /** Epoch ms by which this hook must be done; past it the hook is abandoned. */
  readonly deadline: number;
  /** Aborts when the hook's time is up, so the hook can stop its work. */
  readonly signal: AbortSignal;
}

/** A function run during shutdown. */
export type ShutdownHook = (context: ShutdownHookContext) => unknown;

/** Options of one shutdown hook. */
export interface ShutdownHookOptions {
  /**
   * The phase the hook runs in.
   * @defaultValue `'cleanup'`
   */
  phase?: ShutdownPhase;
  /**
   * The hook's own timeout in ms (or `'5s'`). Never longer than what is left
   * of its phase's share of the shutdown budget.
   * @defaultValue the lifecycle's `hookTimeout`
   */
  timeout?: number | string;
}

/** How one hook ended. */
export interface HookOutcome {
  readonly name: string;
  readonly phase: ShutdownPhase;
  readonly outcome: 'ok' | 'failed' | 'timeout';
  readonly durationMs: number;
  /** The error a failed hook threw, or the timeout. */
  readonly error?: unknown;
}

/** A hook as registered. */
export interface RegisteredHook {
  readonly name: string;
  readonly fn: ShutdownHook;
  readonly phase: ShutdownPhase;
  readonly timeout: number;
}

/** Runs one hook until it settles or its deadline passes; never throws. */
export async function runHook(hook: RegisteredHook, reason: unknown, phaseDeadline: number): Promise<HookOutcome> {
  const startedAt = Date.now();
  const deadline = Math.min(phaseDeadline, startedAt + hook.timeout);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - startedAt));
  });
  const base = { name: hook.name, phase: hook.phase };
  try {
    const result = await Promise.race([
      Promise.resolve().then(() => hook.fn({ reason, deadline, signal: controller.signal })).then(() => 'ok' as const),
      timedOut,
    ]);
    if (result === 'timeout') {
      const error = new Error(`shutdown hook "${hook.name}" timed out after ${deadline - startedAt} ms`);
      controller.abort(error);
      return { ...base, outcome: 'timeout', durationMs: Date.now() - startedAt, error };
    }
    return { ...base, outcome: 'ok', durationMs: Date.now() - startedAt };
  } catch (error) {
    return { ...base, outcome: 'failed', durationMs: Date.now() - startedAt, error };
  } finally {
    clearTimeout(timer);
  }
}
