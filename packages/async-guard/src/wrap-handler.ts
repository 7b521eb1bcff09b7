import type { IncomingMessage, ServerResponse } from 'node:http';
import { settlesSafely } from '@keel/lifecycle';
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
  return function guardedHandler(this: unknown, ...args: unknown[]): unknown {
    // Error middleware is (err, req, res, next); `res` is never a function, so position 2 decides.
    const nextIndex = typeof args[2] === 'function' ? 2 : typeof args[3] === 'function' ? 3 : -1;
    if (nextIndex === -1) return fn.apply(this, args);
    const realNext = args[nextIndex] as Next;
    const req = args[nextIndex - 2] as IncomingMessage | undefined;
    // Once the process guards answer the request, this invocation's later calls are moot; error
    // middleware that runs after the answer starts with the new token and works normally.
    const token = state.processGuardsInstalled && typeof req === 'object' && req !== null ? state.answeredRequests.get(req) : undefined;
    let called = false;

    const settle = (kind: 'next' | 'error', value: unknown): unknown => {
      if (state.processGuardsInstalled && typeof req === 'object' && req !== null && state.answeredRequests.get(req) !== token) return undefined;
      if (called) {
        reportLateFault({ kind, value, handler: handlerName, req });
        return undefined;
      }
      called = true;
      if (kind === 'next') return realNext(value);
      const error = CONTROL_FLOW.has(value) ? value : toError(value);
      try {
        return realNext(error);
      } catch (routerError) {
        // The router threw from inside next(err): nothing else can take it, so answer here.
        reportLateFault({ kind: 'error', value: routerError, handler: handlerName, req });
        answerDirectly(args[nextIndex - 1], req);
        return undefined;
      }
    };
    args[nextIndex] = function next(value?: unknown): unknown {
      if (value !== undefined && value === state.delivering) return realNext(value);
      return settle('next', value);
    };

    let result: unknown;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      settle('error', error);
      return undefined;
    }
    if (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
      try {
        // Resolves, never rejects: Express 5 must not forward the rejection a second time.
        return (result as PromiseLike<unknown>).then(undefined, (error: unknown) => {
          settle('error', error);
        });
      } catch (error) {
        // A thenable whose `then` throws.
        settle('error', error);
        return undefined;
      }
    }
    return result;
  };
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
