import type { IncomingMessage } from 'node:http';
import { contextOf, getContext, type RequestContext } from '@keel/lifecycle';
import { formatTraceparent } from './ids';

/**
 * Where trace-id keeps, on the shared request context, how that request's
 * outbound calls are stamped. `Symbol.for`, so two installed copies agree.
 */
export const OUTBOUND = Symbol.for('keel.traceId.outbound');

/** Where the valid ID of an untrusted client is kept on the request context. */
export const RECEIVED = Symbol.for('keel.traceId.received');

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
}

/** The context of `req` when given, else the one of the running async chain. */
export function currentContext(req?: IncomingMessage): TracedContext | undefined {
  return (req === undefined ? getContext() : contextOf(req)) as TracedContext | undefined;
}

/** The `traceparent` a call made from `context` carries, with this service's span as its parent. */
export function traceparentOf(context: TracedContext): string | undefined {
  const { traceId, spanId } = context;
  if (traceId === undefined || spanId === undefined) return undefined;
  return formatTraceparent(traceId, spanId, context.sampled);
}
