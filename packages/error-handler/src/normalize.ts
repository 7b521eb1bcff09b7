import { hasHeader, safeErrorHeaders, type HeaderValue } from './headers';
import { isError, preview, read, readString, truncate, typeOf } from './inspect';
import { codeForStatus, isErrorStatus, reasonPhrase } from './status';

/** Where a normalised error's status came from. */
export type ErrorKind =
  /** A `@hapi/boom` error (`isBoom`, `output.statusCode`). */
  | 'boom'
  /** A body-parser (or raw-body) error, recognised by its `type`. */
  | 'body-parser'
  /** One of keel's own errors, recognised by its `ERR_KEEL_` code. */
  | 'keel'
  /** An error with a valid `status` or `statusCode` (http-errors, or any object). */
  | 'http'
  /** A timeout of a call to another service (`TimeoutError`, undici's timeouts): answered 504. */
  | 'downstream-timeout'
  /**
   * An HTTP client's error about another service (undici `UND_ERR_*`, axios,
   * got, node-fetch and ky style): answered 502, never with the downstream's
   * own status, headers or message.
   */
  | 'downstream'
  /** Any other Error: a bug, answered 500. */
  | 'error'
  /** A thrown value that is not an Error (string, number, null, plain object). */
  | 'non-error';

/** One link of an error's `cause` chain, as logged. */
export interface CauseInfo {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly stack?: string;
  /** The `typeof` of a cause that is not an Error. */
  readonly thrown?: string;
}

/** Any thrown value, reduced to what a response and a log line need. Every field is safe to read. */
export interface NormalizedError {
  /** The response status, always from 400 to 599. */
  readonly status: number;
  /** The reason phrase of the status: the problem's `title`. */
  readonly title: string;
  /** The stable code sent to the client: the error's own code when safe to show, else derived from the status. */
  readonly code: string;
  /** The text sent to the client: the error's message when exposed, else the title. */
  readonly detail: string;
  /** True when {@link NormalizedError.detail} is the error's own message. */
  readonly exposed: boolean;
  /** Headers the error asked for, valid and allowed ones only; empty unless the error set its own 4xx/5xx status. */
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** What kind of value was thrown. */
  readonly kind: ErrorKind;
  /** For logs: the error's name (`'NonError'` for values that are not Errors). */
  readonly name: string;
  /** For logs: the error's own message, bounded. */
  readonly message: string;
  /** For logs: the error's own `code`, whether shown to the client or not. */
  readonly errorCode?: string;
  /** For logs: the `typeof` of a thrown value that is not an Error. */
  readonly thrown?: string;
  /** For logs: the status another service answered, when a downstream error carried one. */
  readonly downstreamStatus?: number;
  /** For logs: the stack, bounded. */
  readonly stack?: string;
  /** For logs: the `cause` chain, outermost first. */
  readonly causes: readonly CauseInfo[];
}

/** Options of {@link normalizeError}. */
export interface NormalizeOptions {
  /**
   * The longest `detail` sent to a client, in characters.
   * @defaultValue `1024`
   */
  maxDetailLength?: number;
  /** The reason the request's signal aborted with, to classify an `AbortError` it caused. */
  abortReason?: unknown;
  /**
   * Response headers an error may set beyond `ALLOWED_ERROR_HEADERS`, lowercase.
   * @defaultValue `[]`
   */
  errorHeaders?: readonly string[];
}

/** Longest message kept for a log line, in characters. */
export const LOG_MESSAGE_LIMIT = 8192;
/** Longest stack kept for a log line, in characters. */
export const LOG_STACK_LIMIT = 16384;
const MAX_CAUSES = 10;

/** keel's own error codes and how each is answered when the error itself carries no valid status. */
const KEEL_CODES: Readonly<Record<string, { status: number; retryAfter?: boolean }>> = {
  ERR_KEEL_DEADLINE_EXCEEDED: { status: 503, retryAfter: true },
  ERR_KEEL_SHUTTING_DOWN: { status: 503, retryAfter: true },
  ERR_KEEL_DOWNSTREAM_TIMEOUT: { status: 504 },
  ERR_KEEL_CLIENT_DISCONNECTED: { status: 499 },
  ERR_KEEL_ROUTE_NOT_FOUND: { status: 404 },
};

/** The `type`s body-parser and raw-body give their errors. */
const BODY_PARSER_TYPES = new Set([
  'charset.unsupported',
  'encoding.unsupported',
  'entity.parse.failed',
  'entity.too.large',
  'entity.verify.failed',
  'parameters.too.many',
  'querystring.parse.rangeError',
  'request.aborted',
  'request.size.invalid',
  'stream.encoding.set',
  'stream.not.readable',
]);

