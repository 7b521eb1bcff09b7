import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';
import { kernelAcceptQueue } from './accept-queue';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const BRIEF_ITERATION_MS = 5;
/** How long past `latestAt` the close may wait for a moment the accept queue reads empty. */
const EMPTY_QUEUE_WAIT_MS = 100;
const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What the listener close needs to know about accepted connections. */
export interface AcceptCounter {
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Epoch ms of the last one. */
  readonly lastAcceptedAt: number;
}

/**
 * Closes the listener once no connection has been accepted for `quietMs`, in a
 * loop iteration whose poll phase accepted nothing, at an instant the kernel's
 * accept queue reads empty (where it can be read, see `kernelAcceptQueue`).
 * Past `latestAt` (epoch ms) it waits only for the empty queue, and at most
 * 100 ms for that. From then on, new connections are refused by the kernel.
 *
 * Why: closing a listening socket resets every connection the kernel has
 * completed but the process has not accepted yet, and those clients have usually
 * sent their request already. A client that ignores the failing readiness can
 * connect at any moment, so the close is timed to leave it the least room: the
 * quiet wait skips bursts, the brief iteration keeps the gap after the poll phase
 * short, and reading the queue right before the close shrinks what is left of
 * that gap to the read itself (about 0.1 ms).
 */
export async function closeListenerWhenQuiet(server: HttpServer | HttpsServer, counter: AcceptCounter, quietMs: number, latestAt: number): Promise<void> {
  for (;;) {
    const wait = Math.min(counter.lastAcceptedAt + quietMs, latestAt) - Date.now();
    if (wait <= 0) break;
    await sleep(wait);
  }
  for (;;) {
    const before = counter.accepted;
    const iterationStart = performance.now();
    await nextCheckPhase();
    // A slow iteration (much I/O, or the process descheduled) widens the gap between
    // the poll phase that found the queue empty and the close: try another one.
    const brief = performance.now() - iterationStart < BRIEF_ITERATION_MS;
    const late = Date.now() >= latestAt;
    if (!late && (counter.accepted !== before || !brief)) continue;
    // Where the kernel tells, close only in the instant its queue reads empty: a
    // connection completed since the poll phase is accepted by the next one instead.
    const queued = kernelAcceptQueue(server.address());
    if (queued === undefined || queued === 0 || Date.now() >= latestAt + EMPTY_QUEUE_WAIT_MS) break;
  }
  // net.Server#close, not http.Server#close: on Node 19+ the latter also destroys
  // every idle keep-alive socket at once, racing clients that are reusing them.
  if (server.listening) NetServer.prototype.close.call(server);
}
