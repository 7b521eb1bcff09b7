/**
 * A logger that did not finish writing in time: `endLogger()` gave up waiting
 * for it (its `timeout` passed, or its `signal` aborted). Lines still buffered
 * may be lost. Never sent to a client: it happens at shutdown.
 */
export class LogFlushTimeoutError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_LOG_FLUSH_TIMEOUT';
  /** HTTP status, for the http-errors shape every keel error has. */
  readonly status = 500;
  /** Same as {@link LogFlushTimeoutError.status}, for http-errors compatibility. */
  readonly statusCode = 500;
  /** The message is not meant for clients. */
  readonly expose = false;
  /** No headers. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});

  constructor(
    /** How long `endLogger()` waited, in ms. */
    readonly waitedMs: number,
    options?: { cause?: unknown },
  ) {
    super(`the logger did not finish writing within ${waitedMs} ms`, options);
    this.name = 'LogFlushTimeoutError';
  }
}

/** Returns true for a {@link LogFlushTimeoutError}, from any copy of this package, by its `code`. */
export function isLogFlushTimeoutError(value: unknown): value is LogFlushTimeoutError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_LOG_FLUSH_TIMEOUT';
}
