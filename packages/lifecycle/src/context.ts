import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { LISTENER_SOURCE, addUnboundListener, bindListenersInContext, type ListenerContext, type ListenerContextSource } from './listener-context';
import { versionedProcessGlobal } from './process-global';

/**
 * The one context object of a request, shared by every keel package. trace-id
 * writes the trace fields, timeout the deadline; the signal is shared by all
 * that cancel work (timeout, client disconnect, shutdown).
 */
export interface RequestContext {
  /** The request this context belongs to. */
  readonly req: IncomingMessage;
  /** The response of that request. */
  readonly res: ServerResponse;
  /** `Date.now()` when the context was entered. */
  readonly startedAt: number;
  /** The trace ID of the request (set by `@keel/trace-id`). */
  traceId?: string;
  /** This service's span ID for the request (set by `@keel/trace-id`). */
  spanId?: string;
  /** The caller's span ID from an incoming `traceparent` (set by `@keel/trace-id`). */
  parentId?: string;
  /** The sampled flag of an incoming `traceparent` (set by `@keel/trace-id`). */
  sampled?: boolean;
  /** The request ID a trusted caller sent (`X-Request-ID`), kept beside the trace ID (set by `@keel/trace-id`). */
  requestId?: string;
  /** Epoch milliseconds at which the request's deadline expires (set by `@keel/timeout`). */
  deadline?: number;
  /**
   * The request's AbortSignal, created on first read. It aborts with the reason
   * given to {@link RequestContext.abort}: a deadline, a client disconnect or shutdown.
   */
  readonly signal: AbortSignal;
  /** True once {@link RequestContext.abort} has been called. */
  readonly aborted: boolean;
  /** Aborts the request's signal with `reason`; later calls are ignored. */
  abort(reason: unknown): void;
  /** True once the response has finished or its connection closed. */
  readonly ended: boolean;
}

/** The property on `req` under which the request's context is reachable. */
export const CONTEXT_PROPERTY = Symbol.for('keel.requestContext');

// Set once the request's events re-enter a bridged store's scope (on the first entry under a bridge).
const BRIDGE_SCOPED = Symbol.for('keel.lifecycle.bridgeScoped');

/** On a socket: its {@link SocketContexts}, from its first request context on. */
const SOCKET_CONTEXTS = Symbol.for('keel.lifecycle.socketContexts.v3');

type TrackedSocket = Socket & { [SOCKET_CONTEXTS]?: SocketContexts };

/**
 * The contexts still open on one connection, oldest first (more than one when
 * the client pipelines), linked through the contexts themselves. One per
 * connection: a request reads one property of its socket and writes to this
 * object, never to the socket.
 */
class SocketContexts {
  first: KeelRequestContext | undefined = undefined;
  last: KeelRequestContext | undefined = undefined;
}

