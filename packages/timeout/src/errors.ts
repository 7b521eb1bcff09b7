/**
 * The reason a request's signal aborts when its deadline passes, and the error
 * its response is answered with: a 503 that tells the client when to retry.
 */
export class DeadlineExceededError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_DEADLINE_EXCEEDED';
  /** HTTP status of the error. */
  readonly status = 503;
  /** Same as {@link DeadlineExceededError.status}, for http-errors compatibility. */
  readonly statusCode = 503;
  /** The message is safe to show to clients. */
  readonly expose = true;
  /** Headers to send with the error response: `Retry-After` in seconds. */
  readonly headers: Readonly<Record<string, string>>;
  /** The request's time budget in ms. */
  readonly timeout: number | undefined;

  constructor(message?: string, options: { timeout?: number; retryAfter?: number; cause?: unknown } = {}) {
    super(message ?? defaultMessage(options.timeout), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeadlineExceededError';
    this.timeout = options.timeout;
    this.headers = Object.freeze({ 'Retry-After': String(options.retryAfter ?? 1) });
  }
}

function defaultMessage(timeout: number | undefined): string {
  return timeout === undefined ? 'The request did not complete within its deadline' : `The request did not complete within its ${timeout} ms deadline`;
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
export class ClientDisconnectedError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_CLIENT_DISCONNECTED';
  /** Status for logs and metrics; never sent. */
  readonly status = 499;
  /** Same as {@link ClientDisconnectedError.status}, for http-errors compatibility. */
  readonly statusCode = 499;
  /** A client-side condition, safe to describe. */
  readonly expose = true;
  /** No headers: the response is never sent. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});

  constructor(message = 'The client closed the connection before the response was complete', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClientDisconnectedError';
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
export class DownstreamTimeoutError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_DOWNSTREAM_TIMEOUT';
  /** HTTP status of the error. */
  readonly status = 504;
  /** Same as {@link DownstreamTimeoutError.status}, for http-errors compatibility. */
  readonly statusCode = 504;
  /** The message is safe to show to clients. */
  readonly expose = true;
  /** No extra headers. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});
  /** The downstream call's time budget in ms. */
  readonly timeout: number | undefined;

  constructor(message?: string, options: { timeout?: number; cause?: unknown } = {}) {
    super(
      message ?? (options.timeout === undefined ? 'A downstream call did not complete within its deadline' : `A downstream call did not complete within its ${options.timeout} ms deadline`),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'DownstreamTimeoutError';
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
