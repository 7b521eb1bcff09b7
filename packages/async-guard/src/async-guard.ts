import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestContext, markSettlesSafely } from '@keel/lifecycle';
import { resolveAsyncGuardOptions, type AsyncGuardOptions } from './options';

/** The middleware {@link asyncGuard} returns. */
export type AsyncGuardMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Opens the request context keel shares (or joins the one another keel
 * middleware opened), so the process guards can tell which request a timer's
 * throw or an un-awaited rejection belongs to. Mount it first. It is the same
 * as `requestContext()` from `@keel/lifecycle`, and not needed when
 * `traceId()` or `timeout()` is mounted first, since they open the same context.
 *
 * @example
 * app.use(asyncGuard());
 */
export function asyncGuard(options?: Partial<AsyncGuardOptions>): AsyncGuardMiddleware {
  resolveAsyncGuardOptions(options);
  const openContext = requestContext();
  return markSettlesSafely(function asyncGuardMiddleware(req, res, next) {
    openContext(req, res, next);
  });
}
