import type { IncomingMessage } from 'node:http';
import { currentContext, OUTBOUND, RECEIVED, traceparentOf } from './context';

/**
 * The trace ID of the running request (or of `req`): the active OpenTelemetry
 * span's, a trusted `traceparent`'s, or a fresh one (32 lowercase hex with the
 * default generator). `undefined` outside a request, or before `traceId()` has run.
 */
export function getTraceId(req?: IncomingMessage): string | undefined {
  return currentContext(req)?.traceId;
}

/**
 * This service's span ID for the running request (or `req`): 16 lowercase hex
 * characters, OpenTelemetry's server span when one is active. Outbound calls
 * do not carry it: each names a client span of its own, child of this one.
 */
export function getSpanId(req?: IncomingMessage): string | undefined {
  return currentContext(req)?.spanId;
}

/** The caller's span ID from a valid, trusted incoming `traceparent` of the same trace; `undefined` otherwise. */
export function getParentId(req?: IncomingMessage): string | undefined {
  return currentContext(req)?.parentId;
}

/** The sampled flag of the running request's trace; `undefined` outside a traced request. */
export function isSampled(req?: IncomingMessage): boolean | undefined {
  return currentContext(req)?.sampled;
}

/**
 * The request ID a trusted caller sent (`X-Request-ID`, or another configured
 * opaque ID header), kept beside the trace ID; `undefined` when none was sent.
 */
export function getRequestId(req?: IncomingMessage): string | undefined {
  return currentContext(req)?.requestId;
}

/**
 * The ID an untrusted client sent, when it passed validation (it was not used as
 * the trace ID). Invalid values are never kept.
 */
export function getReceivedId(req?: IncomingMessage): string | undefined {
  return currentContext(req)?.[RECEIVED];
}

/**
 * A `traceparent` for one outbound call of the running request (or `req`): the
 * trace ID and sampled flag of the request, and a fresh span ID as parent-id,
 * the call being a client span of its own, child of this service's span
 * ({@link getSpanId}). Each call returns another parent-id, so a downstream
 * tells calls and retries apart: get one per outgoing request. `undefined`
 * outside a traced request.
 */
export function getTraceparent(req?: IncomingMessage): string | undefined {
  const context = currentContext(req);
  return context === undefined ? undefined : traceparentOf(context);
}

/**
 * Headers that carry the running request's trace on one outbound call made
 * with `http.request`, axios or any client the diagnostics channel does not
 * see: `traceparent` and the configured ID header (the request ID, else the
 * trace ID). The `traceparent` is {@link getTraceparent}'s: a fresh parent-id
 * on every call, so get new headers for each request sent, retries included.
 * An empty object outside a request.
 */
export function traceHeaders(req?: IncomingMessage): Record<string, string> {
  const context = currentContext(req);
  const headers: Record<string, string> = {};
  if (context === undefined) return headers;
  const traceparent = traceparentOf(context);
  if (traceparent === undefined) return headers;
  headers.traceparent = traceparent;
  const header = context[OUTBOUND] === undefined ? 'x-request-id' : context[OUTBOUND].header;
  if (header !== undefined) headers[header] = context.requestId ?? context.traceId!;
  return headers;
}
