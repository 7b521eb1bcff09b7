/**
 * What the drain fails with when requests were still running at the drain
 * deadline and had to be aborted or cut: the shutdown then ends with exit code 1.
 */
export class DrainIncompleteError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_DRAIN_INCOMPLETE';
  /** HTTP status of the error. */
  readonly status = 503;
  /** Same as {@link DrainIncompleteError.status}, for http-errors compatibility. */
  readonly statusCode = 503;
  /** The message names servers and counts, not for clients. */
  readonly expose = false;
  /** Headers an error handler would send with it. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});

  constructor(
    /** The servers that did not drain in time, by name. */
    readonly servers: readonly string[],
    /** Requests aborted at the drain deadline. */
    readonly abortedRequests: number,
    /** Sockets destroyed after the abort grace. */
    readonly destroyedSockets: number,
    options?: { cause?: unknown },
  ) {
    super(
      `drain incomplete on ${servers.join(', ')}: ${abortedRequests} request(s) aborted and ${destroyedSockets} socket(s) destroyed at the drain deadline`,
      options,
    );
    this.name = 'DrainIncompleteError';
  }
}

/** Returns true for a {@link DrainIncompleteError}, from any copy of this package, by its `code`. */
export function isDrainIncompleteError(value: unknown): value is DrainIncompleteError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_DRAIN_INCOMPLETE';
}
