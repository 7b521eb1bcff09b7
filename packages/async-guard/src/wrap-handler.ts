import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextOf, settlesSafely } from '@keel/lifecycle';
import { toError } from './errors';
import { writeProblem } from './answer';
import { reportLateFault, state } from './state';

/** Any Express handler: `(req, res, next)`, `(err, req, res, next)` or a `param` handler `(req, res, next, value, name)`. */
export type Handler = (...args: any[]) => unknown;

type Next = (value?: unknown) => unknown;

// Thrown or rejected, these strings are routing instructions in Express 4 (sync) and 5 (sync and async).
const CONTROL_FLOW = new Set<unknown>(['route', 'router']);

/**
 * Returns the guard wrapper of `fn`, made once per handler: the same function
 * registered on several routes (or by `app.all`, once per method) shares it.
 * A middleware marked with lifecycle's `SETTLES_SAFELY` (every keel middleware
 * is) is returned as it is.
 */
export function wrapHandler<F extends Handler>(fn: F): F {
  // keel's own middleware never throws, never rejects and calls next once: a guard would only cost.
  if (state.originals.has(fn) || settlesSafely(fn)) return fn;
  const existing = state.wrappers.get(fn);
  if (existing !== undefined) return existing as F;
  const wrapper = makeWrapper(fn);
  // Express tells error middleware by `length === 4`; APM instrumentation reads it too.
  Object.defineProperty(wrapper, 'length', { value: fn.length, configurable: true });
  Object.defineProperty(wrapper, 'name', { value: fn.name, configurable: true });
  state.wrappers.set(fn, wrapper);
  state.originals.set(wrapper, fn);
  return wrapper as F;
}

function makeWrapper(fn: Handler): Handler {
  const handlerName = fn.name || '<anonymous>';
  // Named parameters, and a `next` that no object of the call holds: a rest array, or a call
  // object, holding the guarded `next` (which holds the call) grew the process by 80 MB of
  // resident memory under load on Node 26, with no more live data.
  return function guardedHandler(this: unknown, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown): unknown {
    // Error middleware is (err, req, res, next); `res` is never a function, so position 2 decides.
    if (typeof c === 'function') {
      const call = new GuardedCall(handlerName, c as Next, a, b);
      return call.run(fn, this, a, b, (value?: unknown) => call.next(value), d, e);
    }
    if (typeof d === 'function') {
      const call = new GuardedCall(handlerName, d as Next, b, c);
      return call.run(fn, this, a, b, c, (value?: unknown) => call.next(value), e);
    }
    return fn.call(this, a, b, c, d, e);
  };
}

/** One invocation of a guarded handler: hands its outcome to the real `next` at most once. */
class GuardedCall {
  readonly req: IncomingMessage | undefined;
  /** The answer of the process guards this invocation started under: a later answer makes it moot. */
  readonly token: object | undefined;
  #called = false;

  constructor(
    readonly handler: string,
    readonly realNext: Next,
    req: unknown,
    readonly res: unknown,
  ) {
    this.req = typeof req === 'object' && req !== null ? (req as IncomingMessage) : undefined;
    // Once the process guards answer the request, this invocation's later calls are moot; error
    // middleware that runs after the answer starts with the new token and works normally.
    this.token = state.processGuardsInstalled && this.req !== undefined ? state.answeredRequests.get(this.req) : undefined;
  }

  /** What the `next` the handler gets does. */
  next(value?: unknown): unknown {
    if (value !== undefined && value === state.delivering) return this.realNext(value);
    return this.settle('next', value);
  }

  run(fn: Handler, self: unknown, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown): unknown {
    let result: unknown;
    try {
      result = fn.call(self, a, b, c, d, e);
    } catch (error) {
      this.settle('error', error);
      return undefined;
    }
    if (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
      try {
        // Resolves, never rejects: Express 5 must not forward the rejection a second time.
        return (result as PromiseLike<unknown>).then(undefined, (error: unknown) => {
          this.settle('error', error);
        });
      } catch (error) {
        // A thenable whose `then` throws.
        this.settle('error', error);
        return undefined;
      }
    }
    return result;
  }

  /** True when the request's signal aborted (deadline, shutdown) and its response has been sent in full. */
  #answeredEarly(): boolean {
    const { req } = this;
    const response = this.res as Partial<ServerResponse> | undefined;
    return req !== undefined && response?.writableEnded === true && contextOf(req)?.aborted === true;
  }

  settle(kind: 'next' | 'error', value: unknown): unknown {
    const { req } = this;
    if (state.processGuardsInstalled && req !== undefined && state.answeredRequests.get(req) !== this.token) return undefined;
    if (this.#called) {
      reportLateFault({ kind, value, handler: this.handler, req });
      return undefined;
    }
    this.#called = true;
    if (kind === 'next') return this.realNext(value);
    if (this.#answeredEarly()) {
      // timeout() (or a shutdown) answered already and the router has moved past the error handler:
      // a second error would reach Express's final handler, which cuts the finished connection.
      reportLateFault({ kind, value, handler: this.handler, req });
      return undefined;
    }
    const error = CONTROL_FLOW.has(value) ? value : toError(value);
    try {
      return this.realNext(error);
    } catch (routerError) {
      // The router threw from inside next(err): nothing else can take it, so answer here.
      reportLateFault({ kind: 'error', value: routerError, handler: this.handler, req });
      answerDirectly(this.res, req);
      return undefined;
    }
  }
}

/** A minimal 500 when the error could not be handed to the router; the connection is cut if headers went out. */
function answerDirectly(res: unknown, req: IncomingMessage | undefined): void {
  const response = res as ServerResponse | undefined;
  try {
    if (typeof response?.end !== 'function' || response.writableEnded || response.destroyed) return;
    writeProblem(response, undefined);
  } catch {
    req?.socket?.destroy();
  }
}
