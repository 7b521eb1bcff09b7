import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { notifyLongLived, setSocketOwner, type SocketOwner } from './long-lived';

/** How a socket came to close once the shutdown had started. */
export type CloseCause = 'afterResponse' | 'idle' | 'neverSent' | 'slowClient' | 'byClient' | 'forced';

/** A connection that held the drain while sending bytes without completing a request. */
export interface SlowClient {
  /** The peer's address, e.g. `'203.0.113.7'`. */
  readonly remoteAddress: string | undefined;
  /** The peer's port. */
  readonly remotePort: number | undefined;
  /** Why it was closed. */
  readonly reason: 'request incomplete after slowClientGrace' | 'request incomplete at the drain deadline';
  /** Bytes it sent since its last complete request (or since it connected). */
  readonly bytesReceived: number;
  /** Milliseconds it was seen sending without completing a request, from the drain's start at the earliest. */
  readonly heldMs: number;
}

/** At most this many slow clients are listed in a report; all are counted. */
const MAX_SLOW_CLIENTS_LISTED = 20;

/** Socket closes since the shutdown started, by cause. */
export type SocketCounts = Record<CloseCause, number>;

/** One client connection: its raw socket, the socket its requests arrive on, its requests in flight. */
class Connection {
  /** The socket requests arrive on: the raw socket for HTTP, the TLS socket once HTTPS is secure. */
  socket: Socket;
  /** The oldest response not yet finished, if any. */
  #oldest: ServerResponse | undefined = undefined;
  /** The unfinished responses queued behind it, oldest first, once the client has pipelined. */
  #queued: ServerResponse[] | undefined = undefined;
  requests = 0;
  /** When the connection last became silent, and `socket.bytesRead` then. */
  quietSince: number;
  quietBytes: number;
  /** Why the drain closed it, when the drain did. */
  closedBy: CloseCause | undefined;
  /** The last finished response carried `Connection: close`, so Node closes the socket after it. */
  closesAfterResponse = false;
  /** The peer's address and port, while an HTTPS connection is still in its TLS handshake. */
  handshakeKey: string | undefined;
  /** When the drain first saw bytes arrive with no request emitted: a request head still coming in. */
  partialSince: number | undefined;
  /** `bytesRead` after its last complete request (0 before any). */
  bytesAtLastRequest = 0;

  constructor(readonly raw: Socket) {
    this.socket = raw;
    this.quietSince = Date.now();
    this.quietBytes = raw.bytesRead;
  }

  /** How many of its responses have not finished. */
  get inFlight(): number {
    return this.#oldest === undefined ? 0 : 1 + (this.#queued?.length ?? 0);
  }

  /** Its unfinished responses, oldest first. */
  get responses(): ServerResponse[] {
    return this.#oldest === undefined ? [] : [this.#oldest, ...(this.#queued ?? [])];
  }

  /** The newest unfinished response: the one a `Connection: close` goes on. */
  get newest(): ServerResponse | undefined {
    return this.#queued !== undefined && this.#queued.length > 0 ? this.#queued[this.#queued.length - 1] : this.#oldest;
  }

