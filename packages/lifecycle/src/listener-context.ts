import { AsyncLocalStorage } from 'node:async_hooks';
import { IncomingMessage, ServerResponse } from 'node:http';

/** What the listener binding needs from a request context: whether its store is entered now. */
export interface ListenerContextSource {
  /** True while code runs inside some request context of this store. */
  inRequest(): boolean;
}

/** Where a request context exposes its {@link ListenerContextSource} (on its class's prototype). */
export const LISTENER_SOURCE = Symbol.for('keel.lifecycle.listenerContextSource');

/** A context as the listener binding sees it. */
export interface ListenerContext {
  readonly [LISTENER_SOURCE]: ListenerContextSource;
  readonly res: ServerResponse;
}

type Listener = (...args: unknown[]) => unknown;
type AddListener = (this: NodeJS.EventEmitter, event: string | symbol, listener: Listener) => NodeJS.EventEmitter;
type BoundListener = Listener & { listener: Listener };

/** Marks the methods installed on Node's prototypes, whichever copy of the package installed them. */
const INSTALLED = Symbol.for('keel.lifecycle.bindListenersInContext.v2');
/** The method a binding method wraps, for {@link addUnboundListener}. */
const ORIGINAL = Symbol.for('keel.lifecycle.originalAddListener');

const METHODS = ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const;
type Method = (typeof METHODS)[number];

let installed = false;

/**
 * Makes every listener that code running in a request context adds to a
 * request's `req` or `res` (`'data'`, `'end'`, `'finish'`, `'close'`...) run in
 * the async context it was added in, as `AsyncResource.bind` would: Node emits
 * those events from the connection's context (a body arriving from the socket),
 * or from whichever request's code ended the response.
 *
 * Paid only where it is used: the methods that add listeners on the prototypes
 * of `http.IncomingMessage` and `http.ServerResponse` are wrapped once, on the
 * first request context, and bind nothing for emitters of requests no keel
 * middleware has seen, or for listeners added outside any request context
 * (Node's own). Emitting is untouched. Removing works with the listener as
 * given (`off(event, listener)`), and `listeners()` returns it, as for `once`.
 */
export function bindListenersInContext(contextKey: symbol): void {
  if (installed) return;
  installed = true;
  for (const prototype of [IncomingMessage.prototype, ServerResponse.prototype] as Array<Record<Method, AddListener>>) {
    const isResponse = prototype === (ServerResponse.prototype as unknown);
    const own = Object.getOwnPropertyDescriptor(prototype, 'on')?.value as { [INSTALLED]?: true } | undefined;
    // Another copy of the package (or another realm of this one) installed them: one set serves all.
    if (own?.[INSTALLED]) continue;
    // Taken before any is wrapped: a bound listener is added through these, never bound twice.
    const adders = { on: prototype.on, prependListener: prototype.prependListener };
    for (const method of METHODS) install(prototype, method, adders, contextKey, isResponse);
  }
}

function install(prototype: Record<Method, AddListener>, method: Method, adders: Record<'on' | 'prependListener', AddListener>, contextKey: symbol, isResponse: boolean): void {
  const original = prototype[method];
  const once = method === 'once' || method === 'prependOnceListener';
  const add = method === 'prependOnceListener' || method === 'prependListener' ? adders.prependListener : adders.on;
  const wrapper = function addListenerInContext(this: NodeJS.EventEmitter, event: string | symbol, listener: Listener): NodeJS.EventEmitter {
    if (typeof listener !== 'function' || !addedInRequest(this, contextKey, isResponse)) return original.call(this, event, listener);
    return add.call(this, event, once ? bindOnce(this, event, listener) : bind(listener));
  } as AddListener & { [INSTALLED]?: true; [ORIGINAL]?: AddListener };
  wrapper[INSTALLED] = true;
  wrapper[ORIGINAL] = original;
  Object.defineProperty(wrapper, 'name', { value: original.name });
  Object.defineProperty(prototype, method, { value: wrapper, writable: true, configurable: true, enumerable: false });
}

/**
 * True when `emitter` belongs to a request with a keel context whose response
 * has not finished, and the caller runs in a request context. Once the response
 * has finished, what is added is Node's own clean-up (a request's `'end'`), which
 * needs no context.
 */
function addedInRequest(emitter: NodeJS.EventEmitter, contextKey: symbol, isResponse: boolean): boolean {
  const owner = isResponse ? (emitter as ServerResponse).req : emitter;
  const context = owner === undefined || owner === null ? undefined : (owner as unknown as Record<symbol, ListenerContext | undefined>)[contextKey];
  return context !== undefined && !context.res.writableFinished && context[LISTENER_SOURCE].inRequest();
}

function applyListener(listener: Listener, self: unknown, args: unknown[]): unknown {
  return Reflect.apply(listener, self, args);
}

function bind(listener: Listener): BoundListener {
  const runInAddersContext = AsyncLocalStorage.snapshot();
  const bound = function boundListener(this: unknown, ...args: unknown[]): unknown {
    return runInAddersContext(applyListener, listener, this, args);
  } as BoundListener;
  // EventEmitter's removeListener() and listeners() look through `.listener`, as for once().
  bound.listener = listener;
  return bound;
}

function bindOnce(emitter: NodeJS.EventEmitter, event: string | symbol, listener: Listener): BoundListener {
  const runInAddersContext = AsyncLocalStorage.snapshot();
  let fired = false;
  const bound = function boundOnceListener(this: unknown, ...args: unknown[]): unknown {
    emitter.removeListener(event, bound);
    if (fired) return undefined;
    fired = true;
    return runInAddersContext(applyListener, listener, this, args);
  } as BoundListener;
  bound.listener = listener;
  return bound;
}

/**
 * Adds `listener` to `emitter` (a request's `req` or `res`, or its socket)
 * without binding it, first among its listeners when `first`: for keel's own
 * listeners, which end contexts and must never run as the request that added them.
 */
export function addUnboundListener(emitter: NodeJS.EventEmitter, event: string | symbol, listener: Listener, first: boolean): void {
  const add = (first ? emitter.prependListener : emitter.on) as AddListener & { [ORIGINAL]?: AddListener };
  (add[ORIGINAL] ?? add).call(emitter, event, listener);
}
