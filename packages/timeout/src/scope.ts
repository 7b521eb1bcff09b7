import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import { contextOf, getContext } from '@keel/lifecycle';
import { DownstreamTimeoutError } from './errors';
import { parseChildDuration } from './options';

/** The deadline and signal of a `withDeadline()` call, seen by the helpers inside it. */
interface ChildScope {
  readonly deadline: number;
  readonly signal: AbortSignal;
}

// Process-wide, like the request context: two copies of this package see one child scope.
const STORE_KEY = Symbol.for('keel.timeout.childScopes');
const slot = globalThis as unknown as Record<symbol, AsyncLocalStorage<ChildScope> | undefined>;
const childScopes: AsyncLocalStorage<ChildScope> = (slot[STORE_KEY] ??= new AsyncLocalStorage<ChildScope>());

/**
 * The AbortSignal of the current request (or of the innermost `withDeadline()`
 * scope): aborted with a DeadlineExceededError, a ClientDisconnectedError or a
 * ShuttingDownError. `undefined` outside a request; `fetch(url, { signal: getSignal() })`
 * accepts that. Reading it creates the request's AbortController, so requests
 * that never ask pay nothing.
 */
export function getSignal(): AbortSignal | undefined {
  return childScopes.getStore()?.signal ?? getContext()?.signal;
}

/** The AbortSignal of `req`'s request context, or `undefined` when no keel middleware has seen it. */
export function signalOf(req: IncomingMessage): AbortSignal | undefined {
  return contextOf(req)?.signal;
}

/**
 * The deadline (epoch ms) of the current request or `withDeadline()` scope;
 * `undefined` outside a request or when no `timeout()` has set one.
 */
export function getDeadline(): number | undefined {
  return childScopes.getStore()?.deadline ?? getContext()?.deadline;
}

/**
 * Milliseconds left before the current deadline, never below 0; `Infinity`
 * when there is no deadline. Use it to size a downstream timeout, or to skip
 * work that cannot finish in time.
 */
export function remaining(): number {
  const deadline = getDeadline();
  return deadline === undefined ? Infinity : Math.max(0, deadline - Date.now());
}

/**
 * Runs `fn` with a signal that aborts at the earlier of the current deadline and
 * `ms` from now, or when the request's own signal aborts. If the child deadline
 * passes first, the signal aborts with a DownstreamTimeoutError (504) and the
 * returned promise rejects with it at once, whether or not `fn` honours the
 * signal; if the request's signal aborts, it rejects with that reason (a 503 for
 * the request's deadline). Inside `fn`, `getSignal()`, `getDeadline()` and
 * `remaining()` describe this child scope. Works outside a request too.
 *
 * Timer and listener are removed as soon as the promise settles.
 *
 * @example
 * const user = await withDeadline('2s', (signal) => fetch(url, { signal }).then((r) => r.json()));
 */
export function withDeadline<T>(ms: number | string, fn: (signal: AbortSignal) => T | PromiseLike<T>): Promise<T> {
  const budget = parseChildDuration(ms);
  if (typeof fn !== 'function') throw new TypeError('@keel/timeout: withDeadline(ms, fn) needs a function');
  const parentSignal = getSignal();
  const parentDeadline = getDeadline();
  const ownDeadline = Date.now() + budget;
  if (parentSignal?.aborted) return Promise.reject(parentSignal.reason);

  const controller = new AbortController();
  // The parent's deadline aborts the parent signal, which reaches this one; only
  // a strictly shorter budget needs its own timer.
  const ownIsShorter = parentDeadline === undefined || ownDeadline < parentDeadline;
  const scope: ChildScope = { deadline: ownIsShorter ? ownDeadline : parentDeadline, signal: controller.signal };

  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (): void => {
      clearTimeout(timer);
      parentSignal?.removeEventListener('abort', onParentAbort);
    };
    function onParentAbort(): void {
      settle();
      controller.abort(parentSignal!.reason);
      reject(parentSignal!.reason);
    }
    if (ownIsShorter) {
      timer = setTimeout(() => {
        settle();
        const error = new DownstreamTimeoutError(undefined, { timeout: budget });
        controller.abort(error);
        reject(error);
      }, budget);
    }
    parentSignal?.addEventListener('abort', onParentAbort, { once: true });
    let result: T | PromiseLike<T>;
    try {
      result = childScopes.run(scope, fn, controller.signal);
    } catch (error) {
      settle();
      reject(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        settle();
        resolve(value);
      },
      (error: unknown) => {
        settle();
        reject(error);
      },
    );
  });
}