  // One field for the usual single response: an array per request would be allocated and grown each time.
  add(res: ServerResponse): void {
    if (this.#oldest === undefined) this.#oldest = res;
    else (this.#queued ??= []).push(res);
  }

  /** Removes `res`; false when it was not in flight here. */
  remove(res: ServerResponse): boolean {
    if (this.#oldest === res) {
      this.#oldest = this.#queued !== undefined && this.#queued.length > 0 ? this.#queued.shift() : undefined;
      return true;
    }
    const index = this.#queued === undefined ? -1 : this.#queued.indexOf(res);
    if (index === -1) return false;
    this.#queued!.splice(index, 1);
    return true;
  }
}

type SlottedSocket = Socket & Record<symbol, Connection | undefined>;

function remoteKey(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined ? undefined : `${socket.remoteAddress}|${socket.remotePort ?? ''}`;
}

/**
 * Tracks one server's connections through its public events ('connection',
 * 'secureConnection', 'request', and the response's 'finish'/'close'): per
 * connection the requests in flight and whether it ever sent a byte. During a
 * drain it marks responses `Connection: close` and closes idle connections once
 * silent, never while a request is being read or answered.
 */
export class ConnectionTracker implements SocketOwner {
  readonly secure: boolean;
  readonly counts: SocketCounts = { afterResponse: 0, idle: 0, neverSent: 0, slowClient: 0, byClient: 0, forced: 0 };
  /** Connections closed (or cut) while a request head was still arriving, the first ones listed. */
  readonly slowClients: SlowClient[] = [];
  slowClientCount = 0;
  requestsDuringDrain = 0;
  responsesDuringDrain = 0;
  longLivedNotified = 0;
  /** Requests still in flight on sockets destroyed by force. */
  cutRequests = 0;
  /** Connections accepted so far, and when the last one was. */
  accepted = 0;
  lastAcceptedAt = 0;
  readonly #connections = new Map<Socket, Connection>();
  /** Where this tracker keeps a socket's (raw or TLS) connection on the socket: a property read, per request, where a WeakMap costs a lookup. */
  readonly #slot = Symbol('keel.drain.connection');
  readonly #handshaking = new Map<string, Connection>();
  readonly #marked = new WeakSet<ServerResponse>();
  #inFlight = 0;
  /** When a request last arrived or a response last ended, on any connection. */
  #lastActivityAt = 0;
  #deregistering = false;
  #forceClose = false;
  #closing = false;
  #closingSince = 0;
  #idleGrace: number;
  #slowClientGrace: number;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepAt = Infinity;
  #onEmpty: Array<() => void> = [];
  readonly #listeners: Array<[string, (...args: any[]) => void]> = [];

  constructor(
    readonly server: HttpServer | HttpsServer,
    idleGrace: number,
    readonly reportFailure: (error: unknown) => void,
    slowClientGrace = 2000,
  ) {
    this.#idleGrace = idleGrace;
    this.#slowClientGrace = slowClientGrace;
    this.secure = server instanceof TlsServer;
    this.#listen('connection', (socket: Socket) => this.#onConnection(socket));
    if (this.secure) this.#listen('secureConnection', (socket: Socket) => this.#onSecureConnection(socket));
    // First, so `Connection: close` is set before a handler can answer synchronously.
    this.#listen('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res), true);
  }

  /** How long no request may have started or ended on the server before idle connections close. */
  get #serverQuiet(): number {
    return Math.ceil(this.#idleGrace / 5);
  }

  /** True once the drain has started (the listener is closed). */
  get closing(): boolean {
    return this.#closing;
  }

  /** Connections still open. */
  get size(): number {
    return this.#connections.size;
  }

  /** Requests whose response has not finished yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Connections with no request in flight. */
  get idle(): number {
    let count = 0;
    for (const connection of this.#connections.values()) if (connection.inFlight === 0) count++;
    return count;
  }

  /** Whether `socket` (raw or TLS) is an open connection of this server. */
  owns(socket: Socket | null | undefined): boolean {
    const connection = socket ? this.#connectionOf(socket) : undefined;
    return connection !== undefined && this.#connections.has(connection.raw);
  }

  /** Shutdown started: from now on every response carries `Connection: close`. */
  deregister(): void {
    if (this.#deregistering) return;
    this.#deregistering = true;
    // Requests are timed from now on; the shutdown's start counts as the last activity before it.
    this.#lastActivityAt = Date.now();
    this.#setForceClose(true);
  }

  /**
   * Before the listener closes: responses keep their connection alive again, so
   * clients stop opening new ones and none is mid-handshake when the listener closes.
   */
  settle(): void {
    this.deregister();
    if (!this.#closing) this.#setForceClose(false);
  }

  /**
   * The listener is closed: every response carries `Connection: close` again,
   * long-lived responses are told to finish, and idle connections are closed
   * once silent (see `#sweep`), with `idleGrace` at most `maxIdleGrace`.
   */
  startClosing(maxIdleGrace: number): void {
    this.deregister();
    this.#closing = true;
    this.#closingSince = Date.now();
    this.#setForceClose(true);
    this.#idleGrace = Math.max(1, Math.min(this.#idleGrace, maxIdleGrace));
    this.#slowClientGrace = Math.max(1, Math.min(this.#slowClientGrace, maxIdleGrace));
    for (const connection of this.#connections.values()) {
      // Bytes in since it went quiet and no request out of them: a request head is arriving now.
      if (connection.inFlight === 0 && connection.socket.bytesRead !== connection.quietBytes) connection.partialSince ??= this.#closingSince;
      for (const res of connection.responses) this.longLivedNotified += notifyLongLived(res, this);
    }
    this.#scheduleSweep();
  }

  /** Resolves once every connection has closed. */
  whenEmpty(): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#onEmpty.push(resolve));
  }

  /** Counts what a forced teardown will cut: from now, closes count as forced. */
  markForced(): void {
    const now = Date.now();
    for (const connection of this.#connections.values()) {
      if (connection.closedBy !== undefined) continue;
      connection.closedBy = 'forced';
      this.cutRequests += connection.inFlight;
      if (connection.inFlight === 0 && (connection.partialSince !== undefined || connection.socket.bytesRead !== connection.quietBytes)) {
        this.#recordSlowClient(connection, 'request incomplete at the drain deadline', now);
      }
    }
  }

  /** Destroys every connection still open. */
  destroyAll(): void {
    this.markForced();
    for (const connection of [...this.#connections.values()]) connection.raw.destroy();
  }

  /** Removes the listeners and the timer; the sockets stay as they are. */
  dispose(): void {
    for (const [event, listener] of this.#listeners) this.server.off(event, listener);
    clearTimeout(this.#sweepTimer);
  }

  #listen(event: string, listener: (...args: any[]) => void, first = false): void {
    if (first) this.server.prependListener(event, listener);
    else this.server.on(event, listener);
    this.#listeners.push([event, listener]);
  }

  #setForceClose(force: boolean): void {
    this.#forceClose = force;
    for (const connection of this.#connections.values()) {
      const last = connection.newest;
      if (last === undefined) continue;
      if (force) this.#markClose(connection, last);
      else this.#unmarkClose(last);
    }
  }

  #connectionOf(socket: Socket | null): Connection | undefined {
    return socket === null ? undefined : (socket as SlottedSocket)[this.#slot];
  }

  #onConnection(raw: Socket): Connection {
    this.accepted++;
    this.lastAcceptedAt = Date.now();
    const connection = new Connection(raw);
    this.#connections.set(raw, connection);
    (raw as SlottedSocket)[this.#slot] = connection;
    setSocketOwner(raw, this);
    if (this.secure && (raw as Partial<TLSSocket>).encrypted !== true) {
      connection.handshakeKey = remoteKey(raw);
      if (connection.handshakeKey !== undefined) this.#handshaking.set(connection.handshakeKey, connection);
    }
    raw.once('close', () => this.#onClose(connection));
    if (this.#closing) this.#scheduleSweep();
    return connection;
  }

  // The TLS socket and its raw socket share the peer's address and port: that pairs them.
  #onSecureConnection(socket: Socket): void {
    const key = remoteKey(socket);
    const connection = key === undefined ? undefined : this.#handshaking.get(key);
    if (connection === undefined) return;
    this.#handshaking.delete(key!);
    connection.handshakeKey = undefined;
    connection.socket = socket;
    connection.quietSince = Date.now();
    connection.quietBytes = socket.bytesRead;
    (socket as SlottedSocket)[this.#slot] = connection;
    setSocketOwner(socket, this);
    if (this.#closing) this.#scheduleSweep();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    // A connection accepted before drainOnShutdown() was called is adopted at its first request.
    const connection = this.#connectionOf(req.socket) ?? this.#onConnection(req.socket);
    connection.requests++;
    connection.partialSince = undefined;
    connection.add(res);
    this.#inFlight++;
    // Activity times matter once the shutdown started (deregister() sets the first): no clock read per request before.
    if (this.#deregistering) {
      this.#lastActivityAt = Date.now();
      this.requestsDuringDrain++;
    }
    if (this.#forceClose) this.#markClose(connection, res);
    // One function for every response (`this` names it): nothing allocated per request.
    res.on('close', this.#responseClosed);
  }

  // A response always emits 'close', after 'finish' or when its connection died; on
  // Node 20 and 22 one still queued behind a pipelined response does not, and goes with its connection.
  readonly #responseClosed = ((tracker: ConnectionTracker) =>
    function responseClosed(this: ServerResponse): void {
      tracker.#responseDone(this);
    })(this);

  #responseDone(res: ServerResponse): void {
    const connection = this.#connectionOf(res.req.socket);
    if (connection === undefined) return;
    if (!connection.remove(res)) return;
    this.#inFlight--;
    if (this.#deregistering) {
      this.#lastActivityAt = Date.now();
      if (res.writableFinished) this.responsesDuringDrain++;
    }
    if (connection.inFlight > 0) return;
    // Responses are marked only once the shutdown started; before it, when a connection went quiet never matters (see #sweep).
    connection.closesAfterResponse = this.#deregistering && this.#marked.has(res) && res.writableFinished;
    if (this.#deregistering) connection.quietSince = this.#lastActivityAt;
    connection.quietBytes = connection.socket.bytesRead;
    connection.bytesAtLastRequest = connection.quietBytes;
    connection.partialSince = undefined;
    if (this.#closing) this.#scheduleSweep();
  }

  // Only the newest response of a connection says close: with pipelining, Node
  // would otherwise close the socket before answering the requests queued behind it.
  #markClose(connection: Connection, res: ServerResponse): void {
    for (const earlier of connection.responses) if (earlier !== res) this.#unmarkClose(earlier);
    if (res.headersSent) return;
    res.setHeader('Connection', 'close');
    this.#marked.add(res);
  }

  #unmarkClose(res: ServerResponse): void {
    if (!this.#marked.has(res) || res.headersSent) return;
    res.removeHeader('connection');
    this.#marked.delete(res);
  }

  /** Arms the one sweep timer for the earliest moment an idle connection may be closed. */
  #scheduleSweep(): void {
    if (!this.#closing) return;
    let earliest = Infinity;
    for (const connection of this.#connections.values()) {
      if (connection.inFlight > 0 || connection.closedBy !== undefined) continue;
      earliest = Math.min(earliest, Math.max(connection.quietSince, this.#closingSince) + this.#idleGrace);
      if (connection.partialSince !== undefined) earliest = Math.min(earliest, Math.max(connection.partialSince, this.#closingSince) + this.#slowClientGrace);
    }
    if (earliest === Infinity) return;
    const at = Math.max(earliest, this.#lastActivityAt + this.#serverQuiet);
    if (this.#sweepTimer !== undefined && this.#sweepAt <= at) return;
    clearTimeout(this.#sweepTimer);
    this.#sweepAt = at;
    // Decide in the check phase, after the poll phase has read what arrived while
    // the process waited: a starved process runs its due timers before reading.
    this.#sweepTimer = setTimeout(() => setImmediate(() => this.#sweep()), Math.max(0, at - Date.now()));
  }

  /**
   * Closes each idle connection silent for `idleGrace`, counted from the drain's
   * start at the earliest, at a moment when no request has started or ended on the
   * server for a fifth of that. Closing a kept-alive socket races a client about to
   * reuse it: clients moving off the sockets that just closed after their response
   * pick idle ones up within the grace (and get `Connection: close`), and no
   * client is acting on a response in a quiet moment.
   */
  #sweep(): void {
    this.#sweepTimer = undefined;
    this.#sweepAt = Infinity;
    const now = Date.now();
    if (now - this.#lastActivityAt < this.#serverQuiet) {
      this.#scheduleSweep();
      return;
    }
    for (const connection of [...this.#connections.values()]) {
      if (connection.inFlight > 0 || connection.closedBy !== undefined) continue;
      const bytes = connection.socket.bytesRead;
      if (bytes !== connection.quietBytes) {
        // Bytes arrived with no request yet: one is being read. Wait for it to go quiet again,
        // but not for ever: a client trickling a request head (a byte every few hundred ms)
        // never goes quiet, and would hold the drain to its deadline.
        connection.partialSince ??= now;
        if (now - Math.max(connection.partialSince, this.#closingSince) >= this.#slowClientGrace) {
          connection.closedBy = 'slowClient';
          this.#recordSlowClient(connection, 'request incomplete after slowClientGrace', now);
          connection.raw.destroy();
          continue;
        }
        connection.quietBytes = bytes;
        connection.quietSince = now;
        continue;
      }
      if (now - Math.max(connection.quietSince, this.#closingSince) < this.#idleGrace) continue;
      connection.closedBy = connection.requests === 0 ? 'neverSent' : connection.closesAfterResponse ? 'afterResponse' : 'idle';
      // destroy(), not end(): should a request still race in, the kernel resets it
      // before any handler runs, instead of running a handler whose answer cannot be sent.
      connection.raw.destroy();
    }
    this.#scheduleSweep();
  }

  #recordSlowClient(connection: Connection, reason: SlowClient['reason'], now: number): void {
    this.slowClientCount++;
    if (this.slowClients.length >= MAX_SLOW_CLIENTS_LISTED) return;
    const { raw } = connection;
    this.slowClients.push(
      Object.freeze({
        remoteAddress: raw.remoteAddress,
        remotePort: raw.remotePort,
        reason,
        bytesReceived: Math.max(0, connection.socket.bytesRead - connection.bytesAtLastRequest),
        heldMs: connection.partialSince === undefined ? 0 : now - Math.max(connection.partialSince, this.#closingSince),
      }),
    );
  }

  #onClose(connection: Connection): void {
    this.#connections.delete(connection.raw);
    if (connection.handshakeKey !== undefined) this.#handshaking.delete(connection.handshakeKey);
    if (this.#deregistering) {
      const cause = connection.closedBy ?? (connection.closesAfterResponse ? 'afterResponse' : 'byClient');
      this.counts[cause]++;
    }
    if (this.#connections.size === 0) {
      clearTimeout(this.#sweepTimer);
      this.#sweepTimer = undefined;
      const waiters = this.#onEmpty;
      this.#onEmpty = [];
      for (const resolve of waiters) resolve();
    }
  }
}
