import { Agent, Dispatcher } from 'undici';
import { OutboundCall } from './call';
import { rawHandler } from './handler';
import { OriginStates } from './origins';
import { resolveOptions, type OutboundOptions, type ResolvedOutboundOptions } from './options';

/** An undici interceptor: takes the next `dispatch` and returns one that wraps it. */
export type OutboundInterceptor = (dispatch: Dispatcher['dispatch']) => Dispatcher['dispatch'];

/**
 * The interceptor behind {@link outbound}, for composing onto a dispatcher of
 * your own (`agent.compose(outboundInterceptor(), ...)`). Every call through it
 * gets the request's deadline and signal, timeouts, safe retries within a
 * per-origin budget, and a per-origin circuit breaker. Options are checked now.
 */
export function outboundInterceptor(options?: OutboundOptions): OutboundInterceptor {
  return interceptorFor(resolveOptions(options));
}

function interceptorFor(resolved: ResolvedOutboundOptions): OutboundInterceptor {
  const origins = new OriginStates(resolved);
  return function outboundInterceptorFor(dispatch) {
    return function outboundDispatch(opts, handler) {
      // Upgrades (WebSocket, CONNECT) hand over a socket: nothing to retry or time.
      if (opts.upgrade) return dispatch(opts, handler);
      new OutboundCall(resolved, origins.of(opts.origin), dispatch as never, opts, rawHandler(handler)).start();
      return true;
    };
  };
}

/**
 * The dispatcher {@link outbound} returns: calls go straight to the Agent below,
 * in undici's own handler protocol (no conversion of headers between shapes,
 * which a composed interceptor pays twice per response).
 */
class OutboundDispatcher extends Dispatcher {
  readonly #base: Dispatcher;
  readonly #options: ResolvedOutboundOptions;
  readonly #origins: OriginStates;
  readonly #dispatchBase: (options: Dispatcher.DispatchOptions, handler: object) => boolean;

  constructor(base: Dispatcher, options: ResolvedOutboundOptions) {
    super();
    this.#base = base;
    this.#options = options;
    this.#origins = new OriginStates(options);
    this.#dispatchBase = base.dispatch.bind(base) as never;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (opts.upgrade) return this.#base.dispatch(opts, handler);
    new OutboundCall(this.#options, this.#origins.of(opts.origin), this.#dispatchBase, opts, rawHandler(handler)).start();
    return true;
  }

  override close(...args: unknown[]): any {
    return (this.#base as unknown as { close(...rest: unknown[]): unknown }).close(...args);
  }

  override destroy(...args: unknown[]): any {
    return (this.#base as unknown as { destroy(...rest: unknown[]): unknown }).destroy(...args);
  }
}

/**
 * An undici Dispatcher for a service's calls to its dependencies: pass it as
 * `fetch(url, { dispatcher })`, to `undici.request(url, { dispatcher })`, or to
 * `setGlobalDispatcher()`.
 *
 * Inside an Express request, each call ends before the request's deadline (less
 * `reserve`) and aborts with the request's signal (deadline, client gone,
 * shutdown); outside one, within `timeout`. Connect, headers and body timeouts
 * fail with distinct 504 errors. Safe requests (GET, HEAD, OPTIONS, PUT, DELETE,
 * or any with an `Idempotency-Key`) are retried on connection errors, timeouts
 * before headers and 429/502/503/504, with full-jitter backoff or the
 * `Retry-After` asked for, never past the deadline, and within a per-origin
 * retry budget. A per-origin circuit breaker fails calls fast (503) while the
 * dependency is failing. Options are checked now: a bad one throws an InvalidOptionError.
 *
 * Closing the returned dispatcher closes the Agent it created (or the `dispatcher` you passed).
 *
 * @example
 * const api = outbound({ headersTimeout: '2s' });
 * app.get('/user/:id', async (req, res) => {
 *   const answer = await fetch(`http://users.internal/users/${req.params.id}`, { dispatcher: api });
 *   res.status(answer.status).json(await answer.json());
 * });
 */
export function outbound(options?: OutboundOptions): Dispatcher {
  const resolved = resolveOptions(options);
  const base =
    resolved.dispatcher ??
    // Each attempt times its headers and body itself, to the millisecond: undici's half-second timers stay off.
    new Agent({ connect: { timeout: resolved.connectTimeout }, headersTimeout: 0, bodyTimeout: 0 });
  return new OutboundDispatcher(base, resolved);
}
