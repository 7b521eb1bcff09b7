import { markSettlesSafely } from '@keel/lifecycle';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lastResort } from './error-handler';
import { RouteNotFoundError } from './errors';
import { resolveOptions, type ErrorHandlerOptions } from './options';
import { createResponder } from './respond';

/** Options of {@link notFound}: the same as the error handler's, so one object can configure both. */
export type NotFoundOptions = ErrorHandlerOptions;

/** Express's middleware signature, with Node's request and response types. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

const MAX_PATH_IN_MESSAGE = 256;

/**
 * Creates the middleware mounted after every route: it answers requests no
 * route matched with a 404 in the same formats, headers and log line as
 * {@link errorHandler}. A response already under way is left alone.
 *
 * @throws InvalidOptionError when an option is unknown or invalid.
 */
export function notFound(options?: Partial<NotFoundOptions>): Middleware {
  const resolved = resolveOptions(options);
  const respond = createResponder(resolved);

  return markSettlesSafely(function notFoundMiddleware(req: IncomingMessage, res: ServerResponse, _next: (error?: unknown) => void): void {
    // As Express's own handler does: a route that sent headers and then called next() is not a 404.
    if (res.headersSent) return;
    try {
      const url = (req as IncomingMessage & { originalUrl?: unknown }).originalUrl;
      const path = (typeof url === 'string' ? url : (req.url ?? '/')).split('?', 1)[0]!;
      const shown = path.length > MAX_PATH_IN_MESSAGE ? `${path.slice(0, MAX_PATH_IN_MESSAGE)}…` : path;
      respond(new RouteNotFoundError(`Cannot ${req.method ?? 'GET'} ${shown}`), req, res);
    } catch (internal) {
      lastResort(resolved, internal, req, res);
    }
  });
}
