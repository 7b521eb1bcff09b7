import type { IncomingMessage } from 'node:http';
import { currentContext } from './context';
import { FORMAT_DEFAULTS, resolveFieldOptions, writeTraceFields, type TraceFormatOptions } from './fields';

// pino is not imported: a mixin is a plain function pino calls in each log call.

/** A pino `mixin`: returns the trace fields of the request the log call runs in. */
export type TraceMixin = (mergeObject?: object) => Record<string, unknown>;

/**
 * A pino `mixin` (`pino({ mixin: traceMixin() })`) that puts `traceId`,
 * `spanId`, and `requestId` or `receivedId` when there is one, on every line
 * logged inside a request, the same fields as the winston `traceFormat()`.
 * pino calls it during the log call, so the line gets the request it was
 * logged in even when the destination writes later. Fields the line already
 * has win (pino's default merge). Outside a request it adds nothing.
 */
export function traceMixin(options?: Partial<TraceFormatOptions>): TraceMixin {
  const keys = resolveFieldOptions(options);
  return function keelTraceMixin() {
    const fields: Record<string, unknown> = {};
    const context = currentContext();
    if (context !== undefined && context.traceId !== undefined) writeTraceFields(fields, context, keys);
    // A new object each time: pino's default merge writes the line's own fields into it.
    return fields;
  };
}

/**
 * The trace fields of `req` (or of the running request) as a new object, for
 * pino-http's `customProps: (req) => traceFields(req)` or any logger's
 * per-line metadata. Empty outside a traced request.
 */
export function traceFields(req?: IncomingMessage): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  const context = currentContext(req);
  if (context !== undefined && context.traceId !== undefined) writeTraceFields(fields, context, FORMAT_DEFAULTS);
  return fields;
}
