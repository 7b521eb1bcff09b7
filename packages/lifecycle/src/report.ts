import type { HookOutcome, ShutdownPhase } from './hooks';
import { safeStringify } from './logger';

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
  /** Milliseconds spent waiting for beacons between the drain and cleanup phases. */
  readonly beaconWaitMs?: number;
}

/** Options of {@link Lifecycle.shutdown}. */
export interface ShutdownOptions {
  /**
   * The exit code to end with even when every hook succeeds: 1 after a fatal
   * error. A later call with 1 raises the code of a shutdown already under way.
   * @defaultValue `0`
   */
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

/**
 * Splits `budget` ms from `startedAt`: cleanup and flush keep a slice each (10%
 * and 20% of the budget, at most 2 s and 5 s), so a slow drain cannot starve them.
 */
export function deadlinesFrom(startedAt: number, budget: number, preStopDelay: number): ShutdownDeadlines {
  const flushReserve = Math.min(budget * 0.1, 2_000);
  const cleanupReserve = Math.min(budget * 0.2, 5_000);
  const endsAt = startedAt + budget;
  const cleanupEndsAt = endsAt - flushReserve;
  const drainEndsAt = cleanupEndsAt - cleanupReserve;
  const preStopEndsAt = Math.min(startedAt + preStopDelay, drainEndsAt);
  return { startedAt, preStopEndsAt, drainEndsAt, cleanupEndsAt, endsAt };
}

/** A shutdown reason as text: a signal name, an error's name and message, or the value. */
export function describeReason(reason: unknown): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  if (typeof reason === 'string') return reason;
  if (typeof reason === 'object' && reason !== null) {
    const { message } = reason as { message?: unknown };
    if (typeof message === 'string') return message;
    try {
      return safeStringify(reason);
    } catch {
      return 'unknown';
    }
  }
  try {
    return String(reason);
  } catch {
    return 'unknown';
  }
}

/** The report as logged: each hook error reduced to its message (stacks were logged when the hook failed). */
export function compactReport(report: ShutdownReport): Record<string, unknown> {
  return {
    ...report,
    phases: report.phases.map((phase) => ({
      ...phase,
      hooks: phase.hooks.map((hook) => (hook.error === undefined ? hook : { ...hook, error: describeReason(hook.error) })),
    })),
  };
}
