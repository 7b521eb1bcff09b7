import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const BRIEF_ITERATION_MS = 5;
const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What the listener close needs to know about accepted connections. */
export interface AcceptCounter {
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Epoch ms of the last one. */
  readonly lastAcceptedAt: number;
}

/**
 * Closes the listener once no connection has been accepted for `quietMs` and
 * the kernel's accept queue is empty, or at `latestAt` (epoch ms): from then on,
 * new connections are refused by the kernel.
 *
 * Why: closing a listening socket resets every connection the kernel has
 * completed but the process has not accepted yet, and those clients have usually
 * sent their request already. libuv accepts at most one connection per loop
 * iteration, so a queue can outlive a quiet moment: the close waits for a loop
 * iteration whose poll phase accepted nothing, and runs in the check phase right after it.
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
    if ((counter.accepted === before && brief) || Date.now() >= latestAt) break;
  }
  // net.Server#close, not http.Server#close: on Node 19+ the latter also destroys
  // every idle keep-alive socket at once, racing clients that are reusing them.
  if (server.listening) NetServer.prototype.close.call(server);
}
