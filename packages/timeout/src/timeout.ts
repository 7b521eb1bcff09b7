import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  createJsonLogger,
  enterRequestContext,
  markSettlesSafely,
  redactUrl,
  onRequestContextEnd,
  openRequestContext,
  peekDefaultLifecycle,
  runInContext,
  type Lifecycle,
  type Logger,
  type RequestContext,
} from '@keel/lifecycle';
import { DeadlineQueue } from './deadline-queue';
import { abortRequest, publishLateWrite } from './channels';
import { watchLifecycle } from './shutdown';
import { ClientDisconnectedError, DeadlineExceededError } from './errors';
import { dropLateWrites, dropWritesAfterNextEnd } from './late-writes';
import { resolveOptions, type ResolvedTimeoutOptions, type TimeoutOptions } from './options';
import { attachTimedRequest, timedRequestOf, type DeadlineOwner, type NextFunction, type TimedRequest } from './timed-request';

/** The middleware {@link timeout} returns: `(req, res, next)`, for Express 4 and 5. */
export type TimeoutMiddleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;

let stderrLogger: Logger | undefined;

/**
 * Gives each request a deadline and one AbortSignal (in the keel request
 * context), aborted with a reason that says why: the deadline passed
 * (DeadlineExceededError, the client gets a 503 with `Retry-After` through the
 * app's error handler), the client went away (ClientDisconnectedError), or the
 * service is shutting down (ShuttingDownError). Writes the still-running handler
 * makes after the early answer are dropped and reported, never thrown.
 *
 * Mount it app-wide, and again on a router or route to shorten (never lengthen)
 * the deadline there. `timeout('5s')` is short for `timeout({ duration: '5s' })`.
 * Options are checked now: a bad one throws an InvalidOptionError.
 *
 * @example
 * app.use(timeout('5s'));
 * app.get('/report', timeout('1s'), async (req, res) => {
 *   res.json(await fetch(url, { signal: getSignal() }).then((r) => r.json()));
 * });
 */
export function timeout(options?: number | string | TimeoutOptions): TimeoutMiddleware {
  listenForContextEnds();
  const deadlines = new RequestDeadlines(resolveOptions(options));
  return markSettlesSafely(function timeoutMiddleware(req, res, next) {
    const context = openRequestContext(req, res);
    deadlines.arm(context, req, res, next);
    enterRequestContext(context, next);
  });
}

/** The deadlines of one `timeout()` middleware: one queue, since every request gets the same budget. */
class RequestDeadlines implements DeadlineOwner {
  readonly #queue: DeadlineQueue<TimedRequest>;

