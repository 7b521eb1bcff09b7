import type { AsyncLocalStorage } from 'node:async_hooks';
import { IncomingMessage, ServerResponse } from 'node:http';

/**
 * What the `emit` functions need from a request context: the store to enter it
 * in, and what to do when its response closes. Kept on the context (its class's
 * prototype, under {@link EVENT_SOURCE}), never captured by the functions, because
 * Node's prototypes are shared by every copy of this package and every realm
 * (`vm` contexts, test runners) in the process, and each of those has its own store.
 */
export interface EventContextSource<Context> {
  readonly storage: AsyncLocalStorage<Context>;
  /** Called once when the response of `context` emits `'close'` (after `'finish'`, or on an aborted connection), before its listeners run. */
  responseClosed(context: Context): void;
}

/** Where a request context exposes its {@link EventContextSource}. */
export const EVENT_SOURCE = Symbol.for('keel.lifecycle.eventContextSource');

/** Where a request context records that its events must enter it: true once a listener was added to its `req` or `res` inside it. */
export const LISTENED_IN_CONTEXT = Symbol.for('keel.lifecycle.listenedInContext');

/** A context as the `emit` functions see it. */
export interface EventContext {
  readonly [EVENT_SOURCE]: EventContextSource<EventContext>;
  [LISTENED_IN_CONTEXT]: boolean;
}

type Emit = (this: NodeJS.EventEmitter, event: string | symbol, ...args: unknown[]) => boolean;
type AddListener = (this: NodeJS.EventEmitter, event: string | symbol, listener: (...args: unknown[]) => void) => NodeJS.EventEmitter;
type Method = Emit | AddListener;

/** Marks the functions installed on Node's prototypes, whichever copy of the package installed them. */
const INSTALLED = Symbol.for('keel.lifecycle.requestEventContext');
const OWN_EMIT = Symbol('keel.ownEmit');
const OWN_EMIT_CONTEXT = Symbol('keel.ownEmitContext');

/** The `EventEmitter` methods every way of adding a listener goes through (`once` calls `on`, `prependOnceListener` calls `prependListener`). */
const ADD_LISTENER_METHODS = ['on', 'addListener', 'prependListener'] as const;

let requestEmit: Emit | undefined;
let responseEmit: Emit | undefined;

/**
 * Makes the events of `req` and `res` (`'data'`, `'end'`, `'finish'`, `'close'`...)
 * run their listeners in the request's async context: Node emits them from the
 * connection's async context, where the request's store is not set, so a body
 * parser's `next()` would otherwise lose the request.
 *
 * The common path costs nearly nothing per request. One `emit` and one wrapper of
 * each way of adding a listener are installed, on first use, on the prototypes of
 * `http.IncomingMessage` and `http.ServerResponse` (an own `emit` on every request
 * and response gives Node's hottest objects a new shape: measured, it cost about
 * 15% of bare Express throughput). They find the context under `contextKey` on
 * `req` (and on `res.req`). Events enter the context only once a listener was
 * added to `req` or `res` inside it: until then, the listeners Node and earlier
 * middleware added run as Node emits them, and a request nobody listens to from
 * its context never pays for entering it. Emitters that shadow `emit` themselves
 * (a subclass, a library wrapping it, HTTP/2 compatibility objects) get an own
 * `emit` that always enters the context.
 */
export function emitEventsInContext(req: IncomingMessage, res: ServerResponse, context: EventContext, contextKey: symbol): void {
  if (requestEmit === undefined || responseEmit === undefined) {
    requestEmit = installOnPrototype(IncomingMessage.prototype, contextKey, false);
    responseEmit = installOnPrototype(ServerResponse.prototype, contextKey, true);
  }
  if (req.emit !== requestEmit) emitOwnEventsInContext(req, context, false);
  if (res.emit !== responseEmit) emitOwnEventsInContext(res, context, true);
}

