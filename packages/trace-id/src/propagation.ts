import { AsyncResource } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import { getContext } from '@keel/lifecycle';
import { OUTBOUND, traceparentOf, type TracedContext } from './context';

/** The channel undici (npm, and the copy inside Node that runs `fetch`) publishes each new request on. */
export const UNDICI_REQUEST_CREATE = 'undici:request:create';

/** The part of undici's request object this module touches. */
interface UndiciRequest {
  readonly origin?: unknown;
  readonly headers?: unknown;
  addHeader(name: string, value: string): unknown;
}

interface PropagationSlot {
  listener: ((message: unknown) => void) | undefined;
}

// Process-wide, so two installed copies of this package subscribe once between them.
const SLOT_KEY = Symbol.for('keel.traceId.propagation');
const slot: PropagationSlot = ((globalThis as Record<symbol, PropagationSlot | undefined>)[SLOT_KEY] ??= { listener: undefined });

function hasHeader(headers: unknown, name: string): boolean {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const key: unknown = headers[i];
      if (typeof key === 'string' && key.length === name.length && key.toLowerCase() === name) return true;
    }
    return false;
  }
  // undici 5 kept the headers as one `name: value\r\n` string.
  if (typeof headers === 'string') {
    const lower = headers.toLowerCase();
    return lower.startsWith(`${name}:`) || lower.includes(`\n${name}:`);
  }
  return false;
}

/**
 * The context the request was dispatched from. A pool with every connection busy
 * queues the dispatch and creates the request later, from the callback of
 * whichever request freed a connection: the context current then belongs to that
 * other request. undici's `request()`/`stream()`/`pipeline()` handlers are
 * AsyncResources created at dispatch, so their scope holds the right context.
 */
function dispatchContext(request: UndiciRequest): TracedContext | undefined {
  for (const key of Object.getOwnPropertySymbols(request)) {
    if (key.description !== 'handler') continue;
    const handler = (request as unknown as Record<symbol, unknown>)[key];
    if (handler instanceof AsyncResource) return handler.runInAsyncScope(getContext) as TracedContext | undefined;
  }
  return getContext() as TracedContext | undefined;
}

function onRequestCreate(message: unknown): void {
  // A throwing subscriber becomes an uncaught exception in the caller's process.
  try {
    const request = (message as { request?: UndiciRequest } | null)?.request;
    if (request === undefined || typeof request.addHeader !== 'function') return;
    const context = dispatchContext(request);
    const outbound = context?.[OUTBOUND];
    if (context === undefined || outbound === undefined || !outbound.propagate) return;
    if (outbound.to !== undefined && !(typeof request.origin === 'string' && outbound.to(request.origin))) return;
    const traceparent = traceparentOf(context);
    if (traceparent === undefined) return;
    const { headers } = request;
    // OpenTelemetry's undici instrumentation (subscribed earlier) has added its own: one traceparent, never two.
    if (!hasHeader(headers, 'traceparent')) request.addHeader('traceparent', traceparent);
    if (outbound.header !== undefined && !hasHeader(headers, outbound.headerLower!)) request.addHeader(outbound.header, context.requestId ?? context.traceId!);
  } catch {
    // Never break the caller's request for a header.
  }
}

/**
 * Subscribes (once per process, whatever the number of calls or installed copies)
 * to undici's request channel, so `fetch` and undici requests made inside a traced
 * request carry `traceparent` and the ID header. Each request undici creates (each
 * attempt of a retrying dispatcher) gets a parent-id of its own, a client span
 * child of this service's span. `traceId()` calls it unless `propagate: false`.
 */
export function installPropagation(): void {
  if (slot.listener !== undefined) return;
  slot.listener = onRequestCreate;
  diagnosticsChannel.subscribe(UNDICI_REQUEST_CREATE, onRequestCreate);
}

/**
 * Moves keel's subscription behind every other subscriber of the channel, so a
 * tracer that subscribed after it (OpenTelemetry's undici instrumentation
 * registered after `traceId()` was called) adds its `traceparent` first, and
 * keel then adds none. Called once, when a request first runs in an
 * OpenTelemetry span.
 */
export function runAfterOtherSubscribers(): void {
  if (slot.listener === undefined) return;
  diagnosticsChannel.unsubscribe(UNDICI_REQUEST_CREATE, slot.listener);
  diagnosticsChannel.subscribe(UNDICI_REQUEST_CREATE, slot.listener);
}

/** Removes the subscription made by {@link installPropagation}; for tests and teardown. */
export function uninstallPropagation(): void {
  if (slot.listener === undefined) return;
  diagnosticsChannel.unsubscribe(UNDICI_REQUEST_CREATE, slot.listener);
  slot.listener = undefined;
}

/** True while outbound propagation is subscribed in this process. */
export function isPropagationInstalled(): boolean {
  return slot.listener !== undefined;
}
