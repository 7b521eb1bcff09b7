import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext } from '@keel/lifecycle';
import { state } from './state';

/**
 * How the owning request was dealt with: `'error-handler'` (handed to the app's
 * error handlers), `'direct'` (a minimal 500 written here), `'destroyed'`
 * (headers were out and no error handler was reachable, so the connection was
 * closed rather than left hanging), `'closed'` (the response had already ended).
 */
export type AnswerOutcome = 'error-handler' | 'direct' | 'destroyed' | 'closed';

type ExpressRequest = IncomingMessage & { next?: unknown };

/** Returns true while the request's response can still be written to or ended. */
export function isOpen(context: RequestContext): boolean {
  const { res } = context;
  return !context.ended && !res.writableEnded && !res.destroyed;
}

/**
 * Answers the request of `context` with `error` (a 500). While Express routes
 * the request, `req.next` is the innermost router's `next`: calling it hands
 * the error to the app's error middleware, from the layer the request is in.
 * Handlers that started before are cut off: whatever they do next is ignored.
 */
export function answerRequest(context: RequestContext, error: Error): AnswerOutcome {
  const req = context.req as ExpressRequest;
  const { res } = context;
  if (!isOpen(context)) return 'closed';
  state.answeredRequests.set(req, {});
  if (typeof req.next === 'function') {
    state.delivering = error;
    try {
      (req.next as (err: unknown) => void)(error);
      return 'error-handler';
    } catch {
      // The router itself failed: fall through to a direct answer.
    } finally {
      state.delivering = undefined;
    }
  }
  return writeProblem(res, context.traceId);
}

/** Writes a minimal `application/problem+json` 500, or destroys the response when headers are out. */
export function writeProblem(res: ServerResponse, traceId: string | undefined): AnswerOutcome {
  if (res.headersSent) {
    res.destroy();
    return 'destroyed';
  }
  const body = JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500, ...(traceId !== undefined ? { traceId } : {}) });
  // Headers the failed handler set (encoding, length, cache validators) would misdescribe this body.
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = 500;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
  return 'direct';
}
