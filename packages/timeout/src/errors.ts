const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * What every error of this package carries, shaped as http-errors shapes its
 * errors, so any Express error handler answers it with the right status.
 */
abstract class TimeoutHttpError extends Error {
  /** Stable code for matching without `instanceof`. */
  abstract readonly code: string;
  /** HTTP status of the error. */
  readonly status: number;
  /** Same as `status`, for http-errors compatibility. */
  readonly statusCode: number;
  /** The message describes a timing condition and is safe to show to clients. */
  readonly expose = true;
  /** Headers to send with the error response. */
  readonly headers: Readonly<Record<string, string>>;

  protected constructor(name: string, message: string, status: number, headers: Readonly<Record<string, string>>, cause: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = name;
    this.status = status;
    this.statusCode = status;
    this.headers = headers;
  }
}

/**
 * The reason a request's signal aborts when its deadline passes, and the error
 * its response is answered with: a 503 that tells the client when to retry
 * (`headers` holds `Retry-After` in seconds).
 */
export class DeadlineExceededError extends TimeoutHttpError {
  readonly code = 'ERR_KEEL_DEADLINE_EXCEEDED';
  declare readonly status: 503;
  declare readonly statusCode: 503;
  /** The request's time budget in ms. */
  readonly timeout: number | undefined;

  constructor(message?: string, options: { timeout?: number; retryAfter?: number; cause?: unknown } = {}) {
    const headers = Object.freeze({ 'Retry-After': String(options.retryAfter ?? 1) });
    super('DeadlineExceededError', message ?? deadlineMessage('The request', options.timeout), 503, headers, options.cause);
    this.timeout = options.timeout;
  }
}

function deadlineMessage(subject: string, timeout: number | undefined): string {
  return timeout === undefined ? `${subject} did not complete within its deadline` : `${subject} did not complete within its ${timeout} ms deadline`;
}

/** Returns true for a {@link DeadlineExceededError}, from any copy of this package, by its `code`. */
export function isDeadlineExceededError(value: unknown): value is DeadlineExceededError {
  return hasCode(value, 'ERR_KEEL_DEADLINE_EXCEEDED');
}

/**
 * The reason a request's signal aborts when its client goes away before the
 * response has ended. Status 499 (nginx's "client closed request") is for logs
 * and metrics only: there is nobody left to send it to.
 */
export class ClientDisconnectedError extends TimeoutHttpError {
  readonly code = 'ERR_KEEL_CLIENT_DISCONNECTED';
  declare readonly status: 499;
  declare readonly statusCode: 499;

  constructor(message = 'The client closed the connection before the response was complete', options?: { cause?: unknown }) {
    super('ClientDisconnectedError', message, 499, NO_HEADERS, options?.cause);
  }
}

/** Returns true for a {@link ClientDisconnectedError}, from any copy of this package, by its `code`. */
export function isClientDisconnectedError(value: unknown): value is ClientDisconnectedError {
  return hasCode(value, 'ERR_KEEL_CLIENT_DISCONNECTED');
}

/**
 * The error a downstream call fails with when the shorter deadline given to it
 * with `withDeadline()` passes: a 504, because this service answered in time
 * and the service it depends on did not.
 */
export class DownstreamTimeoutError extends TimeoutHttpError {
  readonly code = 'ERR_KEEL_DOWNSTREAM_TIMEOUT';
  declare readonly status: 504;
  declare readonly statusCode: 504;
  /** The downstream call's time budget in ms. */
  readonly timeout: number | undefined;

  constructor(message?: string, options: { timeout?: number; cause?: unknown } = {}) {
    super('DownstreamTimeoutError', message ?? deadlineMessage('A downstream call', options.timeout), 504, NO_HEADERS, options.cause);
    this.timeout = options.timeout;
  }
}

/** Returns true for a {@link DownstreamTimeoutError}, from any copy of this package, by its `code`. */
export function isDownstreamTimeoutError(value: unknown): value is DownstreamTimeoutError {
  return hasCode(value, 'ERR_KEEL_DOWNSTREAM_TIMEOUT');
}

function hasCode(value: unknown, code: string): boolean {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === code;
}
