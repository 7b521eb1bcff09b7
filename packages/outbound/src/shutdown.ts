import { type Lifecycle, type LifecycleState, peekDefaultLifecycle, ShuttingDownError } from '@keel/lifecycle';
import type { CallOutcome } from './channels';

/** A call shutdown can abort. */
export interface AbortableCall {
  readonly options: { readonly lifecycle: Lifecycle | undefined };
  abortWith(reason: Error, outcome: CallOutcome): void;
}

const inFlight = new WeakMap<Lifecycle, Set<AbortableCall>>();
const callLifecycles = new WeakMap<AbortableCall, Lifecycle>();

/**
 * When the abort phase starts: shortly before the drain phase ends (1 s, or a
 * tenth of the phase when that is shorter), the moment request handlers see
 * their signals abort, so a handler waiting on a call gets its error in time to answer.
 */
export function shutdownAbortTime(lifecycle: Lifecycle): number {
  const deadlines = lifecycle.deadlines;
  if (deadlines === undefined) return lifecycle.shutdownDeadline ?? Date.now();
  const margin = Math.min(1_000, (deadlines.drainEndsAt - deadlines.startedAt) / 10);
  return deadlines.drainEndsAt - margin;
}

/** Registers a call in flight with its lifecycle (the option, else the process default, if any). */
export function trackCall(call: AbortableCall): void {
  const lifecycle = call.options.lifecycle ?? peekDefaultLifecycle();
  if (lifecycle === undefined) return;
  let calls = inFlight.get(lifecycle);
  if (calls === undefined) {
    calls = new Set();
    inFlight.set(lifecycle, calls);
    watchLifecycle(lifecycle, calls);
  }
  calls.add(call);
  callLifecycles.set(call, lifecycle);
}

/** Forgets a call that ended. */
export function untrackCall(call: AbortableCall): void {
  const lifecycle = callLifecycles.get(call);
  if (lifecycle !== undefined) inFlight.get(lifecycle)?.delete(call);
}

function abortAll(calls: Set<AbortableCall>): void {
  for (const call of [...calls]) call.abortWith(new ShuttingDownError(), 'aborted');
}

/** One listener per lifecycle: at its abort phase, every call still in flight is aborted with a ShuttingDownError. */
function watchLifecycle(lifecycle: Lifecycle, calls: Set<AbortableCall>): void {
  let timer: NodeJS.Timeout | undefined;
  let aborted = false;
  const abortNow = (): void => {
    if (aborted) return;
    aborted = true;
    clearTimeout(timer);
    lifecycle.off('state', onState);
    abortAll(calls);
  };
  const onState = (state: LifecycleState): void => {
    if (state === 'stopping' || state === 'stopped') {
      abortNow();
    } else if (state === 'draining' && timer === undefined) {
      timer = setTimeout(abortNow, Math.max(0, shutdownAbortTime(lifecycle) - Date.now()));
      timer.unref();
    }
  };
  // Calls made after the abort phase (a cleanup hook's) run to their own end.
  if (lifecycle.state === 'stopping' || lifecycle.state === 'stopped') return;
  lifecycle.on('state', onState);
  if (lifecycle.isShuttingDown) onState(lifecycle.state);
}
