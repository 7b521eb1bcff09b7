import { check, resolveOptions } from '@keel/lifecycle';
import { RECEIVED, type TracedContext } from './context';
import { PACKAGE_NAME } from './options';

/** Options of {@link traceFormat} (winston) and {@link traceMixin} (pino): the names of the fields written on log lines. */
export interface TraceFormatOptions {
  /**
   * The field the trace ID is written to.
   * @defaultValue `'traceId'`
   */
  traceIdKey: string;
  /**
   * The field this service's span ID is written to; `false` leaves it out.
   * @defaultValue `'spanId'`
   */
  spanIdKey: string | false;
  /**
   * The field a trusted caller's request ID (`X-Request-ID`) is written to; `false` leaves it out.
   * @defaultValue `'requestId'`
   */
  requestIdKey: string | false;
  /**
   * The field the (validated) ID of an untrusted client is written to; `false` leaves it out.
   * @defaultValue `'receivedId'`
   */
  receivedIdKey: string | false;
}

/** The one source of {@link TraceFormatOptions} defaults. */
export const FORMAT_DEFAULTS: Readonly<TraceFormatOptions> = Object.freeze({
  traceIdKey: 'traceId',
  spanIdKey: 'spanId',
  requestIdKey: 'requestId',
  receivedIdKey: 'receivedId',
});

const fieldName = check.string(undefined, 'a non-empty field name');
const optionalField = check.either(check.oneOf(false as const), fieldName, 'false or a non-empty field name');

/** Checks the field names and fills in defaults; throws on any bad option. */
export function resolveFieldOptions(options: unknown): Readonly<TraceFormatOptions> {
  return resolveOptions<TraceFormatOptions>(PACKAGE_NAME, options, FORMAT_DEFAULTS, {
    traceIdKey: fieldName,
    spanIdKey: optionalField,
    requestIdKey: optionalField,
    receivedIdKey: optionalField,
  });
}

/** Writes the trace fields of `context` on `entry`, leaving fields it already has alone. */
export function writeTraceFields(entry: Record<string | symbol, unknown>, context: TracedContext, keys: Readonly<TraceFormatOptions>): void {
  const { traceIdKey, spanIdKey, requestIdKey, receivedIdKey } = keys;
  if (entry[traceIdKey] === undefined) entry[traceIdKey] = context.traceId;
  if (spanIdKey !== false && entry[spanIdKey] === undefined) entry[spanIdKey] = context.spanId;
  if (requestIdKey !== false && context.requestId !== undefined && entry[requestIdKey] === undefined) entry[requestIdKey] = context.requestId;
  if (receivedIdKey !== false && context[RECEIVED] !== undefined && entry[receivedIdKey] === undefined) entry[receivedIdKey] = context[RECEIVED];
}
