import { types } from 'node:util';
import { describeValue } from '@keel/lifecycle';

/**
 * `value[key]`, or `undefined` when reading it throws: a thrown value may be a
 * revoked Proxy or carry getters that throw, and must still reach `next(err)`.
 */
function read(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** The HTTP status read from a thrown non-Error object, range-checked. */
function statusOf(value: unknown): number {
  const status = read(value, 'status');
  const candidate = typeof status === 'number' ? status : read(value, 'statusCode');
  return typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 400 && candidate <= 599 ? candidate : 500;
}

function headersOf(value: unknown): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const source = read(value, 'headers');
  try {
    if (typeof source === 'object' && source !== null && !Array.isArray(source)) {
      for (const name of Object.keys(source).slice(0, 32)) {
        const item = read(source, name);
        if (typeof item === 'string' || typeof item === 'number') headers[name] = String(item);
      }
    }
  } catch {
    // A Proxy posing as headers: none.
  }
  return Object.freeze(headers);
}

/** The keys an error handler reads from an error: an Error that throws on one of them is treated as hostile. */
const READ_BY_HANDLERS = ['name', 'message', 'stack', 'status', 'statusCode', 'expose', 'headers', 'code', 'cause', 'type'];

function readsCleanly(value: object): boolean {
  try {
    for (const key of READ_BY_HANDLERS) void (value as Record<string, unknown>)[key];
    return true;
  } catch {
    return false;
  }
}

/**
 * What a handler's throw or rejection becomes when the value is not an Error:
 * `undefined`, `null`, a string, a number or a plain object. The original value
 * is kept as `cause`. A plain object's `status` (400 to 599) and `headers` are
 * carried over, so `throw { status: 404 }` still answers 404; anything else is a 500.
 */
export class ThrownValueError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_THROWN_VALUE';
  /** HTTP status: the thrown object's own status when valid, else 500. */
  readonly status: number;
  /** Same as {@link ThrownValueError.status}, for http-errors compatibility. */
  readonly statusCode: number;
  /** True only for a 4xx whose thrown object said `expose: true`: a message is shown only when its author said so. */
  readonly expose: boolean;
  /** Headers of the thrown object (string and number values only); an error handler filters them further. */
  readonly headers: Readonly<Record<string, string>>;

  /** Never throws, whatever `value` is: a revoked Proxy, throwing getters, a throwing `constructor`. */
  constructor(value: unknown) {
    const own = read(value, 'message');
    const message = typeof own === 'string' ? own : `A handler threw or rejected with a non-Error value: ${describeValue(value)}`;
    super(message, { cause: value });
    this.name = 'ThrownValueError';
    this.status = statusOf(value);
    this.statusCode = this.status;
    this.expose = this.status < 500 && read(value, 'expose') === true;
    this.headers = headersOf(value);
  }
}

/** Returns true for a {@link ThrownValueError}, from any copy of this package, by its `code`. */
export function isThrownValueError(value: unknown): value is ThrownValueError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_THROWN_VALUE';
}

/** Which process event an {@link UncaughtError} came from. */
export type UncaughtOrigin = 'uncaughtException' | 'unhandledRejection';

/**
 * The error a request is answered with when a fault escaped its handlers (a
 * timer that threw, an un-awaited promise): always a 500 whose message is never
 * exposed, with the escaped value as `cause`.
 */
export class UncaughtError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_UNCAUGHT';
  /** HTTP status of the error. */
  readonly status = 500;
  /** Same as {@link UncaughtError.status}, for http-errors compatibility. */
  readonly statusCode = 500;
  /** The message names internals: never shown to clients. */
  readonly expose = false;
  /** No extra headers. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});

  constructor(
    /** The process event the fault reached. */
    readonly origin: UncaughtOrigin,
    cause: unknown,
  ) {
    super(origin === 'uncaughtException' ? 'An exception escaped the request handlers' : 'A promise rejection escaped the request handlers', { cause });
    this.name = 'UncaughtError';
  }
}

/** Returns true for an {@link UncaughtError}, from any copy of this package, by its `code`. */
export function isUncaughtError(value: unknown): value is UncaughtError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_UNCAUGHT';
}

/** Returns true for an Error of this realm or another (vm contexts, worker-transferred errors); never throws. */
export function isErrorLike(value: unknown): value is Error {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return types.isNativeError(value) || value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
  } catch {
    // A revoked Proxy throws on instanceof and on toString.
    return false;
  }
}

/**
 * Turns anything thrown into an Error and never throws: Errors pass through
 * unchanged, unless reading them throws (a Proxy, a throwing `status` getter),
 * since the error handlers behind `next(err)` would throw on them in turn; those,
 * and every non-Error, become a `ThrownValueError` with the value as `cause`.
 */
export function toError(value: unknown): Error {
  if (isErrorLike(value) && !types.isProxy(value) && readsCleanly(value)) return value;
  return new ThrownValueError(value);
}
