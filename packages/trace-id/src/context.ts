import type { IncomingMessage } from 'node:http';
import { contextOf, getContext, type RequestContext } from '@keel/lifecycle';
import { formatTraceparent, newSpanId } from './ids';

/**
 * Where trace-id keeps, on the shared request context, how that request's
 * outbound calls are stamped. `Symbol.for`, so two installed copies agree.
 */
export const OUTBOUND = Symbol.for('keel.traceId.outbound');

/** Where the valid ID of an untrusted client is kept on the request context. */
export const RECEIVED = Symbol.for('keel.traceId.received');

/** Set on a request context whose span is OpenTelemetry's (recorded and exported), not one keel minted. */
export const OTEL_SPAN = Symbol.for('keel.traceId.otelSpan');

/** How a request's outbound calls carry its trace (one frozen object per middleware). */
export interface OutboundConfig {
  /** Whether fetch/undici calls are stamped automatically. */
  readonly propagate: boolean;
  /** The ID header's name as configured, or `undefined` for `traceparent` alone. */
  readonly header: string | undefined;
  /** The same, lowercased, for lookups. */
  readonly headerLower: string | undefined;
  /** Which origins get the headers; `undefined` for all. */
  readonly to: ((origin: string) => boolean) | undefined;
}

/** The shared request context with trace-id's own two keys. */
export interface TracedContext extends RequestContext {
  [OUTBOUND]?: OutboundConfig;
  [RECEIVED]?: string;
  [OTEL_SPAN]?: true;
}

/** The context of `req` when given, else the one of the running async chain. */
export function currentContext(req?: IncomingMessage): TracedContext | undefined {
  return (req === undefined ? getContext() : contextOf(req)) as TracedContext | undefined;
}

/**
 * The `traceparent` of one outbound call made from `context`: its trace ID and
 * sampled flag, and a fresh span ID as parent-id, the call being a client span
 * of its own, child of this service's span. Each call mints another, so a
 * downstream tells two calls (or two attempts of one call) apart. When the
 * request runs in an OpenTelemetry span, that span is the parent instead: it is
 * exported, and a parent-id naming a span no tracer records would break the
 * exported trace (OpenTelemetry's undici instrumentation, when registered,
 * stamps its own client spans first). `undefined` when `context` has no trace.
 */
export function traceparentOf(context: TracedContext): string | undefined {
  const { traceId, spanId } = context;
  if (traceId === undefined || spanId === undefined) return undefined;
  return formatTraceparent(traceId, context[OTEL_SPAN] === true ? spanId : newSpanId(), context.sampled);
}
