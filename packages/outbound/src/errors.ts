const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** What every call of this package reports in its errors. */
interface CallFacts {
  /** The origin called, e.g. `http://users.internal:8080`. */
  origin?: string;
  /** Attempts made before the error. */
  attempts?: number;
  /** The error this one stands for (undici's own, or the last attempt's). */
  cause?: unknown;
}

/**
 * What every error of this package carries, shaped as http-errors shapes its
 * errors, so any Express error handler answers it with the right status. The
 * status says what this service's client should hear (504: a dependency did not
 * answer in time, 503: it is known to be down), never the dependency's own status.
 */
abstract class OutboundHttpError extends Error {
  /** Stable code for matching without `instanceof`. */
  abstract readonly code: string;
  /** HTTP status of the error. */
  readonly status: number;
  /** Same as `status`, for http-errors compatibility. */
  readonly statusCode: number;
  /** The message names no host and no internals: safe to show to clients. */
  readonly expose = true;
  /** Headers to send with the error response. */
  readonly headers: Readonly<Record<string, string>>;
  /** The origin called (for logs; never in the message). */
  readonly origin: string | undefined;
  /** Attempts made before the error. */
  readonly attempts: number | undefined;

  protected constructor(name: string, message: string, status: number, headers: Readonly<Record<string, string>>, facts: CallFacts) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.name = name;
    this.status = status;
    this.statusCode = status;
    this.headers = headers;
    this.origin = facts.origin;
    this.attempts = facts.attempts;
  }
}

/** No connection to the dependency within `connectTimeout`: a 504. */
export class OutboundConnectTimeoutError extends OutboundHttpError {
  readonly code = 'ERR_KEEL_OUTBOUND_CONNECT_TIMEOUT';
  declare readonly status: 504;
  declare readonly statusCode: 504;

  constructor(message = 'A dependency could not be reached in time', facts: CallFacts = {}) {
    super('OutboundConnectTimeoutError', message, 504, NO_HEADERS, facts);
  }
}

/** Returns true for an {@link OutboundConnectTimeoutError}, from any copy of this package, by its `code`. */
export function isOutboundConnectTimeoutError(value: unknown): value is OutboundConnectTimeoutError {
  return hasCode(value, 'ERR_KEEL_OUTBOUND_CONNECT_TIMEOUT');
}

/** The dependency sent no response headers within `headersTimeout`: a 504. */
export class OutboundHeadersTimeoutError extends OutboundHttpError {
  readonly code = 'ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT';
  declare readonly status: 504;
  declare readonly statusCode: 504;

  constructor(message = 'A dependency did not answer in time', facts: CallFacts = {}) {
    super('OutboundHeadersTimeoutError', message, 504, NO_HEADERS, facts);
  }
}

/** Returns true for an {@link OutboundHeadersTimeoutError}, from any copy of this package, by its `code`. */
export function isOutboundHeadersTimeoutError(value: unknown): value is OutboundHeadersTimeoutError {
  return hasCode(value, 'ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT');
}

/** The dependency's response body stalled longer than `bodyTimeout`: a 504. */
export class OutboundBodyTimeoutError extends OutboundHttpError {
  readonly code = 'ERR_KEEL_OUTBOUND_BODY_TIMEOUT';
  declare readonly status: 504;
  declare readonly statusCode: 504;

  constructor(message = 'A dependency stopped sending its answer', facts: CallFacts = {}) {
    super('OutboundBodyTimeoutError', message, 504, NO_HEADERS, facts);
  }
}

/** Returns true for an {@link OutboundBodyTimeoutError}, from any copy of this package, by its `code`. */
export function isOutboundBodyTimeoutError(value: unknown): value is OutboundBodyTimeoutError {
  return hasCode(value, 'ERR_KEEL_OUTBOUND_BODY_TIMEOUT');
}

/**
 * The call's budget ran out: the request's remaining time (less the reserve) or
 * the call's own `timeout`, or a `Retry-After` asked for a wait the budget
 * cannot hold (then `retryAfter` says how long, and the call failed at once). A 504.
 */
export class OutboundDeadlineError extends OutboundHttpError {
  readonly code = 'ERR_KEEL_OUTBOUND_DEADLINE';
  declare readonly status: 504;
  declare readonly statusCode: 504;
  /** The call's budget in ms. */
  readonly budget: number | undefined;
  /** The wait in ms the dependency asked for with `Retry-After`, when that is why the call failed. */
  readonly retryAfter: number | undefined;

  constructor(message?: string, facts: CallFacts & { budget?: number; retryAfter?: number } = {}) {
    super(
      'OutboundDeadlineError',
      message ?? (facts.retryAfter === undefined ? 'A dependency did not answer within the time left' : 'A dependency asked for a wait longer than the time left'),
      504,
      NO_HEADERS,
      facts,
    );
    this.budget = facts.budget;
    this.retryAfter = facts.retryAfter;
  }
}

/** Returns true for an {@link OutboundDeadlineError}, from any copy of this package, by its `code`. */
export function isOutboundDeadlineError(value: unknown): value is OutboundDeadlineError {
  return hasCode(value, 'ERR_KEEL_OUTBOUND_DEADLINE');
}

/**
 * The origin's circuit is open: the call failed at once, without reaching it. A
 * 503 whose `Retry-After` (seconds) says when the circuit lets a trial call through.
 */
export class CircuitOpenError extends OutboundHttpError {
  readonly code = 'ERR_KEEL_CIRCUIT_OPEN';
  declare readonly status: 503;
  declare readonly statusCode: 503;
  /** Seconds until the circuit lets a trial call through. */
  readonly retryAfter: number;

  constructor(message = 'A dependency is unavailable', facts: CallFacts & { retryAfter?: number } = {}) {
    const retryAfter = Math.max(1, Math.ceil(facts.retryAfter ?? 1));
    super('CircuitOpenError', message, 503, Object.freeze({ 'Retry-After': String(retryAfter) }), facts);
    this.retryAfter = retryAfter;
  }
}

/** Returns true for a {@link CircuitOpenError}, from any copy of this package, by its `code`. */
export function isCircuitOpenError(value: unknown): value is CircuitOpenError {
  return hasCode(value, 'ERR_KEEL_CIRCUIT_OPEN');
}

function hasCode(value: unknown, code: string): boolean {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === code;
}
