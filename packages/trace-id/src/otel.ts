// @opentelemetry/api is an optional peer: it is required lazily, once, and only
// the few members below are used, so no type of it reaches this package's API.

/** The identity of an OpenTelemetry span, as `span.spanContext()` returns it. */
interface OtelSpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

interface OtelSpan {
  spanContext(): OtelSpanContext;
}

interface OtelContext {
  getValue(key: symbol): unknown;
}

interface OtelApi {
  readonly context: { active(): OtelContext };
  readonly trace: { getSpan(context: OtelContext): OtelSpan | undefined };
}

/** The span a request runs in, as keel adopts it. */
export interface AdoptedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

/** Reads the OpenTelemetry span the running code is in; `undefined` when none is valid. */
export type ActiveSpanReader = () => AdoptedSpan | undefined;

// Where @opentelemetry/core keeps the server span of an HTTP request (its getRPCMetadata()).
// Keys made with the API's createContextKey() are Symbol.for(description), the same in every copy.
const RPC_METADATA = Symbol.for('OpenTelemetry SDK Context Key RPC_METADATA');
const INVALID_TRACE = '0'.repeat(32);
const INVALID_SPAN = '0'.repeat(16);

let loaded: OtelApi | null | undefined;

/** `@opentelemetry/api` when it is installed, else `null`; required on the first call only. */
export function loadOpenTelemetry(): OtelApi | null {
  if (loaded !== undefined) return loaded;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const api = require('@opentelemetry/api') as Partial<OtelApi>;
    loaded = typeof api.context?.active === 'function' && typeof api.trace?.getSpan === 'function' ? (api as OtelApi) : null;
  } catch {
    loaded = null;
  }
  return loaded;
}

function isValid(span: OtelSpanContext): boolean {
  const { traceId, spanId } = span;
  return typeof traceId === 'string' && traceId.length === 32 && traceId !== INVALID_TRACE && typeof spanId === 'string' && spanId.length === 16 && spanId !== INVALID_SPAN;
}

/**
 * A reader of the active span, or `undefined` when `@opentelemetry/api` is not
 * installed (the middleware then does no OpenTelemetry work at all). With no SDK
 * registered, the API's context is always empty: one lookup per request.
 */
export function activeSpanReader(): ActiveSpanReader | undefined {
  const api = loadOpenTelemetry();
  if (api === null) return undefined;
  const { context, trace } = api;
  return function readActiveSpan() {
    const active = context.active();
    const current = trace.getSpan(active);
    if (current === undefined) return undefined;
    // Prefer the HTTP server span over the span of the middleware layer that runs keel.
    const server = (active.getValue(RPC_METADATA) as { span?: OtelSpan } | undefined)?.span;
    let span = (server ?? current).spanContext();
    if (!isValid(span)) {
      if (server === undefined || server === current) return undefined;
      span = current.spanContext();
      if (!isValid(span)) return undefined;
    }
    return { traceId: span.traceId, spanId: span.spanId, sampled: (span.traceFlags & 1) === 1 };
  };
}
