import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextOf, enterRequestContext, markSettlesSafely, openRequestContext, runInRequestContext } from '@keel/lifecycle';
import { OTEL_SPAN, OUTBOUND, RECEIVED, type OutboundConfig, type TracedContext } from './context';
import { newSpanId, newUuid, newW3cTraceId, parseTraceparent, type Traceparent } from './ids';
import { resolveOptions, type ReplaceReason, type TraceIdOptions } from './options';
import { activeSpanReader } from './otel';
import { installPropagation, runAfterOtherSubscribers } from './propagation';
import { compileTrust } from './trust';
import { checkId } from './validate';

/** The middleware {@link traceId} returns; fits `app.use()` on Express 4 and 5. */
export type TraceIdMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What was read from the request's headers (made only when one of them was sent). */
interface Incoming {
  /** The valid `traceparent`. */
  traceparent: Traceparent | undefined;
  /** The first valid opaque ID (`X-Request-ID` and the like). */
  requestId: string | undefined;
  /** The first valid ID in header order: what an untrusted client's request is remembered by. */
  received: string | undefined;
  /** The header `received` came from. */
  receivedHeader: string | undefined;
  /** Why the first invalid header failed. */
  fault: ReplaceReason | undefined;
  /** The header `fault` came from. */
  faultHeader: string | undefined;
}

const EXPOSE = 'access-control-expose-headers';
const GENERATOR_HINT = 'A generator must return a non-empty string of ASCII letters, digits and -_.:+=/ no longer than maxLength.';

function hasToken(list: string, token: string): boolean {
  const lower = list.toLowerCase();
  if (lower === '*') return true;
  for (const item of lower.split(',')) if (item.trim() === token) return true;
  return false;
}

/**
 * Gives every request a W3C trace ID, this service's span ID, and the caller's
 * parent span, in the shared keel request context: those of the active
 * OpenTelemetry span when there is one, else read from a trusted W3C
 * `traceparent`, else freshly made. A trusted caller's `X-Request-ID` is kept
 * beside them as the request ID. Names the request in a response header, and
 * lets `fetch` and undici calls made while handling the request carry the trace
 * downstream. Mount it first: it opens the request context every keel package shares.
 */
