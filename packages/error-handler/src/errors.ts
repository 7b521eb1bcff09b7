/**
 * The error {@link notFound} answers with: no route matched the request.
 * In http-errors shape, so any error handler can render it.
 */
export class RouteNotFoundError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_ROUTE_NOT_FOUND';
  /** HTTP status of the error. */
  readonly status = 404;
  /** Same as {@link RouteNotFoundError.status}, for http-errors compatibility. */
  readonly statusCode = 404;
  /** The message (method and path) is safe to show to clients. */
  readonly expose = true;
  /** Headers to send with the error response: none. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});

  constructor(message = 'Not Found') {
    super(message);
    this.name = 'RouteNotFoundError';
  }
}

/** Returns true for a {@link RouteNotFoundError}, from any copy of this package, by its `code`. */
export function isRouteNotFoundError(value: unknown): value is RouteNotFoundError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_ROUTE_NOT_FOUND';
}
