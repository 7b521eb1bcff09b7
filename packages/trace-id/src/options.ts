import { validateHeaderName } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { check, resolveOptions as resolve, type OptionCheck } from '@keel/lifecycle';

/** The package name that option errors carry. */
export const PACKAGE_NAME = '@keel/trace-id';

/**
 * Why an incoming ID was not used:
 * - `absent`: none of the configured headers was sent (and no OpenTelemetry span was active);
 * - `empty`, `too-long`, `bad-charset`: a header value failed validation
 *   (two headers of the same name arrive joined as `a, b` and fail the charset);
 * - `malformed-traceparent`: `traceparent` was not valid W3C Trace Context;
 * - `rejected`: the `validate` option returned false;
 * - `untrusted`: the client is not one whose IDs are believed (see `trust`).
 */
export type ReplaceReason = 'absent' | 'empty' | 'too-long' | 'bad-charset' | 'malformed-traceparent' | 'rejected' | 'untrusted';

/** What `onReplace` is told when an incoming ID is not used. */
export interface ReplacedIdEvent {
  /** The request. */
  readonly req: IncomingMessage;
  /** Why the incoming ID was not used. */
  readonly reason: ReplaceReason;
  /** The header whose value was rejected or not trusted; `undefined` when none was sent. */
  readonly header: string | undefined;
  /**
   * The client's ID when it was valid but not trusted. An invalid value is never
   * passed on: it could be 8 KB long or hold control characters.
   */
  readonly received: string | undefined;
  /** The trace ID the request carries. */
  readonly traceId: string;
}

/** Which clients' incoming IDs are believed. */
export type TrustOption = boolean | readonly string[] | ((req: IncomingMessage) => boolean);

/** Options of {@link traceId}. */
export interface TraceIdOptions {
  /**
   * Request headers incoming IDs are read from. `'traceparent'` is parsed as W3C
   * Trace Context and gives the trace ID; any other header holds an opaque
   * request ID (the first valid one in this order wins), checked against
   * `maxLength` and the ID charset, and kept as `requestId` beside the trace ID.
   * Names are case-insensitive. `[]` ignores incoming IDs.
   * @defaultValue `['traceparent', 'x-request-id']`
   */
  headers: readonly string[];
  /**
   * Whose incoming IDs are believed: `true` (everyone), `false` (no one), a list
   * of proxy addresses (IPs, CIDR ranges such as `'10.0.0.0/8'`, or Express's
   * `trust proxy` names `'loopback'`, `'linklocal'`, `'uniquelocal'`) matched
   * against the socket's peer address, or a function of the request. The
   * default believes loopback and private peers only (a proxy or a service in
   * the same network), so a service facing the internet starts its own traces.
   * An untrusted client's valid ID is kept apart (`getReceivedId()`), never
   * used as the trace ID or the request ID, and its sampled flag is ignored.
   * @defaultValue `['loopback', 'linklocal', 'uniquelocal']`
   */
  trust: TrustOption;
  /**
   * The longest incoming opaque ID accepted, in characters.
   * @defaultValue `128`
   */
  maxLength: number;
  /**
   * An extra check on an incoming opaque ID, run after the built-in length and
   * charset checks (for example, to accept UUIDs only).
   * @defaultValue `undefined`
   */
  validate: ((id: string) => boolean) | undefined;
  /**
   * How a fresh trace ID is made: `'w3c'` (32 lowercase hex characters: the very
   * trace ID `traceparent` carries, so logs and traces share it), `'uuid'`
   * (`crypto.randomUUID()`; `traceparent` then carries it without dashes, so
   * a tracing UI shows another spelling than the logs), or a function returning
   * a string that passes the same checks as an incoming ID.
   * @defaultValue `'w3c'`
   */
  generator: 'uuid' | 'w3c' | (() => string);
  /**
   * The response header that names the request: the request ID a trusted
   * caller sent, else the trace ID. `false` to not send it.
   * @defaultValue `'x-request-id'`
   */
  responseHeader: string | false;
  /**
   * Whether the response header is added to `Access-Control-Expose-Headers` on
   * cross-origin requests (those with an `Origin` header), so browser code can read it.
   * @defaultValue `true`
   */
  exposeHeader: boolean;
  /**
   * Whether `fetch` and undici requests made inside a request carry `traceparent`
   * and the ID header automatically (through undici's diagnostics channel).
   * @defaultValue `true`
   */
  propagate: boolean;
  /**
   * The header that travels on outbound requests beside `traceparent`, with the
   * request ID (else the trace ID); `false` sends `traceparent` alone.
   * @defaultValue `'x-request-id'`
   */
  propagateHeader: string | false;
  /**
   * Decides, by the origin (`'https://api.example.com'`), which outbound requests
   * get trace headers; `undefined` sends them everywhere.
   * @defaultValue `undefined`
   */
  propagateTo: ((origin: string) => boolean) | undefined;
  /**
   * The sampled flag of traces this service starts. A trusted `traceparent`'s
   * flag is kept, and an active OpenTelemetry span's flag is its own. `true`
   * leaves the decision to a downstream `ParentBased` sampler's
   * `remoteParentSampled` sampler (always on by default); `false` asks every
   * downstream tracer to drop the trace.
   * @defaultValue `true`
   */
  sampled: boolean;
  /**
   * Whether the trace and span IDs of an active OpenTelemetry span (the server
   * span of `@opentelemetry/instrumentation-http`, or any span the request runs
   * in) are adopted instead of minting keel's own. Only when
   * `@opentelemetry/api` is installed; it is never loaded otherwise.
   * @defaultValue `true`
   */
  openTelemetry: boolean;
  /**
   * Called, before the route runs, when an incoming ID was invalid or untrusted,
   * or when the request came with no ID at all (and no OpenTelemetry span).
   * @defaultValue `undefined`
   */
  onReplace: ((event: ReplacedIdEvent) => void) | undefined;
}

