import { Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  activeContexts,
  runInContext,
  getDefaultLifecycle,
  InvalidOptionError,
  processGlobal,
  ShuttingDownError,
  type Lifecycle,
  type Logger,
  type ShutdownHookContext,
} from '@keel/lifecycle';
import { publishComplete, publishDeregister } from './channels';
import { ConnectionTracker, type SlowClient, type SocketCounts } from './connections';
import { DrainIncompleteError } from './errors';

import { resolveOptions, type DrainOptions } from './options';
import { closeListenerWhenQuiet } from './listener';
import { createTerminator } from './terminator';

/** What one server's drain did, logged as its last line. */
export interface DrainReport {
  /** The server's name (the `name` option, or its address). */
  readonly server: string;
  /**
   * True when no request had to be aborted or cut, and no connection had to be
   * closed while a request head was still arriving (see `slowClients`).
   */
  readonly clean: boolean;
  /** Milliseconds from the listener closing to the last socket closed. */
  readonly durationMs: number;
  /** Requests in flight when the shutdown started. */
  readonly inFlightAtShutdown: number;
  /** Requests in flight when the listener closed. */
  readonly inFlightAtDrain: number;
  /** Requests received since the shutdown started. */
  readonly requestsDuringDrain: number;
  /** Responses completed since the shutdown started. */
  readonly servedDuringDrain: number;
  /**
   * Sockets closed since the shutdown started, by cause: after a response that
   * said `Connection: close`, silent and idle, never having sent a request, by the
   * client, or destroyed at the deadline.
   */
  readonly sockets: Readonly<SocketCounts>;
  /** Long-lived responses told to finish (see `registerLongLived`). */
  readonly longLivedNotified: number;
  /** Requests whose signal was aborted at the drain deadline. */
  readonly abortedRequests: number;
  /** Requests still unanswered when their sockets were destroyed. */
  readonly cutRequests: number;
  /** Connections closed while sending a request they never completed (after `slowClientGrace`, or at the deadline). */
  readonly slowClientCount: number;
  /** The first 20 of them, each with its remote address and the reason. */
  readonly slowClients: readonly SlowClient[];
}

/** What {@link drainOnShutdown} returns. */
export interface DrainHandle {
  /** The server's name in log lines. */
  readonly name: string;
  /** Resolves with the drain's report once this server is drained. */
  readonly drained: Promise<DrainReport>;
  /** Stops draining this server on shutdown and removes its listeners. */
  unregister(): void;
}

type DrainableServer = HttpServer | HttpsServer;

/** One server's drain: deregister at shutdown start, then stop accepting and close sockets as they go silent. */
class Drainer {
  readonly tracker: ConnectionTracker;
  readonly #terminate: () => Promise<void>;
  readonly #graceMs: number;
  readonly #logger: Logger;
  #name: string | undefined;
  #inFlightAtShutdown = 0;
  #resolveDrained!: (report: DrainReport) => void;
  readonly drained = new Promise<DrainReport>((resolve) => {
    this.#resolveDrained = resolve;
  });

