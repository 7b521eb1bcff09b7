import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EVENT_SOURCE, emitEventsInContext, type EventContext, type EventContextSource } from './event-context';
import { processGlobal } from './process-global';

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

class KeelRequestContext implements RequestContext, EventContext {
  // On the prototype (set below the store it names), so no request pays for it.
  declare readonly [EVENT_SOURCE]: EventContextSource<EventContext>;
  readonly startedAt = Date.now();
  traceId?: string;
  spanId?: string;
  parentId?: string;
  sampled?: boolean;
  deadline?: number;
  ended = false;
  [BRIDGE_SCOPED] = false;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #aborted = false;

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

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  // Logging a context must not serialise the whole request and response.
  toJSON(): Record<string, unknown> {
    const { startedAt, traceId, spanId, parentId, sampled, deadline, ended } = this;
    return { startedAt, traceId, spanId, parentId, sampled, deadline, aborted: this.#aborted, ended };
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
  readonly active: Set<RequestContext>;
  bridge: ContextBridge | undefined;
  endListeners?: ContextEndListener[];
}

const state = processGlobal<ContextState>('keel.lifecycle.contextState', () => ({
  storage: new AsyncLocalStorage<RequestContext>(),
  active: new Set(),
  bridge: undefined,
}));
const endListeners = (state.endListeners ??= []);

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
  return state.storage.getStore();
}

/** Returns the context attached to `req`, or `undefined` when no keel middleware has seen it. */
export function contextOf(req: IncomingMessage): RequestContext | undefined {
  return (req as unknown as Record<symbol, RequestContext | undefined>)[CONTEXT_PROPERTY];
}

/** The contexts of every request whose response has not ended yet. */
export function activeContexts(): ReadonlySet<RequestContext> {
  return state.active;
}

/**
 * Calls `listener` whenever a request context ends: when its response emits
 * `'close'` (after `'finish'`, or when the connection closed first; then
 * `context.res.writableEnded` is false), before the response's own `'close'`
 * listeners run. One listener for all requests, where a `'close'` listener per
 * response would cost every request. Returns the function that removes it.
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

const eventContextSource: EventContextSource<KeelRequestContext> = {
  storage: state.storage as AsyncLocalStorage<KeelRequestContext>,
  responseClosed(context) {
    // A response whose emit another library wraps passes through two context emits: end it once.
    if (context.ended) return;
    context.ended = true;
    state.active.delete(context);
    for (let i = 0; i < endListeners.length; i++) {
      try {
        endListeners[i]!(context);
      } catch (error) {
        // A listener's bug must not stop the response's own 'close' listeners: surface it as uncaught.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  },
};
Object.defineProperty(KeelRequestContext.prototype, EVENT_SOURCE, { value: eventContextSource });

/**
 * Returns the context of `req`, opening it when no keel middleware has yet,
 * without entering it: a middleware can fill in its fields first, then call
 * {@link runInRequestContext} to run the rest of the chain in it.
 */
export function openRequestContext(req: IncomingMessage, res: ServerResponse): RequestContext {
  return contextOf(req) ?? createContext(req, res);
}

function createContext(req: IncomingMessage, res: ServerResponse): KeelRequestContext {
  const context = new KeelRequestContext(req, res);
  // Plain assignment: defineProperty costs ten times more per request. Symbol keys stay out of Object.keys and JSON.
  (req as unknown as Record<symbol, RequestContext>)[CONTEXT_PROPERTY] = context;
  // Node emits req and res events from the connection's async context, not the request's: re-enter it.
  // A ServerResponse always emits 'close' once, after 'finish' or on an aborted connection: that ends the context.
  emitEventsInContext(req, res, context, CONTEXT_PROPERTY);
  if (res.closed) context.ended = true;
  else state.active.add(context);
  return context;
}

/**
 * Runs `next` inside the request's context, opening the context on first use.
 * Every keel middleware calls this, so whichever runs first opens the context
 * and the rest join it; the context is entered with `run()`, never `enterWith()`.
 * Events of `req` and `res` (`'data'`, `'end'`, `'finish'`, `'close'`...) are
 * emitted in the request's async context too, whoever listens to them.
 */
export function runInRequestContext<T>(req: IncomingMessage, res: ServerResponse, next: () => T): T {
  const context = (contextOf(req) as KeelRequestContext | undefined) ?? createContext(req, res);
  if (state.storage.getStore() === context) return next();
  if (state.bridge === undefined) return state.storage.run(context, next);
  if (context[BRIDGE_SCOPED]) return runWith(context, next);
  context[BRIDGE_SCOPED] = true;
  return runWith(context, () => {
    // A bridged store (cls-hooked) keeps values set during the request: re-enter this very scope.
    const resource = new AsyncResource('keel.RequestContext');
    emitInScope(resource, req);
    emitInScope(resource, res);
    return next();
  });
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
  if (bridge === undefined) return state.storage.run(context, fn);
  return state.storage.run(context, () => bridge.run(context, fn));
}

/**
 * Runs `fn` outside any request context, so work that a request only triggered
 * (a shutdown started by a fault in one request) never runs as that request.
 */
export function runOutsideRequestContext<T>(fn: () => T): T {
  return outsideRequests.runInAsyncScope(fn);
}

// Created when this module loads, before any request: its scope holds no context.
// (storage.exit() would disable the store for the caller's own sync code too.)
const outsideRequests = new AsyncResource('keel.outsideRequests');
