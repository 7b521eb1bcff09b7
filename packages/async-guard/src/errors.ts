import { describeValue } from '@keel/lifecycle';

/** The HTTP status, headers and exposure read from a thrown non-Error object, range-checked. */
function statusOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 500;
  const { status, statusCode } = value as { status?: unknown; statusCode?: unknown };
  const candidate = typeof status === 'number' ? status : statusCode;
  return typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 400 && candidate <= 599 ? candidate : 500;
}

function headersOf(value: unknown): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const source = typeof value === 'object' && value !== null ? (value as { headers?: unknown }).headers : undefined;
  if (typeof source === 'object' && source !== null && !Array.isArray(source)) {
    for (const [name, item] of Object.entries(source)) {
      if (typeof item === 'string' || typeof item === 'number') headers[name] = String(item);
    }
  }
  return Object.freeze(headers);
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
  /** True for 4xx only: a 5xx message is never shown to clients. */
  readonly expose: boolean;
  /** Headers of the thrown object (string and number values only). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(value: unknown) {
    const message = typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string'
      ? (value as { message: string }).message
      : `A handler threw or rejected with a non-Error value: ${describeValue(value)}`;
    super(message, { cause: value });
    this.name = 'ThrownValueError';
    this.status = statusOf(value);
    this.statusCode = this.status;
    this.expose = this.status < 500;
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

/** Returns true for an Error of this realm or another (vm contexts, worker-transferred errors). */
export function isErrorLike(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

/** Turns anything thrown into an Error; Errors pass through unchanged. */
export function toError(value: unknown): Error {
  return isErrorLike(value) ? value : new ThrownValueError(value);
}