  constructor(
    readonly server: DrainableServer,
    readonly options: Readonly<DrainOptions>,
    lifecycle: Lifecycle,
  ) {
    this.#logger = lifecycle.logger;
    this.#name = options.name;
    this.#graceMs = Math.max(1, Math.min(options.abortGrace, Math.floor(lifecycle.options.shutdownTimeout / 10)));
    this.tracker = new ConnectionTracker(
      server,
      options.idleGrace,
      (error) => this.#logger.error('drain: a long-lived response\'s onDrain threw', { server: this.name, error }),
      options.slowClientGrace,
    );
    this.#terminate = createTerminator(server, this.#graceMs);
    if (this.#name === undefined) server.once('listening', () => this.name);
  }

  get name(): string {
    if (this.#name !== undefined) return this.#name;
    const address = this.server.address() as AddressInfo | string | null;
    if (address === null) return this.tracker.secure ? 'https' : 'http';
    const protocol = this.tracker.secure ? 'https' : 'http';
    this.#name = typeof address === 'string' ? `${protocol}+unix://${address}` : `${protocol}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    return this.#name;
  }

  deregister(): void {
    this.#inFlightAtShutdown = this.tracker.inFlight;
    this.tracker.deregister();
    publishDeregister(this.name, this.#inFlightAtShutdown, this.tracker.size);
    this.#logger.info('drain: deregistering', { phase: 'deregister', server: this.name, inFlight: this.#inFlightAtShutdown, sockets: this.tracker.size });
  }

  async drain({ deadline, signal }: Pick<ShutdownHookContext, 'deadline' | 'signal'>): Promise<DrainReport> {
    const name = this.name;
    const startedAt = Date.now();
    // The margin lets the forced teardown end before the lifecycle gives up on the hook.
    const abortAt = deadline - this.#graceMs - Math.min(100, this.#graceMs);
    this.tracker.settle();
    const quiet = this.options.acceptQuiet;
    await closeListenerWhenQuiet(this.server, this.tracker, quiet, startedAt + Math.min(quiet * 10, (abortAt - startedAt) / 2));
    const settledMs = Date.now() - startedAt;
    // Silent sockets must close before the deadline would cut them.
    this.tracker.startClosing(Math.floor((abortAt - Date.now()) / 2));
    const inFlightAtDrain = this.tracker.inFlight;
    this.#logger.info('drain: listener closed', {
      phase: 'stop-accepting',
      server: name,
      inFlight: inFlightAtDrain,
      idleSockets: this.tracker.idle,
      sockets: this.tracker.size,
      settledMs,
      longLivedNotified: this.tracker.longLivedNotified,
    });

    let abortedRequests = 0;
    if (!(await settlesBefore(this.tracker.whenEmpty(), abortAt, signal))) {
      abortedRequests = this.#abortRequests();
      this.#logger.error('drain: deadline reached, aborting requests', {
        phase: 'abort',
        server: name,
        inFlight: this.tracker.inFlight,
        abortedRequests,
        sockets: this.tracker.size,
        graceMs: this.#graceMs,
      });
      // http-terminator destroys what is left when its grace ends; count it as forced from then.
      const forcedAt = setTimeout(() => this.tracker.markForced(), this.#graceMs);
      try {
        await settlesBefore(this.#terminate(), deadline, signal);
      } catch (error) {
        this.#logger.error('drain: http-terminator failed', { server: name, error });
      } finally {
        clearTimeout(forcedAt);
      }
      if (this.tracker.size > 0) {
        this.tracker.destroyAll();
        // 'close' follows destroy() on a later tick: let the counts catch up.
        await settlesBefore(this.tracker.whenEmpty(), Date.now() + 50, new AbortController().signal);
      }
    }

    const report: DrainReport = {
      server: name,
      clean: abortedRequests === 0 && this.tracker.cutRequests === 0 && this.tracker.slowClientCount === 0,
      durationMs: Date.now() - startedAt,
      inFlightAtShutdown: this.#inFlightAtShutdown,
      inFlightAtDrain,
      requestsDuringDrain: this.tracker.requestsDuringDrain,
      servedDuringDrain: this.tracker.responsesDuringDrain,
      sockets: { ...this.tracker.counts },
      longLivedNotified: this.tracker.longLivedNotified,
      abortedRequests,
      cutRequests: this.tracker.cutRequests,
      slowClientCount: this.tracker.slowClientCount,
      slowClients: [...this.tracker.slowClients],
    };
    (report.clean ? this.#logger.info : this.#logger.error).call(this.#logger, 'drain: complete', { phase: 'complete', ...report });
    publishComplete(report);
    this.#resolveDrained(report);
    return report;
  }

  // Through the shared request context: its signal is the one handlers, timeout and clients listen to.
  #abortRequests(): number {
    let aborted = 0;
    for (const context of activeContexts()) {
      if (context.ended || context.aborted || !this.tracker.owns(context.req.socket)) continue;
      // Its abort listeners run as that request, never as the drain.
      runInContext(context, () => context.abort(new ShuttingDownError()));
      aborted++;
    }
    return aborted;
  }

  dispose(): void {
    this.tracker.dispose();
  }
}

/** Resolves true if `promise` settles before `deadline` (epoch ms), false when the deadline or `signal` comes first. */
async function settlesBefore(promise: Promise<unknown>, deadline: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const cutoff = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    onAbort = () => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise.then(() => true), cutoff]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort!);
  }
}

