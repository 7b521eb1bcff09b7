import { activeContexts, runInContext, runOutsideRequestContext, ShuttingDownError, type Lifecycle, type LifecycleState } from '@keel/lifecycle';
import type { AbortOnShutdown } from './options';
import { timedRequestOf } from './timed-request';

/**
 * When `abortOnShutdown: 'deadline'` aborts: shortly before the drain phase
 * ends (1 s, or a tenth of the phase when that is shorter), so the 503s are out
 * before whatever drains the server gives up on its connections.
 */
export function shutdownAbortTime(lifecycle: Lifecycle): number {
  const deadlines = lifecycle.deadlines;
  if (deadlines === undefined) return lifecycle.shutdownDeadline ?? Date.now();
  const margin = Math.min(1_000, (deadlines.drainEndsAt - deadlines.startedAt) / 10);
  return deadlines.drainEndsAt - margin;
}

const watched = new WeakSet<Lifecycle>();
let lastWatched: Lifecycle | undefined;

/**
 * Makes the shutdown of `lifecycle` abort the timed requests that belong to it,
 * each at the moment its middleware's `abortOnShutdown` says. One listener per
 * lifecycle, however many timeout() middlewares there are; the requests are
 * found through the lifecycle's active contexts, so no middleware is registered
 * anywhere.
 */
export function watchLifecycle(lifecycle: Lifecycle): void {
  if (lifecycle === lastWatched) return;
  lastWatched = lifecycle;
  if (watched.has(lifecycle)) return;
  watched.add(lifecycle);

  let drainTimer: NodeJS.Timeout | undefined;
  const onState = (state: LifecycleState): void => {
    if (state === 'stopping' || state === 'stopped') {
      // Whatever the mode, nothing outlives the drain phase: cleanup closes what handlers use.
      lifecycle.off('state', onState);
      clearTimeout(drainTimer);
      abortRequests(lifecycle, ['deadline', 'immediate']);
    } else if (state === 'draining' && drainTimer === undefined) {
      abortRequests(lifecycle, ['immediate']);
      // Shared by every request: armed in none, whatever code started the shutdown.
      drainTimer = runOutsideRequestContext(() => setTimeout(() => abortRequests(lifecycle, ['deadline']), Math.max(0, shutdownAbortTime(lifecycle) - Date.now())));
      drainTimer.unref();
    }
  };
  lifecycle.on('state', onState);
  if (lifecycle.isShuttingDown) onState(lifecycle.state);
}

function abortRequests(lifecycle: Lifecycle, modes: readonly AbortOnShutdown[]): void {
  for (const context of activeContexts()) {
    const entry = timedRequestOf(context);
    if (entry === undefined || entry.reason !== undefined) continue;
    const { owner } = entry;
    if (!modes.includes(owner.options.abortOnShutdown) || owner.lifecycle() !== lifecycle) continue;
    try {
      // Each request's abort listeners, 503 and logs run as that request.
      runInContext(context, () => owner.expire(entry, new ShuttingDownError()));
    } catch (error) {
      owner.logger().error('@keel/timeout: answering a request at shutdown failed', { error });
    }
  }
}
