/**
 * The reason a request's signal aborts when the service shuts down, and the
 * error a request still running at the drain deadline fails with: a 503 that
 * tells the client to retry elsewhere.
 */
export class ShuttingDownError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_SHUTTING_DOWN';
  /** HTTP status of the error. */
  readonly status = 503;
  /** Same as {@link ShuttingDownError.status}, for http-errors compatibility. */
  readonly statusCode = 503;
  /** The message is safe to show to clients. */
  readonly expose = true;
  /** Headers to send with the error response. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({ 'Retry-After': '1' });

  constructor(message = 'The service is shutting down', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShuttingDownError';
  }
}

/** Returns true for a {@link ShuttingDownError}, from any copy of this package, by its `code`. */
export function isShuttingDownError(value: unknown): value is ShuttingDownError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_SHUTTING_DOWN';
}