/** The one source of {@link TraceIdOptions} defaults. */
export const DEFAULTS: Readonly<TraceIdOptions> = Object.freeze({
  headers: Object.freeze(['traceparent', 'x-request-id']),
  trust: Object.freeze(['loopback', 'linklocal', 'uniquelocal']),
  maxLength: 128,
  validate: undefined,
  generator: 'w3c' as const,
  responseHeader: 'x-request-id',
  exposeHeader: true,
  propagate: true,
  propagateHeader: 'x-request-id',
  propagateTo: undefined,
  sampled: true,
  openTelemetry: true,
  onReplace: undefined,
});

/** The longest `maxLength` allowed. */
export const MAX_ID_LENGTH = 1024;

// Headers whose value is not an opaque ID: echoing or sending the ID in them would break them.
const RESERVED_OUTPUT_HEADERS = new Set(['traceparent', 'tracestate', 'content-length', 'content-type', 'connection', 'transfer-encoding', 'host', 'set-cookie']);

const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function headerName(value: unknown, fail: (expected: string) => never): string {
  const expected = 'a header name (an HTTP token)';
  if (typeof value !== 'string' || value.length === 0) return fail(expected);
  try {
    validateHeaderName(value);
  } catch {
    return fail(expected);
  }
  return value;
}

const incomingHeader: OptionCheck<string> = (value, fail) => headerName(value, fail).toLowerCase();

const outputHeader: OptionCheck<string | false> = (value, fail) => {
  if (value === false) return false;
  const expected = 'false or a header name other than traceparent, tracestate and framing headers';
  const name = headerName(value, () => fail(expected));
  return RESERVED_OUTPUT_HEADERS.has(name.toLowerCase()) ? fail(expected) : name;
};

/** True for an IP address, a CIDR range of one, or a named range (`'loopback'`). */
export function isTrustEntry(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (NAMED_RANGES.has(value)) return true;
  const slash = value.indexOf('/');
  if (slash === -1) return isIP(value) !== 0;
  const family = isIP(value.slice(0, slash));
  const bits = value.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const trustCheck: OptionCheck<TrustOption> = (value, fail) => {
  if (typeof value === 'boolean' || typeof value === 'function') return value as TrustOption;
  if (Array.isArray(value) && value.every(isTrustEntry)) return Object.freeze([...value]);
  return fail("a boolean, a function of the request, or an array of IP addresses, CIDR ranges, 'loopback', 'linklocal' or 'uniquelocal'");
};

const generatorCheck: OptionCheck<TraceIdOptions['generator']> = (value, fail) =>
  value === 'uuid' || value === 'w3c' || typeof value === 'function' ? (value as TraceIdOptions['generator']) : fail("'uuid', 'w3c' or a function returning a string");

/** Checks `input` against {@link TraceIdOptions} and fills in defaults; throws on any bad option. */
export function resolveOptions(input: unknown): Readonly<TraceIdOptions> {
  return resolve<TraceIdOptions>(PACKAGE_NAME, input, DEFAULTS, {
    headers: check.arrayOf(incomingHeader, 'an array of header names'),
    trust: trustCheck,
    maxLength: check.number(1, MAX_ID_LENGTH, true),
    validate: check.function<(id: string) => boolean>(),
    generator: generatorCheck,
    responseHeader: outputHeader,
    exposeHeader: check.boolean(),
    propagate: check.boolean(),
    propagateHeader: outputHeader,
    propagateTo: check.function<(origin: string) => boolean>(),
    sampled: check.boolean(),
    openTelemetry: check.boolean(),
    onReplace: check.function<(event: ReplacedIdEvent) => void>(),
  });
}
