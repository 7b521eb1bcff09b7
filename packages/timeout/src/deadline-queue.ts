import { performance } from 'node:perf_hooks';
import { runOutsideRequestContext } from '@keel/lifecycle';

/** An item a {@link DeadlineQueue} holds: the queue links through it, so linking allocates nothing. */
export interface QueueEntry<E extends QueueEntry<E>> {
  /** Monotonic ms (`performance.now()` clock) at which the entry expires. */
  expiresAt: number;
  /** The queue holding the entry, or `undefined` when it is in none. */
  queue: DeadlineQueue<E> | undefined;
  previous: E | undefined;
  following: E | undefined;
}

/** Timers fire on whole milliseconds; an entry this close to its time is due. */
const TOLERANCE_MS = 1;

let liveEntries = 0;
let armedTimers = 0;

/** Counts for leak checks: entries in any queue, and queue timers still armed. */
export function queueStats(): { entries: number; armedTimers: number } {
  return { entries: liveEntries, armedTimers };
}

/**
 * A FIFO of entries that all have the same time budget, so they expire in the
 * order they arrived, and one timer armed for the oldest. Adding and removing
 * are O(1) and touch no timer: an entry removed before its time leaves the timer
 * armed, and when it fires it re-arms for the new oldest entry. With steady
 * traffic that is one timer per budget period, not one per request.
 */
export class DeadlineQueue<E extends QueueEntry<E>> {
  #head: E | undefined;
  #tail: E | undefined;
  #timer: NodeJS.Timeout | undefined;
  #size = 0;

  constructor(
    /** Called for each entry whose time has come, after it left the queue, in no request's context: enter the entry's own. */
    private readonly onExpire: (entry: E) => void,
    /** Called when `onExpire` throws, so one bad entry cannot stop the others. */
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Number of entries waiting. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends `entry`, which must expire no earlier than the entries already in
   * the queue (true when every entry gets the same budget on a monotonic clock).
   */
  push(entry: E): void {
    entry.queue = this;
    entry.previous = this.#tail;
    entry.following = undefined;
    if (this.#tail === undefined) this.#head = entry;
    else this.#tail.following = entry;
    this.#tail = entry;
    this.#size++;
    liveEntries++;
    if (this.#timer === undefined) this.#arm(entry.expiresAt - performance.now());
  }

  /** Unlinks `entry`; does nothing if it is not in this queue. */
  remove(entry: E): void {
    if (entry.queue !== this) return;
    if (entry.previous === undefined) this.#head = entry.following;
    else entry.previous.following = entry.following;
    if (entry.following === undefined) this.#tail = entry.previous;
    else entry.following.previous = entry.previous;
    entry.queue = undefined;
    entry.previous = undefined;
    entry.following = undefined;
    this.#size--;
    liveEntries--;
  }

  /** The entries in expiry order, as a copy (safe to remove entries while iterating it). */
  entries(): E[] {
    const list: E[] = [];
    for (let entry = this.#head; entry !== undefined; entry = entry.following) list.push(entry);
    return list;
  }

  #arm(delay: number): void {
    armedTimers++;
    // Armed outside any request: the queue serves every request, and a timer
    // keeps the context it was armed in (that of whichever request armed it).
    this.#timer = runOutsideRequestContext(() => setTimeout(fireQueue, Math.max(1, Math.ceil(delay)), this));
    // Unref'd: in-flight requests keep the process alive through their sockets;
    // a timer left armed for an empty queue must not.
    this.#timer.unref();
  }

  /** Runs when the queue's timer fires: expires what is due, re-arms for the rest. */
  fire(): void {
    this.#timer = undefined;
    armedTimers--;
    const now = performance.now() + TOLERANCE_MS;
    // Read the head afresh each turn: onExpire runs user code that may end other responses.
    for (let head = this.#head; head !== undefined && head.expiresAt <= now; head = this.#head) {
      this.remove(head);
      try {
        this.onExpire(head);
      } catch (error) {
        this.onError(error);
      }
    }
    const head = this.#head;
    if (head !== undefined && this.#timer === undefined) this.#arm(head.expiresAt - performance.now());
  }
}

function fireQueue(queue: { fire(): void }): void {
  queue.fire();
}