  constructor(readonly options: ResolvedTimeoutOptions) {
    this.#queue = new DeadlineQueue<TimedRequest>(
      (entry) => runInContext(entry.context, () => this.expire(entry, new DeadlineExceededError(undefined, { timeout: this.options.duration, retryAfter: this.options.retryAfter }))),
      (error) => this.logger().error('@keel/timeout: answering a request at its deadline failed', { error }),
    );
    if (options.lifecycle !== undefined && options.abortOnShutdown !== false) watchLifecycle(options.lifecycle);
  }

  /** Sets the request's deadline, unless an earlier one is already set. */
  arm(context: RequestContext, req: IncomingMessage, res: ServerResponse, next: NextFunction): void {
    if (this.options.abortOnShutdown !== false && this.options.lifecycle === undefined) {
      // Read, never create: timeout() alone must not install signal handlers.
      const lifecycle = peekDefaultLifecycle();
      if (lifecycle !== undefined) watchLifecycle(lifecycle);
    }
    const { duration } = this.options;
    const deadline = Date.now() + duration;
    if (context.deadline !== undefined && context.deadline <= deadline) return;
    if (res.closed || context.ended) return;
    context.deadline = deadline;
    const expiresAt = performance.now() + duration;
    const existing = timedRequestOf(context);
    if (existing !== undefined) {
      // A tighter timeout() further down the chain takes the request over.
      existing.queue?.remove(existing);
      existing.owner = this;
      existing.next = next;
      existing.expiresAt = expiresAt;
      this.#queue.push(existing);
      return;
    }
    const entry: TimedRequest = {
      expiresAt,
      queue: undefined,
      previous: undefined,
      following: undefined,
      req,
      res,
      context,
      owner: this,
      next,
      reason: undefined,
      answeredAt: 0,
      graceTimer: undefined,
      lateWriteReported: false,
    };
    attachTimedRequest(entry);
    this.#queue.push(entry);
  }

  /**
   * Aborts the request's signal with `reason` and, unless a listener of that
   * signal answered already, answers it: through `next(reason)` when nothing was
   * sent yet, or by the `onHeadersSent` policy when the response is streaming.
   */
  expire(entry: TimedRequest, reason: unknown): void {
    const { res, context } = entry;
    entry.queue?.remove(entry);
    abortRequest(context, reason);
    if (res.writableEnded || res.closed || entry.reason !== undefined) return;
    entry.reason = reason;
    entry.answeredAt = Date.now();
    const report = (call: string): void => this.#reportLateWrite(entry, call);
    if (!res.headersSent) {
      entry.next(reason);
      // An error handler that answered synchronously ended the response; one that
      // answers later gets its own end() through before late writes are dropped.
      if (res.writableEnded) dropLateWrites(res, report);
      else dropWritesAfterNextEnd(res, report);
      return;
    }
    if (this.options.onHeadersSent === 'ignore') return;
    entry.graceTimer = setTimeout(() => this.#cutStream(entry, report), this.options.grace);
    entry.graceTimer.unref();
  }

  /** The lifecycle whose shutdown aborts this middleware's requests, if any. */
  lifecycle(): Lifecycle | undefined {
    return this.options.lifecycle ?? peekDefaultLifecycle();
  }

  /** The logger reports go to: the option, else the lifecycle's, else JSON lines on stderr. */
  logger(): Logger {
    return this.options.logger ?? this.lifecycle()?.logger ?? (stderrLogger ??= createJsonLogger(process.stderr));
  }

  #cutStream(entry: TimedRequest, report: (call: string) => void): void {
    entry.graceTimer = undefined;
    const { res, req } = entry;
    if (res.writableEnded || res.closed) return;
    const policy = this.options.onHeadersSent;
    this.logger().warn(`@keel/timeout: response still streaming ${this.options.grace} ms after its deadline: ${policy === 'end' ? 'ended' : 'destroyed'}`, {
      method: req.method,
      url: urlOf(req),
      code: codeOf(entry.reason),
      traceId: entry.context.traceId,
    });
    if (policy === 'end') res.end();
    else res.destroy();
    dropLateWrites(res, report);
  }

  #reportLateWrite(entry: TimedRequest, call: string): void {
    if (entry.lateWriteReported) return;
    entry.lateWriteReported = true;
    const { req, res, reason } = entry;
    const lateByMs = Date.now() - entry.answeredAt;
    publishLateWrite(req, call, reason, lateByMs);
    const logger = this.logger();
    logger.warn('@keel/timeout: late write dropped: the response was already answered', {
      call,
      method: req.method,
      url: urlOf(req),
      code: codeOf(reason),
      lateByMs,
      traceId: entry.context.traceId,
    });
    const hook = this.options.onLateWrite;
    if (hook === undefined) return;
    try {
      hook({ req, res, call, reason, lateByMs });
    } catch (error) {
      logger.error('@keel/timeout: onLateWrite threw', { error });
    }
  }
}

/** Unlinks the request from its queue; a response closed before it ended means the client went away. */
function onContextEnd(context: RequestContext): void {
  const entry = timedRequestOf(context);
  if (entry === undefined) return;
  entry.queue?.remove(entry);
  if (entry.graceTimer !== undefined) {
    clearTimeout(entry.graceTimer);
    entry.graceTimer = undefined;
  }
  if (!context.res.writableEnded && !context.aborted) abortRequest(context, new ClientDisconnectedError());
}

let listening = false;

/** One listener for every timed request of this copy of the package, added with the first timeout(). */
function listenForContextEnds(): void {
  if (listening) return;
  listening = true;
  onRequestContextEnd(onContextEnd);
}

// Path only: a query string can carry a token (`/reset?token=...`), whatever logger the line goes to.
function urlOf(req: IncomingMessage): string | undefined {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url;
  return url === undefined ? undefined : redactUrl(url);
}

function codeOf(reason: unknown): unknown {
  return typeof reason === 'object' && reason !== null ? (reason as { code?: unknown }).code : undefined;
}
