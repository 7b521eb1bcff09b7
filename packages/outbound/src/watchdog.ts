import { performance } from 'node:perf_hooks';
import { runOutsideRequestContext } from '@keel/lifecycle';

/** How often the attempts in flight are checked: the granularity of every timeout of this package. */
export const TICK_MS = 10;

/**
 * Something with a moment (on {@link clock}) at which it expires. The links are
 * the watchdog's: an intrusive list costs no allocation and no hashing per attempt.
 */
export interface Watched {
  readonly expiresAt: number;
  expire(): void;
  watchPrevious: Watched | undefined;
  watchNext: Watched | undefined;
  watching: boolean;
}

/**
 * A clock read cheaply many times per call: `performance.now()` taken at each
 * call's start and at each tick, so it is never more than a tick behind.
 */
export const clock = { now: performance.now() };

let head: Watched | undefined;
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
  if (entry.watching) return;
  entry.watching = true;
  entry.watchPrevious = undefined;
  entry.watchNext = head;
  if (head !== undefined) head.watchPrevious = entry;
  head = entry;
  idleTicks = 0;
  // Shared by every request: armed in no request's context.
  interval ??= runOutsideRequestContext(() => setInterval(tick, TICK_MS));
}

/** Stops watching `entry`. */
export function unwatch(entry: Watched): void {
  if (!entry.watching) return;
  entry.watching = false;
  const { watchPrevious: previous, watchNext: next } = entry;
  if (previous === undefined) head = next;
  else previous.watchNext = next;
  if (next !== undefined) next.watchPrevious = previous;
  entry.watchPrevious = undefined;
  entry.watchNext = undefined;
}

function tick(): void {
  const now = readClock();
  if (head === undefined) {
    if (++idleTicks >= 2) {
      clearInterval(interval);
      interval = undefined;
    }
    return;
  }
  let entry: Watched | undefined = head;
  while (entry !== undefined) {
    const next: Watched | undefined = entry.watchNext;
    if (entry.expiresAt <= now) {
      unwatch(entry);
      try {
        entry.expire();
      } catch (error) {
        // One attempt's failure must not stop the others' timeouts.
        process.nextTick(() => {
          throw error;
        });
      }
    }
    entry = next;
  }
}
