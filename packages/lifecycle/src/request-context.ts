import { markSettlesSafely } from './middleware-marks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { runInRequestContext } from './context';
import { resolveRequestContextOptions, type RequestContextOptions } from './options';

/** The middleware {@link requestContext} returns: Express 4 and 5 fit. */
export type RequestContextMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Opens the request context (or joins the one another keel middleware opened)
 * for the rest of the chain, for apps that want `getContext()` without any
 * other keel package. Mount it first.
 */
export function requestContext(options?: Partial<RequestContextOptions>): RequestContextMiddleware {
  resolveRequestContextOptions(options);
  return markSettlesSafely(function requestContextMiddleware(req, res, next) {
    runInRequestContext(req, res, next);
  });
}