/** Installs the context-entering `emit` and listener wrappers on `prototype`, unless installed already; returns its `emit`. */
function installOnPrototype(prototype: object, contextKey: symbol, isResponse: boolean): Emit {
  const contextOf = isResponse
    ? (emitter: unknown): EventContext | undefined => {
        const req = (emitter as ServerResponse).req as unknown as Record<symbol, EventContext | undefined> | undefined;
        return req === undefined ? undefined : req[contextKey];
      }
    : (emitter: unknown): EventContext | undefined => (emitter as Record<symbol, EventContext | undefined>)[contextKey];
  for (const method of ADD_LISTENER_METHODS) {
    installOnce<AddListener>(prototype, method, (inherited) => {
      const addListener = function (this: NodeJS.EventEmitter, event: string | symbol, listener: unknown): NodeJS.EventEmitter {
        const context = contextOf(this);
        if (context !== undefined && !context[LISTENED_IN_CONTEXT] && needsContext(listener) && context[EVENT_SOURCE].storage.getStore() === context) {
          context[LISTENED_IN_CONTEXT] = true;
        }
        // eslint-disable-next-line prefer-rest-params -- forwards every argument without copying them
        return Reflect.apply(inherited, this, arguments) as NodeJS.EventEmitter;
      };
      Object.defineProperty(addListener, 'name', { value: method });
      return addListener;
    });
  }
  return installOnce<Emit>(prototype, 'emit', (inherited) =>
    function emit(this: NodeJS.EventEmitter, event: string | symbol): boolean {
      const context = contextOf(this);
      // eslint-disable-next-line prefer-rest-params
      if (context === undefined) return Reflect.apply(inherited, this, arguments);
      // eslint-disable-next-line prefer-rest-params
      return emitInContext(this, context, isResponse, inherited, event, arguments);
    },
  );
}

/**
 * False for the listener Node's HTTP server adds to every request once its
 * response finished (to release the parser when the body ends): it reads no
 * context, and entering the context for it would cost every request. Any other
 * listener added inside the request's context gets it back.
 */
function needsContext(listener: unknown): boolean {
  return (listener as { name?: unknown } | undefined)?.name !== 'clearIncoming';
}

/** Sets `prototype[method]` to `wrap(inherited)`, marked, unless a marked one is there already; returns the one in place. */
function installOnce<M extends Method>(prototype: object, method: string, wrap: (inherited: M) => M): M {
  const existing = Object.getOwnPropertyDescriptor(prototype, method)?.value as (M & { [INSTALLED]?: true }) | undefined;
  if (existing?.[INSTALLED]) return existing;
  const wrapper = wrap((prototype as Record<string, M>)[method]!) as M & { [INSTALLED]?: true };
  wrapper[INSTALLED] = true;
  Object.defineProperty(prototype, method, { value: wrapper, writable: true, configurable: true, enumerable: false });
  return wrapper;
}

function emitInContext(emitter: NodeJS.EventEmitter, context: EventContext, isResponse: boolean, emit: Emit, event: string | symbol, args: IArguments): boolean {
  const source = context[EVENT_SOURCE];
  // Ending the context here spares every response a 'close' listener of its own.
  if (isResponse && event === 'close') source.responseClosed(context);
  if (!context[LISTENED_IN_CONTEXT] || source.storage.getStore() === context || emitter.listenerCount(event) === 0) return Reflect.apply(emit, emitter, args);
  return source.storage.run(context, Reflect.apply, emit, emitter, args) as boolean;
}

interface OwnContextEmitter {
  [OWN_EMIT]: Emit;
  [OWN_EMIT_CONTEXT]: EventContext;
  emit: Emit;
}

function emitOwnEventsInContext(emitter: IncomingMessage | ServerResponse, context: EventContext, isResponse: boolean): void {
  const target = emitter as unknown as OwnContextEmitter;
  target[OWN_EMIT] = target.emit;
  target[OWN_EMIT_CONTEXT] = context;
  target.emit = (isResponse ? ownResponseEmit : ownRequestEmit) as Emit;
  // Such an emitter may not add listeners through the wrapped prototype methods: always enter the context.
  context[LISTENED_IN_CONTEXT] = true;
}

function ownRequestEmit(this: OwnContextEmitter & NodeJS.EventEmitter, event: string | symbol): boolean {
  // eslint-disable-next-line prefer-rest-params
  return emitInContext(this, this[OWN_EMIT_CONTEXT], false, this[OWN_EMIT], event, arguments);
}

function ownResponseEmit(this: OwnContextEmitter & NodeJS.EventEmitter, event: string | symbol): boolean {
  // eslint-disable-next-line prefer-rest-params
  return emitInContext(this, this[OWN_EMIT_CONTEXT], true, this[OWN_EMIT], event, arguments);
}