export function traceId(options?: Partial<TraceIdOptions>): TraceIdMiddleware {
  const resolved = resolveOptions(options);
  const { headers: headerNames, maxLength, validate, responseHeader, exposeHeader, sampled, onReplace, generator } = resolved;
  const isTrusted = compileTrust(resolved.trust);
  // undefined when @opentelemetry/api is not installed: no OpenTelemetry work per request then.
  const readActiveSpan = resolved.openTelemetry ? activeSpanReader() : undefined;
  let adoptedSpanBefore = false;
  const outbound: OutboundConfig = Object.freeze({
    propagate: resolved.propagate,
    header: resolved.propagateHeader === false ? undefined : resolved.propagateHeader,
    headerLower: resolved.propagateHeader === false ? undefined : resolved.propagateHeader.toLowerCase(),
    to: resolved.propagateTo,
  });
  if (resolved.propagate) installPropagation();
  const responseHeaderLower = responseHeader === false ? '' : responseHeader.toLowerCase();

  let warnedGenerator = false;
  const generate: () => string =
    generator === 'uuid'
      ? newUuid
      : generator === 'w3c'
        ? newW3cTraceId
        : function generateCustomId() {
            const id: unknown = generator();
            if (typeof id === 'string' && checkId(id, maxLength) === undefined) return id;
            if (!warnedGenerator) {
              warnedGenerator = true;
              process.emitWarning(`the generator option returned an invalid ID; using W3C trace IDs instead`, { code: 'KEEL_TRACE_ID_GENERATOR', detail: GENERATOR_HINT });
            }
            return newW3cTraceId();
          };

  /** Reads the configured headers; `undefined` when none was sent. */
  function read(req: IncomingMessage): Incoming | undefined {
    const headers = req.headers;
    let incoming: Incoming | undefined;
    for (let i = 0; i < headerNames.length; i++) {
      const name = headerNames[i]!;
      const raw = headers[name];
      if (raw === undefined) continue;
      incoming ??= { traceparent: undefined, requestId: undefined, received: undefined, receivedHeader: undefined, fault: undefined, faultHeader: undefined };
      let fault: ReplaceReason | undefined;
      let value: string | undefined;
      if (name === 'traceparent') {
        const parsed = parseTraceparent(raw);
        if (parsed === undefined) fault = 'malformed-traceparent';
        else {
          incoming.traceparent = parsed;
          value = parsed.traceId;
        }
      } else {
        if (incoming.requestId !== undefined) continue;
        fault = typeof raw === 'string' ? acceptId(raw) : 'bad-charset';
        if (fault === undefined) value = incoming.requestId = raw as string;
      }
      if (fault !== undefined) {
        if (incoming.fault === undefined) {
          incoming.fault = fault;
          incoming.faultHeader = name;
        }
      } else if (incoming.received === undefined) {
        incoming.received = value;
        incoming.receivedHeader = name;
      }
    }
    return incoming;
  }

  function acceptId(value: string): ReplaceReason | undefined {
    const fault = checkId(value, maxLength);
    if (fault !== undefined) return fault;
    return validate === undefined || validate(value) === true ? undefined : 'rejected';
  }

  function assign(context: TracedContext, req: IncomingMessage, res: ServerResponse): void {
    const incoming = headerNames.length > 0 ? read(req) : undefined;
    const trusted = incoming === undefined || isTrusted === undefined || isTrusted(req);
    const parent = trusted ? incoming?.traceparent : undefined;
    const span = readActiveSpan === undefined ? undefined : readActiveSpan();
    let id: string;
    if (span !== undefined) {
      // OpenTelemetry already continued or started the trace: one trace ID for logs and spans.
      id = span.traceId;
      context.spanId = span.spanId;
      context.parentId = parent !== undefined && parent.traceId === id ? parent.parentId : undefined;
      context.sampled = span.sampled;
      context[OTEL_SPAN] = true;
      if (!adoptedSpanBefore) {
        adoptedSpanBefore = true;
        // So that an undici instrumentation registered after traceId() has added its traceparent when keel looks.
        if (outbound.propagate) runAfterOtherSubscribers();
      }
    } else if (parent !== undefined) {
      id = parent.traceId;
      context.spanId = newSpanId();
      context.parentId = parent.parentId;
      context.sampled = parent.sampled;
    } else {
      id = generate();
      context.spanId = newSpanId();
      context.parentId = undefined;
      context.sampled = sampled;
    }
    context.traceId = id;
    let requestId = trusted ? incoming?.requestId : undefined;
    // An upstream that sent its trace ID as X-Request-ID too: one ID, not two.
    if (requestId === id) requestId = undefined;
    context.requestId = requestId;
    context[OUTBOUND] = outbound;
    // An untrusted client's ID is kept apart, and only when it passed validation.
    const received = trusted ? undefined : incoming!.received;
    if (received !== undefined) context[RECEIVED] = received;
    if (responseHeader !== false && !res.headersSent) {
      res.setHeader(responseHeader, requestId ?? id);
      // Only cross-origin requests (they carry Origin) need it; same-origin code reads every header.
      if (exposeHeader && req.headers.origin !== undefined) {
        const current = res.getHeader(EXPOSE);
        if (current === undefined) res.setHeader(EXPOSE, responseHeader);
        else if (!hasToken(String(current), responseHeaderLower)) res.setHeader(EXPOSE, `${String(current)}, ${responseHeader}`);
      }
    }
    if (onReplace !== undefined) {
      let reason: ReplaceReason | undefined;
      let header: string | undefined;
      if (received !== undefined) {
        reason = 'untrusted';
        header = incoming!.receivedHeader;
      } else if (incoming?.fault !== undefined) {
        reason = incoming.fault;
        header = incoming.faultHeader;
      } else if (span === undefined && parent === undefined && requestId === undefined && incoming?.received === undefined) {
        reason = 'absent';
      }
      if (reason !== undefined) onReplace({ req, reason, header, received, traceId: id });
    }
  }

  const runsNoUserCode = onReplace === undefined && typeof generator !== 'function';
  return markSettlesSafely(function traceIdMiddleware(req, res, next) {
    const existing = contextOf(req) as TracedContext | undefined;
    // Mounted twice (app and router): the first one's ID stands.
    if (existing !== undefined && existing[OUTBOUND] !== undefined) {
      enterRequestContext(existing, next);
      return;
    }
    if (runsNoUserCode) {
      // No user code runs in assign(): fill the context in, then enter it, with no closure per request.
      const context = (existing ?? openRequestContext(req, res)) as TracedContext;
      assign(context, req, res);
      enterRequestContext(context, next);
      return;
    }
    runInRequestContext(req, res, () => {
      assign(contextOf(req) as TracedContext, req, res);
      next();
    });
  });
}
