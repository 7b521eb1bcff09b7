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

/** A context as the `emit` functions see it. */
export interface EventContext {
  readonly [EVENT_SOURCE]: EventContextSource<EventContext>;
}

type Emit = (this: NodeJS.EventEmitter, event: string | symbol, ...args: unknown[]) => boolean;

/** Marks the `emit` functions installed on Node's prototypes, whichever copy of the package installed them. */
const PROTOTYPE_EMIT = Symbol.for('keel.lifecycle.emitInRequestContext');
const OWN_EMIT = Symbol('keel.ownEmit');
const OWN_EMIT_CONTEXT = Symbol('keel.ownEmitContext');

let requestEmit: Emit | undefined;
let responseEmit: Emit | undefined;

/**
 * Makes every event of `req` and `res` (`'data'`, `'end'`, `'finish'`, `'close'`...)
 * run in the request's async context, whoever listens to it: Node emits them from
 * the connection's async context, where the request's store is not set.
 *
 * The common path costs nothing per request: one `emit` on the prototypes of
 * `http.IncomingMessage` and `http.ServerResponse`, installed on first use, finds
 * the context under `contextKey` on `req` (and on `res.req`) and does nothing for
 * requests no keel middleware has seen. An own `emit` on every request and
 * response (the obvious way) gives Node's hottest objects a new shape: measured,
 * it cost about 15% of bare Express throughput. Emitters that shadow `emit`
 * themselves (a subclass, a library wrapping it, HTTP/2 compatibility objects)
 * get an own `emit` instead.
 */
export function emitEventsInContext(req: IncomingMessage, res: ServerResponse, context: EventContext, contextKey: symbol): void {
  requestEmit ??= prototypeEmit(IncomingMessage.prototype, contextKey, false);
  responseEmit ??= prototypeEmit(ServerResponse.prototype, contextKey, true);
  if (req.emit !== requestEmit) emitOwnEventsInContext(req, context, false);
  if (res.emit !== responseEmit) emitOwnEventsInContext(res, context, true);
}

/** The context-entering `emit` of `prototype`: the one installed already, or a new one. */
function prototypeEmit(prototype: object, contextKey: symbol, isResponse: boolean): Emit {
  const existing = Object.getOwnPropertyDescriptor(prototype, 'emit')?.value as (Emit & { [PROTOTYPE_EMIT]?: true }) | undefined;
  if (existing?.[PROTOTYPE_EMIT]) return existing;
  const inherited = (prototype as { emit: Emit }).emit;
  const emitInRequestContext = function emit(this: NodeJS.EventEmitter, event: string | symbol): boolean {
    const owner = isResponse ? (this as ServerResponse).req : this;
    const context = owner === undefined ? undefined : (owner as unknown as Record<symbol, EventContext | undefined>)[contextKey];
    // eslint-disable-next-line prefer-rest-params -- forwards every argument without copying them
    if (context === undefined) return Reflect.apply(inherited, this, arguments);
    // eslint-disable-next-line prefer-rest-params
    return emitInContext(this, context, isResponse, inherited, event, arguments);
  } as Emit & { [PROTOTYPE_EMIT]?: true };
  emitInRequestContext[PROTOTYPE_EMIT] = true;
  Object.defineProperty(prototype, 'emit', { value: emitInRequestContext, writable: true, configurable: true, enumerable: false });
  return emitInRequestContext;
}

function emitInContext(emitter: NodeJS.EventEmitter, context: EventContext, isResponse: boolean, emit: Emit, event: string | symbol, args: IArguments): boolean {
  const source = context[EVENT_SOURCE];
  // Ending the context here spares every response a 'close' listener of its own.
  if (isResponse && event === 'close') source.responseClosed(context);
  // Most events have no listener: nothing runs, so there is no context to enter.
  if (source.storage.getStore() === context || emitter.listenerCount(event) === 0) return Reflect.apply(emit, emitter, args);
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
}

function ownRequestEmit(this: OwnContextEmitter & NodeJS.EventEmitter, event: string | symbol): boolean {
  // eslint-disable-next-line prefer-rest-params
  return emitInContext(this, this[OWN_EMIT_CONTEXT], false, this[OWN_EMIT], event, arguments);
}

function ownResponseEmit(this: OwnContextEmitter & NodeJS.EventEmitter, event: string | symbol): boolean {
  // eslint-disable-next-line prefer-rest-params
  return emitInContext(this, this[OWN_EMIT_CONTEXT], true, this[OWN_EMIT], event, arguments);
}