const DOWNSTREAM_TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Names HTTP clients give the errors they raise about a downstream response or connection. */
const DOWNSTREAM_NAMES = new Set(['HTTPError', 'FetchError', 'ResponseError', 'ResponseStatusCodeError', 'AxiosError']);
/** Codes of those errors: got's non-2xx, axios's timeout and bad-response codes. */
const DOWNSTREAM_CODES = new Set(['ERR_NON_2XX_3XX_RESPONSE', 'ERR_BAD_RESPONSE', 'ERR_BAD_REQUEST', 'ECONNABORTED']);

const SAFE_CODE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

interface Classification {
  readonly kind: ErrorKind;
  readonly status: number;
  /** True when the status is the error's own, so its headers and `expose` count. */
  readonly own: boolean;
  readonly headersSource?: unknown;
  readonly keelCode?: string;
  readonly bodyParserType?: string;
  readonly retryAfter?: boolean;
  readonly downstreamStatus?: number;
}

/**
 * Reduces any thrown value to a {@link NormalizedError}: status range-checked
 * (anything outside 400-599 is 500), message shown only when exposed and below
 * 500, headers checked, every read guarded. Never throws.
 */
export function normalizeError(value: unknown, options: NormalizeOptions = {}): NormalizedError {
  const maxDetailLength = options.maxDetailLength ?? 1024;
  const classification = classify(value, options.abortReason);
  const { status } = classification;
  const title = reasonPhrase(status);
  const error = isError(value);
  const message = messageOf(value, error);
  const errorCode = codeOf(value);

  // Only a `message` the error carries may be shown, never a dump of a thrown object.
  const ownMessage = readString(value, 'message');
  // As http-errors and Koa: shown only when the error says so. Boom's 4xx payload message is its client-facing text.
  const exposable = read(value, 'expose') === true || classification.kind === 'boom';
  const exposed = status < 500 && classification.own && exposable && ownMessage !== undefined && ownMessage.length > 0;
  const detail = exposed ? clientText(message, maxDetailLength) || title : title;

  let code: string;
  if (classification.keelCode !== undefined) code = classification.keelCode;
  else if (exposed && errorCode !== undefined && SAFE_CODE.test(errorCode)) code = errorCode;
  else if (classification.bodyParserType !== undefined && status < 500) code = codeForType(classification.bodyParserType);
  else code = codeForStatus(status);

  const headers = classification.own ? safeErrorHeaders(classification.headersSource, options.errorHeaders) : {};
  if (classification.retryAfter && !hasHeader(headers, 'retry-after')) headers['Retry-After'] = '1';

  const stack = readString(value, 'stack');
  return {
    status,
    title,
    code,
    detail,
    exposed,
    headers,
    kind: classification.kind,
    name: error ? readString(value, 'name') || 'Error' : 'NonError',
    message: truncate(message, LOG_MESSAGE_LIMIT),
    ...(errorCode !== undefined ? { errorCode: truncate(errorCode, 128) } : {}),
    ...(error ? {} : { thrown: typeOf(value) }),
    ...(classification.downstreamStatus !== undefined ? { downstreamStatus: classification.downstreamStatus } : {}),
    ...(stack !== undefined && error ? { stack: truncate(stack, LOG_STACK_LIMIT) } : {}),
    causes: causesOf(value),
  };
}

function classify(value: unknown, abortReason: unknown): Classification {
  if (read(value, 'isBoom') === true) {
    const output = read(value, 'output');
    const status = read(output, 'statusCode');
    if (isErrorStatus(status)) return { kind: 'boom', status, own: true, headersSource: read(output, 'headers') };
  }
  const ownStatus = [read(value, 'status'), read(value, 'statusCode')].find(isErrorStatus);
  const code = codeOf(value);
  const keel = code !== undefined ? KEEL_CODES[code] : undefined;
  if (keel === undefined && !isAbortError(value)) {
    // Before the error's own status: that is the downstream's, not this service's answer.
    const downstream = downstreamOf(value) ?? (ownStatus === undefined ? downstreamOf(read(value, 'cause')) : undefined);
    if (downstream !== undefined) return downstream;
  }
  if (ownStatus !== undefined) {
    const type = readString(value, 'type');
    const bodyParserType = type !== undefined && BODY_PARSER_TYPES.has(type) ? type : undefined;
    return {
      kind: keel ? 'keel' : bodyParserType ? 'body-parser' : 'http',
      status: ownStatus,
      own: true,
      headersSource: read(value, 'headers'),
      ...(keel ? { keelCode: code, retryAfter: keel.retryAfter === true } : {}),
      ...(bodyParserType ? { bodyParserType } : {}),
    };
  }
  if (keel !== undefined) return { kind: 'keel', status: keel.status, own: false, keelCode: code, retryAfter: keel.retryAfter === true };
  if (isAbortError(value)) {
    // A library that wraps the request's abort (a deadline, shutdown) in its own AbortError.
    for (const reason of [read(value, 'cause'), abortReason]) {
      const reasonCode = codeOf(reason);
      if (reasonCode !== undefined && KEEL_CODES[reasonCode] !== undefined) {
        return classify(reason, undefined);
      }
    }
  }
  if (isDownstreamTimeout(value) || isDownstreamTimeout(read(value, 'cause'))) return { kind: 'downstream-timeout', status: 504, own: false };
  return { kind: isError(value) ? 'error' : 'non-error', status: 500, own: false };
}

