/**
 * What the drain fails with when requests were still running at the drain
 * deadline and had to be aborted or cut, or when connections had to be closed
 * while a request head was still arriving: the shutdown then ends with exit code 1.
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
  /** Connections closed while a request head was still arriving. */
  readonly slowClients: number;

  constructor(
    /** The servers that did not drain in time, by name. */
    readonly servers: readonly string[],
    /** Requests aborted at the drain deadline. */
    readonly abortedRequests: number,
    /** Sockets destroyed after the abort grace. */
    readonly destroyedSockets: number,
    options?: { cause?: unknown; slowClients?: number },
  ) {
    const slowClients = options?.slowClients ?? 0;
    super(
      `drain incomplete on ${servers.join(', ')}: ${abortedRequests} request(s) aborted and ${destroyedSockets} socket(s) destroyed at the drain deadline` +
        (slowClients > 0 ? `; ${slowClients} connection(s) closed while a request was still arriving` : ''),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'DrainIncompleteError';
    this.slowClients = slowClients;
  }
}

/** Returns true for a {@link DrainIncompleteError}, from any copy of this package, by its `code`. */
export function isDrainIncompleteError(value: unknown): value is DrainIncompleteError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_DRAIN_INCOMPLETE';
}
