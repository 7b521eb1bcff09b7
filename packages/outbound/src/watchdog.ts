import { performance } from 'node:perf_hooks';
import { runOutsideRequestContext } from '@keel/lifecycle';

/** How often the attempts in flight are checked: the granularity of every timeout of this package. */
export const TICK_MS = 10;

/** Something with a moment (on {@link clock}) at which it expires. */
export interface Watched {
  readonly expiresAt: number;
  expire(): void;
}

/**
 * A clock read cheaply many times per call: `performance.now()` taken at each
 * call's start and at each tick, so it is never more than a tick behind.
 */
export const clock = { now: performance.now() };

const watched = new Set<Watched>();
let interval: NodeJS.Timeout | undefined;
let idleTicks = 0;

/** Refreshes the clock; returns its value. */
export function readClock(): number {
  return (clock.now = performance.now());
}

/**
 * Watches `entry` until {@link unwatch}. One interval for every attempt in flight,
 * instead of a timer per attempt (a timer costs more than the rest of a call);
 * it runs while attempts are in flight and stops two ticks after the last one.
 */
export function watch(entry: Watched): void {
  watched.add(entry);
  idleTicks = 0;
  // Shared by every request: armed in no request's context.
  interval ??= runOutsideRequestContext(() => setInterval(tick, TICK_MS));
}

/** Stops watching `entry`. */
export function unwatch(entry: Watched): void {
  watched.delete(entry);
}

function tick(): void {
  const now = readClock();
  if (watched.size === 0) {
    if (++idleTicks >= 2) {
      clearInterval(interval);
      interval = undefined;
    }
    return;
  }
  for (const entry of watched) {
    if (entry.expiresAt <= now) {
      watched.delete(entry);
      try {
        entry.expire();
      } catch (error) {
        // One attempt's failure must not stop the others' timeouts.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }
}