/** The classification of an HTTP client's error about another service, or `undefined` for any other value. */
function downstreamOf(value: unknown): Classification | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const code = codeOf(value);
  const name = readString(value, 'name');
  const response = read(value, 'response');
  const responseStatus = [read(response, 'status'), read(response, 'statusCode')].find(isHttpStatus);
  const undici = code !== undefined && code.startsWith('UND_ERR_');
  const client =
    undici ||
    read(value, 'isAxiosError') === true ||
    (name !== undefined && DOWNSTREAM_NAMES.has(name)) ||
    (code !== undefined && DOWNSTREAM_CODES.has(code) && typeof read(value, 'config') === 'object') ||
    code === 'ERR_NON_2XX_3XX_RESPONSE' ||
    responseStatus !== undefined;
  if (!client) return undefined;
  const downstreamStatus = responseStatus ?? (undici || name === 'FetchError' ? [read(value, 'statusCode'), read(value, 'status')].find(isHttpStatus) : undefined);
  const timeout = (code !== undefined && (DOWNSTREAM_TIMEOUT_CODES.has(code) || code === 'ECONNABORTED')) || name === 'TimeoutError';
  return {
    kind: timeout ? 'downstream-timeout' : 'downstream',
    status: timeout ? 504 : 502,
    own: false,
    ...(downstreamStatus !== undefined ? { downstreamStatus } : {}),
  };
}

function isHttpStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599;
}

function isAbortError(value: unknown): boolean {
  return readString(value, 'name') === 'AbortError' || read(value, 'code') === 'ABORT_ERR';
}

function isDownstreamTimeout(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const code = read(value, 'code');
  return readString(value, 'name') === 'TimeoutError' || (typeof code === 'string' && DOWNSTREAM_TIMEOUT_CODES.has(code));
}

function codeOf(value: unknown): string | undefined {
  const code = read(value, 'code');
  if (typeof code === 'string' && code.length > 0) return code;
  if (typeof code === 'number' && Number.isFinite(code)) return String(code);
  return undefined;
}

function messageOf(value: unknown, error: boolean): string {
  if (typeof value === 'object' && value !== null) {
    const message = readString(value, 'message');
    if (message !== undefined) return message;
    return error ? '' : preview(value, LOG_MESSAGE_LIMIT);
  }
  return preview(value, LOG_MESSAGE_LIMIT);
}

/** The message as a client may see it: no control characters but newlines and tabs, bounded. */
function clientText(message: string, limit: number): string {
  const clean = message
    .slice(0, limit * 2 + 16)
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '')
    .trim();
  return clean.length > limit ? `${clean.slice(0, limit)}…` : clean;
}

/** `entity.too.large` to `ENTITY_TOO_LARGE`. */
function codeForType(type: string): string {
  return type.replace(/([a-z])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase();
}

function causesOf(value: unknown): CauseInfo[] {
  const causes: CauseInfo[] = [];
  const seen = new Set<unknown>([value]);
  let cause = read(value, 'cause');
  while (cause !== undefined && !seen.has(cause) && causes.length < MAX_CAUSES) {
    seen.add(cause);
    const error = isError(cause);
    const code = codeOf(cause);
    const stack = error ? readString(cause, 'stack') : undefined;
    causes.push({
      name: error ? readString(cause, 'name') || 'Error' : 'NonError',
      message: truncate(messageOf(cause, error), LOG_MESSAGE_LIMIT),
      ...(code !== undefined ? { code: truncate(code, 128) } : {}),
      ...(stack !== undefined ? { stack: truncate(stack, LOG_STACK_LIMIT) } : {}),
      ...(error ? {} : { thrown: typeOf(cause) }),
    });
    cause = read(cause, 'cause');
  }
  return causes;
}
