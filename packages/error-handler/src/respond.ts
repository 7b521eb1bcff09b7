import type { IncomingMessage, ServerResponse } from 'node:http';
import { bind, contextOf, getContext, peekDefaultLifecycle, type RequestContext } from '@keel/lifecycle';
import { publishAnswer } from './channels';
import { levelOf, logFields, redactHeaders, writeLog } from './log';
import { MEDIA_TYPES, negotiate, type ErrorFormat } from './negotiate';
import { normalizeError, type NormalizedError } from './normalize';
import type { ErrorReport, ResolvedErrorHandlerOptions, ResponseOutcome } from './options';
import { RENDERERS, type ErrorView } from './render';

/** Answers one failed request: one log line, at most one response, then the report hook. */
export type Responder = (value: unknown, req: IncomingMessage, res: ServerResponse) => void;

const MAX_PATH_LENGTH = 2048;
const CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";
/** Headers a failed handler may have set that describe a body the error response replaces. */
const STALE_HEADERS = ['Content-Encoding', 'Content-Language', 'Content-Range', 'Content-Disposition', 'ETag', 'Last-Modified'];

/** Builds the responder both factories share, so a 404 and a 500 look and log alike. */
export function createResponder(options: ResolvedErrorHandlerOptions): Responder {
  const { logger } = options;

  return function respond(value, req, res) {
    const context = contextOfRequest(req);
    const error = normalizeError(value, {
      maxDetailLength: options.maxDetailLength,
      errorHeaders: options.errorHeaders,
      ...(context?.aborted ? { abortReason: context.signal.reason } : {}),
    });
    const traceId = typeof context?.traceId === 'string' ? context.traceId : undefined;
    const method = typeof req.method === 'string' ? req.method : 'UNKNOWN';
    const path = pathOf(req);

    let outcome: ResponseOutcome;
    if (res.headersSent) outcome = res.writableEnded ? 'ended' : 'destroyed';
    else if (res.destroyed || req.socket?.destroyed === true) outcome = 'client-gone';
    else outcome = 'sent';

    writeLog(
      logger,
      levelOf(error, options.clientErrorLevel),
      `${method} ${path} ${error.status}`,
      logFields({
        method,
        path,
        status: error.status,
        code: error.code,
        ...(traceId !== undefined ? { traceId } : {}),
        ...(context !== undefined ? { durationMs: Date.now() - context.startedAt } : {}),
        outcome,
        headers: redactHeaders(req.headers ?? {}, options.redactHeaders),
        error,
      }),
    );

    const finish = (final: ResponseOutcome): void => {
      guardLateWrites(res, () => {
        writeLog(logger, 'warn', 'write after the error response ignored', { method, path, status: error.status, ...(traceId !== undefined ? { traceId } : {}) });
      });
      publishAnswer(req, error.status, error.code, final);
      report(options, value, { req, status: error.status, code: error.code, ...(traceId !== undefined ? { traceId } : {}), outcome: final, error });
    };

    if (outcome === 'destroyed') {
      // As Express's own handler does: a response that cannot be completed is cut, never completed twice.
      req.socket?.destroy();
      finish(outcome);
      return;
    }
    if (outcome !== 'sent') {
      finish(outcome);
      return;
    }

    const format = negotiate(req.headers?.accept, options.formats);
    const view: ErrorView = {
      type: options.typeBaseUrl === undefined ? 'about:blank' : `${options.typeBaseUrl}${encodeURIComponent(error.code.toLowerCase().replace(/_/g, '-'))}`,
      title: error.title,
      status: error.status,
      detail: error.detail,
      instance: path,
      code: error.code,
      ...(traceId !== undefined ? { traceId } : {}),
      ...(options.debug ? { debug: { name: error.name, message: error.message, ...(error.stack !== undefined ? { stack: error.stack } : {}), causes: error.causes } } : {}),
    };

    afterRequestRead(
      req,
      bind(() => {
        // Headers may have gone out while the request body was read: never write a second response.
        if (res.headersSent) {
          if (!res.writableEnded) req.socket?.destroy();
          writeLog(logger, 'warn', 'error response not sent: headers were sent while the request body was read', { method, path, status: error.status, ...(traceId !== undefined ? { traceId } : {}) });
          finish(res.writableEnded ? 'ended' : 'destroyed');
          return;
        }
        if (res.destroyed || req.socket?.destroyed === true) {
          finish('client-gone');
          return;
        }
        write(req, res, error, view, format, { traceId, traceHeader: options.traceHeader, closing: isShuttingDown(options) });
        finish('sent');
      }),
    );
  };
}