/** The drainers of one lifecycle, drained by its one hook. */
interface Registration {
  readonly drainers: Set<Drainer>;
  readonly dispose: () => void;
  /** Set while the drain hook runs: drains a server registered late. */
  running: ((drainer: Drainer) => void) | undefined;
}

const registrations = processGlobal('keel.drain.registrations', () => new WeakMap<Lifecycle, Registration>());

function register(lifecycle: Lifecycle, drainer: Drainer): void {
  let registration = registrations.get(lifecycle);
  if (registration === undefined) {
    const drainers = new Set<Drainer>();
    const onDraining = (): void => {
      for (const each of drainers) each.deregister();
    };
    lifecycle.on('draining', onDraining);
    const unhook = lifecycle.onShutdown(
      'drain-servers',
      async (context) => {
        const runs: Array<Promise<DrainReport>> = [];
        const current = registrations.get(lifecycle);
        if (current !== undefined) current.running = (late) => runs.push(late.drain(context));
        for (const each of drainers) runs.push(each.drain(context));
        // A server registered while others drain joins the same run.
        for (let seen = 0; seen < runs.length; seen = runs.length) await Promise.all(runs);
        if (current !== undefined) current.running = undefined;
        const reports = await Promise.all(runs);
        const failed = reports.filter((report) => !report.clean);
        if (failed.length > 0) {
          throw new DrainIncompleteError(
            failed.map((report) => report.server),
            sum(failed.map((report) => report.abortedRequests)),
            sum(failed.map((report) => report.sockets.forced)),
            { slowClients: sum(failed.map((report) => report.slowClientCount)) },
          );
        }
      },
      // The drain phase's own deadline bounds the hook, not the per-hook default.
      { phase: 'drain', timeout: lifecycle.options.shutdownTimeout },
    );
    registration = {
      drainers,
      running: undefined,
      dispose: () => {
        lifecycle.off('draining', onDraining);
        unhook();
      },
    };
    registrations.set(lifecycle, registration);
  }
  registration.drainers.add(drainer);
  if (lifecycle.isShuttingDown) drainer.deregister();
  registration.running?.(drainer);
}

function unregister(lifecycle: Lifecycle, drainer: Drainer): void {
  const registration = registrations.get(lifecycle);
  if (registration === undefined || !registration.drainers.delete(drainer)) return;
  drainer.dispose();
  if (registration.drainers.size === 0) {
    registration.dispose();
    registrations.delete(lifecycle);
  }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/**
 * Drains `server` (what `app.listen()` returns, HTTP or HTTPS) when the
 * lifecycle shuts down, losing no request: from the shutdown's start every
 * response says `Connection: close` while readiness fails; after the
 * deregistration delay the listener closes (new connections are refused), in-flight
 * requests finish and their sockets close after the response, silent sockets
 * close; at the drain deadline the requests left are aborted through their
 * context signal and, after `abortGrace`, cut. Several servers on one lifecycle
 * drain together within its one budget.
 */
export function drainOnShutdown(server: HttpServer | HttpsServer, options?: Partial<DrainOptions>): DrainHandle {
  const candidate: unknown = server;
  if (!(candidate instanceof HttpServer) && !(candidate instanceof HttpsServer)) {
    throw new InvalidOptionError('@keel/drain', 'server', 'an http.Server or https.Server (what app.listen() returns)', server);
  }
  const resolved = resolveOptions(options);
  const lifecycle = resolved.lifecycle ?? getDefaultLifecycle();
  const drainer = new Drainer(server, resolved, lifecycle);
  register(lifecycle, drainer);

  let releaseReadiness: (() => void) | undefined;
  const onListening = (): void => {
    releaseReadiness?.();
    releaseReadiness = undefined;
    lifecycle.markReady();
  };
  if (resolved.markReady) {
    if (server.listening) lifecycle.markReady();
    else {
      releaseReadiness = lifecycle.holdReadiness(`@keel/drain: ${drainer.name}`);
      server.once('listening', onListening);
    }
  }

  return {
    get name() {
      return drainer.name;
    },
    drained: drainer.drained,
    unregister() {
      server.off('listening', onListening);
      releaseReadiness?.();
      releaseReadiness = undefined;
      unregister(lifecycle, drainer);
    },
  };
}
