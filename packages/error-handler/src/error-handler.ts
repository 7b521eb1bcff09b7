import { markSettlesSafely } from '@keel/lifecycle';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeLog } from './log';
import { resolveOptions, type ErrorHandlerOptions, type ResolvedErrorHandlerOptions } from './options';
import { createResponder } from './respond';

/** Express's error middleware signature, with Node's request and response types. */
export type ErrorMiddleware = (error: unknown, req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Creates the last middleware of an app: whatever was thrown, the client gets
 * a correct status and a body in the format it accepts without internals, the
 * log gets one line, and no response is written twice.
 *
 * ```ts
 * app.use(notFound());
 * app.use(errorHandler());
 * ```
 *
 * @throws InvalidOptionError when an option is unknown or invalid, or `debug` is on in production.
 */
export function errorHandler(options?: Partial<ErrorHandlerOptions>): ErrorMiddleware {
  const resolved = resolveOptions(options);
  const respond = createResponder(resolved);

  // Four parameters: Express tells error middleware apart by its arity.
  return markSettlesSafely(function errorHandlerMiddleware(error: unknown, req: IncomingMessage, res: ServerResponse, _next: (error?: unknown) => void): void {
    try {
      respond(error, req, res);
    } catch (internal) {
      lastResort(resolved, internal, req, res);
    }
  });
}

/** When answering itself failed: a bare 500 if nothing was sent, else cut the connection. */
export function lastResort(options: ResolvedErrorHandlerOptions, internal: unknown, req: IncomingMessage, res: ServerResponse): void {
  writeLog(options.logger, 'error', 'error handler failed', { error: { message: internal instanceof Error ? internal.message : 'non-error thrown', stack: internal instanceof Error ? internal.stack : undefined } });
  try {
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.end('Internal Server Error\n');
    } else if (!res.writableEnded) {
      req.socket?.destroy();
    }
  } catch {
    req.socket?.destroy();
  }
}