function contextOfRequest(req: IncomingMessage): RequestContext | undefined {
  const attached = contextOf(req);
  if (attached !== undefined) return attached;
  // The async context alone could be another request's, when a callback ran in a foreign context.
  const current = getContext();
  return current?.req === req ? current : undefined;
}

function pathOf(req: IncomingMessage): string {
  const url = (req as IncomingMessage & { originalUrl?: unknown }).originalUrl;
  const raw = typeof url === 'string' ? url : typeof req.url === 'string' ? req.url : '/';
  const path = raw.split('?', 1)[0]!;
  return path.length > MAX_PATH_LENGTH ? `${path.slice(0, MAX_PATH_LENGTH)}…` : path;
}

function isShuttingDown(options: ResolvedErrorHandlerOptions): boolean {
  try {
    return (options.lifecycle ?? peekDefaultLifecycle())?.isShuttingDown === true;
  } catch {
    return false;
  }
}

/**
 * Runs `then` once the request body has been read, as Express's own handler
 * does: a response written while the client is still sending, followed by a
 * close, can reach the client as a reset instead of the answer.
 */
function afterRequestRead(req: IncomingMessage, then: () => void): void {
  if (req.complete || req.readableEnded || req.destroyed) {
    then();
    return;
  }
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    req.off('end', once);
    req.off('close', once);
    req.off('error', once);
    then();
  };
  req.unpipe();
  req.on('end', once);
  req.on('close', once);
  req.on('error', once);
  req.resume();
}

function write(
  req: IncomingMessage,
  res: ServerResponse,
  error: NormalizedError,
  view: ErrorView,
  format: ErrorFormat,
  extra: { traceId: string | undefined; traceHeader: string | false; closing: boolean },
): void {
  const body = RENDERERS[format](view);
  res.statusCode = error.status;
  if (req.httpVersionMajor < 2) res.statusMessage = error.title;
  for (const name of STALE_HEADERS) res.removeHeader(name);
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  if (!Object.keys(error.headers).some((name) => name.toLowerCase() === 'cache-control')) res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Vary', withAccept(res.getHeader('Vary')));
  res.setHeader('Content-Type', `${MEDIA_TYPES[format]}; charset=utf-8`);
  res.setHeader('Content-Length', Buffer.byteLength(body, 'utf8'));
  if (extra.traceHeader !== false && extra.traceId !== undefined && !res.hasHeader(extra.traceHeader)) {
    try {
      res.setHeader(extra.traceHeader, extra.traceId);
    } catch {
      // A trace ID that is not a valid header value stays in the body only.
    }
  }
  if (extra.closing && req.httpVersionMajor < 2) res.setHeader('Connection', 'close');
  if (req.method === 'HEAD') res.end();
  else res.end(body, 'utf8');
}

function withAccept(current: number | string | string[] | undefined): string {
  const values = (Array.isArray(current) ? current.join(',') : current === undefined ? '' : String(current))
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (values.includes('*') || values.some((item) => item.toLowerCase() === 'accept')) return values.join(', ');
  return [...values, 'Accept'].join(', ');
}

/**
 * A write after the response ended is an 'error' event on it, which crashes the
 * process when nobody listens: the failed route still running, or the report
 * hook reaching the response through `req.res`. Listen, and log it once.
 */
function guardLateWrites(res: ServerResponse, warn: () => void): void {
  let warned = false;
  res.on('error', () => {
    if (warned) return;
    warned = true;
    warn();
  });
}

function report(options: ResolvedErrorHandlerOptions, value: unknown, details: ErrorReport): void {
  const hook = options.onError;
  if (hook === undefined) return;
  const failed = (hookError: unknown): void => {
    const normalized = normalizeError(hookError);
    writeLog(options.logger, 'warn', 'onError hook failed', {
      ...(details.traceId !== undefined ? { traceId: details.traceId } : {}),
      error: { name: normalized.name, message: normalized.message, ...(normalized.stack !== undefined ? { stack: normalized.stack } : {}) },
    });
  };
  try {
    const result = hook(value, Object.freeze(details));
    if (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, failed);
    }
  } catch (hookError) {
    failed(hookError);
  }
}
