import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextOf, runInRequestContext } from '@keel/lifecycle';
import { OUTBOUND, RECEIVED, type OutboundConfig, type TracedContext } from './context';
import { newSpanId, newUuid, newW3cTraceId, parseTraceparent, toW3cTraceId, type Traceparent } from './ids';
import { resolveOptions, type ReplaceReason, type TraceIdOptions } from './options';
import { installPropagation } from './propagation';
import { compileTrust } from './trust';
import { checkId } from './validate';

/** The middleware {@link traceId} returns; fits `app.use()` on Express 4 and 5. */
export type TraceIdMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What was read from the request's headers. */
interface Incoming {
  /** The ID to use, when one was valid. */
  id: string | undefined;
  /** The parsed `traceparent`, when it gave the ID. */
  traceparent: Traceparent | undefined;
  /** Why the first header present failed, or `undefined` when none was present. */
  fault: ReplaceReason | undefined;
  /** The header `fault` or `id` came from. */
  header: string | undefined;
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
 * Gives every request a validated trace ID, this service's span ID, and the
 * caller's parent span, in the shared keel request context: read from W3C
 * `traceparent` or an ID header (validated, trusted only as configured),
 * otherwise freshly made. Echoes the ID in a response header, and lets `fetch`
 * and undici calls made while handling the request carry it downstream.
 * Mount it first: it opens the request context every keel package shares.
 */
export function traceId(options?: Partial<TraceIdOptions>): TraceIdMiddleware {
  const resolved = resolveOptions(options);
  const { headers: headerNames, maxLength, validate, responseHeader, exposeHeader, sampled, onReplace, generator } = resolved;
  const isTrusted = compileTrust(resolved.trust);
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
              process.emitWarning(`the generator option returned an invalid ID; using crypto.randomUUID() instead`, { code: 'KEEL_TRACE_ID_GENERATOR', detail: GENERATOR_HINT });
            }
            return newUuid();
          };

  /** Reads the first valid ID among the configured headers. */
  function read(req: IncomingMessage): Incoming {
    const headers = req.headers;
    const incoming: Incoming = { id: undefined, traceparent: undefined, fault: undefined, header: undefined };
    for (let i = 0; i < headerNames.length; i++) {
      const name = headerNames[i]!;
      const raw = headers[name];
      if (raw === undefined) continue;
      if (name === 'traceparent') {
        const parsed = parseTraceparent(raw);
        if (parsed === undefined) {
          if (incoming.fault === undefined) {
            incoming.fault = 'malformed-traceparent';
            incoming.header = name;
          }
          continue;
        }
        incoming.traceparent = parsed;
        incoming.id = parsed.traceId;
        incoming.header = name;
        // A later ID header naming the same trace (a UUID, or any ID a keel service
        // hashed into its traceparent) is the friendlier spelling of that ID: keep it.
        for (let j = i + 1; j < headerNames.length; j++) {
          const other = headers[headerNames[j]!];
          if (typeof other === 'string' && acceptId(other) === undefined && toW3cTraceId(other) === parsed.traceId) {
            incoming.id = other;
            break;
          }
        }
        return incoming;
      }
      const fault = typeof raw === 'string' ? acceptId(raw) : 'bad-charset';
      if (fault === undefined) {
        incoming.id = raw as string;
        incoming.header = name;
        return incoming;
      }
      if (incoming.fault === undefined) {
        incoming.fault = fault;
        incoming.header = name;
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
    let trusted = true;
    let incoming: Incoming | undefined;
    if (headerNames.length > 0) {
      incoming = read(req);
      if (isTrusted !== undefined && (incoming.id !== undefined || incoming.fault !== undefined)) trusted = isTrusted(req);
    }
    const adopted = trusted && incoming !== undefined && incoming.id !== undefined;
    const id = adopted ? incoming!.id! : generate();
    const parent = adopted ? incoming!.traceparent : undefined;
    context.traceId = id;
    context.spanId = newSpanId();
    context.parentId = parent === undefined ? undefined : parent.parentId;
    context.sampled = parent === undefined ? sampled : parent.sampled;
    context[OUTBOUND] = outbound;
    // An untrusted client's ID is kept apart, and only when it passed validation.
    const received = trusted ? undefined : incoming!.id;
    if (received !== undefined) context[RECEIVED] = received;
    if (responseHeader !== false && !res.headersSent) {
      res.setHeader(responseHeader, id);
      // Only cross-origin requests (they carry Origin) need it; same-origin code reads every header.
      if (exposeHeader && req.headers.origin !== undefined) {
        const current = res.getHeader(EXPOSE);
        if (current === undefined) res.setHeader(EXPOSE, responseHeader);
        else if (!hasToken(String(current), responseHeaderLower)) res.setHeader(EXPOSE, `${String(current)}, ${responseHeader}`);
      }
    }
    if (!adopted && onReplace !== undefined) {
      const reason: ReplaceReason = trusted ? (incoming?.fault ?? 'absent') : 'untrusted';
      onReplace({ req, reason, header: incoming?.header, received, traceId: id });
    }
  }

  return function traceIdMiddleware(req, res, next) {
    const existing = contextOf(req) as TracedContext | undefined;
    // Mounted twice (app and router): the first one's ID stands.
    if (existing !== undefined && existing[OUTBOUND] !== undefined) {
      runInRequestContext(req, res, next);
      return;
    }
    runInRequestContext(req, res, () => {
      assign(contextOf(req) as TracedContext, req, res);
      next();
    });
  };
}