class KeelRequestContext implements RequestContext, ListenerContext {
  // On the prototype (set below the store it names), so no request pays for it.
  declare readonly [LISTENER_SOURCE]: ListenerContextSource;
  readonly startedAt = Date.now();
  traceId?: string;
  spanId?: string;
  parentId?: string;
  sampled?: boolean;
  requestId?: string;
  deadline?: number;
  [BRIDGE_SCOPED] = false;
  /** The connection whose list of open contexts holds this one, while it does. */
  onSocket: SocketContexts | undefined = undefined;
  previousOnSocket: KeelRequestContext | undefined = undefined;
  nextOnSocket: KeelRequestContext | undefined = undefined;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #aborted = false;
  #ended = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  // Most requests never need a signal: create the controller only when asked.
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  // Also read off the response: a context made for a response that had already closed.
  get ended(): boolean {
    if (!this.#ended && this.res.closed) this.#ended = true;
    return this.#ended;
  }

  /** Marks the context ended; false when it already was. */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    return true;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  // Logging a context must not serialise the whole request and response.
  toJSON(): Record<string, unknown> {
    const { startedAt, traceId, spanId, parentId, sampled, requestId, deadline, ended } = this;
    return { startedAt, traceId, spanId, parentId, sampled, requestId, deadline, aborted: this.#aborted, ended };
  }
}

/**
 * A store that can also publish the context elsewhere (for example into a
 * cls-hooked namespace) while `run` executes.
 */
export interface ContextBridge {
  /** Runs `fn` with `context` also visible through the bridged store. */
  run<T>(context: RequestContext, fn: () => T): T;
}

/** Called once when a request context ends: its response finished, or its connection closed first. */
export type ContextEndListener = (context: RequestContext) => void;

interface ContextState {
  readonly storage: AsyncLocalStorage<RequestContext>;
  bridge: ContextBridge | undefined;
  readonly endListeners: ContextEndListener[];
  /** The connections with a context open now or earlier, until they close: per connection, never per request. */
  readonly sockets: Set<SocketContexts>;
}

// Version 3: contexts kept per connection in one object on its socket, none in a process-wide set.
const state = versionedProcessGlobal<ContextState>('keel.lifecycle.contextState', 3, () => ({
  storage: new AsyncLocalStorage<RequestContext>(),
  bridge: undefined,
  endListeners: [],
  sockets: new Set(),
}));
// Read once: a test runner may retire the global object holding them while sockets of an earlier file still close.
const { storage, endListeners, sockets } = state;

const listenerSource: ListenerContextSource = {
  inRequest: () => storage.getStore() !== undefined,
};
Object.defineProperty(KeelRequestContext.prototype, LISTENER_SOURCE, { value: listenerSource });

/** Sets (or with `undefined`, clears) the bridge every new request context is also published through. */
export function setContextBridge(bridge: ContextBridge | undefined): void {
  state.bridge = bridge;
}

/** The bridge in force, if any (shared by every copy of this package). */
export function getContextBridge(): ContextBridge | undefined {
  return state.bridge;
}

/** Returns the context of the request whose async chain is running, or `undefined` outside one. */
export function getContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Returns the context attached to `req`, or `undefined` when no keel middleware has seen it. */
export function contextOf(req: IncomingMessage): RequestContext | undefined {
  return (req as unknown as Record<symbol, RequestContext | undefined>)[CONTEXT_PROPERTY];
}

/**
 * A snapshot of the contexts of every request still open, on every
 * connection: derived when called (shutdown calls it), never kept up to date
 * per request. A request whose `req` has no socket (a made-up request handed
 * to `app.handle()`) is not listed.
 */
export function activeContexts(): ReadonlySet<RequestContext> {
  const snapshot = new Set<RequestContext>();
  for (const connection of sockets) {
    for (let context = connection.first; context; context = context.nextOnSocket) if (!context.ended) snapshot.add(context);
  }
  return snapshot;
}

/**
 * Calls `listener` whenever a request context ends, exactly once per request:
 * when its response closes (after `'finish'`, or when the connection closed
 * first; then `context.res.writableEnded` is false), or when its connection
 * closes with the response still queued behind a pipelined one. The listener
 * runs in that request's context, before the response's own `'close'` listeners
 * added inside the request. One listener for all requests. Returns the
 * function that removes it.
 */
export function onRequestContextEnd(listener: ContextEndListener): () => void {
  endListeners.push(listener);
  return function removeContextEndListener(): void {
    const index = endListeners.indexOf(listener);
    if (index !== -1) endListeners.splice(index, 1);
  };
}

/**
 * Binds `fn` to the async context current now, so a callback queued by a pool
 * or an emitter runs in the request that queued it.
 */
export function bind<F extends (...args: any[]) => unknown>(fn: F): F {
  return AsyncResource.bind(fn) as F;
}

/**
 * Returns the context of `req`, opening it when no keel middleware has yet,
 * without entering it: a middleware can fill in its fields first, then call
 * {@link runInRequestContext} to run the rest of the chain in it.
 */
export function openRequestContext(req: IncomingMessage, res: ServerResponse): RequestContext {
  return contextOf(req) ?? createContext(req, res);
}

function createContext(req: IncomingMessage, res: ServerResponse): KeelRequestContext {
  bindListenersInContext(CONTEXT_PROPERTY);
  const context = new KeelRequestContext(req, res);
  // Plain assignment: defineProperty costs ten times more per request. Symbol keys stay out of Object.keys and JSON.
  (req as unknown as Record<symbol, RequestContext>)[CONTEXT_PROPERTY] = context;
  if (res.closed) {
    context.end();
    return context;
  }
  // First, so the context has ended when the listeners the request added run.
  addUnboundListener(res, 'close', endOnResponseClose, true);
  const socket = req.socket as TrackedSocket | null | undefined;
  if (socket !== null && socket !== undefined && !socket.closed) track(context, socket);
  return context;
}

// Shared by every response: `this` names it, so adding it allocates nothing.
function endOnResponseClose(this: ServerResponse): void {
  const context = contextOf(this.req) as KeelRequestContext | undefined;
  if (context !== undefined && context.res === this) endContext(context);
}

function track(context: KeelRequestContext, socket: TrackedSocket): void {
  let connection = socket[SOCKET_CONTEXTS];
  if (connection === undefined) {
    // The socket's first context: one object, one listener and one set entry per connection.
    connection = socket[SOCKET_CONTEXTS] = new SocketContexts();
    addUnboundListener(socket, 'close', endSocketContexts, false);
    sockets.add(connection);
  }
  context.onSocket = connection;
  const last = connection.last;
  if (last === undefined) connection.first = context;
  else {
    last.nextOnSocket = context;
    context.previousOnSocket = last;
  }
  connection.last = context;
}

function untrack(context: KeelRequestContext): void {
  const connection = context.onSocket;
  if (connection === undefined) return;
  const { previousOnSocket: previous, nextOnSocket: next } = context;
  if (previous === undefined) connection.first = next;
  else previous.nextOnSocket = next;
  if (next === undefined) connection.last = previous;
  else next.previousOnSocket = previous;
  context.onSocket = context.previousOnSocket = context.nextOnSocket = undefined;
}

// Node 20 and 22 never emit 'close' on a pipelined response still queued when its socket dies: end those here.
function endSocketContexts(this: TrackedSocket): void {
  const connection = this[SOCKET_CONTEXTS];
  if (connection === undefined) return;
  sockets.delete(connection);
  let context = connection.first;
  connection.first = connection.last = undefined;
  while (context !== undefined) {
    const next = context.nextOnSocket;
    context.onSocket = context.previousOnSocket = context.nextOnSocket = undefined;
    endContext(context);
    context = next;
  }
}

function endContext(context: KeelRequestContext): void {
  // A response can close and its socket too: the context ends once.
  if (!context.end()) return;
  untrack(context);
  if (endListeners.length === 0) return;
  if (storage.getStore() === context) tellEnd(context);
  else runWith(context, () => tellEnd(context));
}

function tellEnd(context: RequestContext): void {
  for (let i = 0; i < endListeners.length; i++) {
    try {
      endListeners[i]!(context);
    } catch (error) {
      // A listener's bug must not stop the others, nor the response's own 'close' listeners: surface it as uncaught.
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

/**
 * Runs `next` inside the request's context, opening the context on first use.
 * Every keel middleware calls this, so whichever runs first opens the context
 * and the rest join it; the context is entered with `run()`, never `enterWith()`.
 * Listeners that code inside the request adds to `req` and `res` (`'data'`,
 * `'end'`, `'finish'`, `'close'`...) run in the request's context too.
 */
export function runInRequestContext<T>(req: IncomingMessage, res: ServerResponse, next: () => T): T {
  return enterRequestContext((contextOf(req) as KeelRequestContext | undefined) ?? createContext(req, res), next);
}

/**
 * {@link runInRequestContext} for a middleware that already holds the
 * request's context (from {@link openRequestContext}): runs `next` inside it,
 * without looking the context up on `req` again.
 */
export function enterRequestContext<T>(opened: RequestContext, next: () => T): T {
  const context = opened as KeelRequestContext;
  if (storage.getStore() === context) return next();
  if (state.bridge === undefined) return storage.run(context, next);
  if (context[BRIDGE_SCOPED]) return runWith(context, next);
  context[BRIDGE_SCOPED] = true;
  return runWith(context, () => {
    // A bridged store (cls-hooked) keeps values set during the request: re-enter this very scope.
    const resource = new AsyncResource('keel.RequestContext');
    emitInScope(resource, context.req);
    emitInScope(resource, context.res);
    return next();
  });
}

/**
 * Runs `fn` in the context of the request `context` belongs to, from anywhere:
 * a timer or queue shared by many requests uses it to run each request's own
 * callback as that request.
 */
export function runInContext<T>(context: RequestContext, fn: () => T): T {
  if (storage.getStore() === context) return fn();
  return runWith(context, fn);
}

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

function emitInScope(resource: AsyncResource, emitter: IncomingMessage | ServerResponse): void {
  const emit = emitter.emit as Emit;
  emitter.emit = function emitInRequestScope(this: unknown, event: string | symbol, ...args: unknown[]): boolean {
    return resource.runInAsyncScope(emit, this, event, ...args);
  };
}

function runWith<T>(context: RequestContext, fn: () => T): T {
  const { bridge } = state;
  if (bridge === undefined) return storage.run(context, fn);
  return storage.run(context, () => bridge.run(context, fn));
}

/**
 * Runs `fn` outside any request context, so work that a request only triggered
 * (a shutdown started by a fault in one request, a timer shared by many
 * requests) never runs as that request.
 */
export function runOutsideRequestContext<T>(fn: () => T): T {
  return outsideRequests.runInAsyncScope(fn);
}

// Created when this module loads, before any request: its scope holds no context.
// (storage.exit() would disable the store for the caller's own sync code too.)
const outsideRequests = new AsyncResource('keel.outsideRequests');
