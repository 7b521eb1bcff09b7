import { AsyncResource } from 'node:async_hooks';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { getContext, type RequestContext } from '@keel/lifecycle';
import { backoffDelay, parseRetryAfter } from './backoff';
import { attemptChannel, budgetRefusedChannel, resultChannel, retryChannel, type CallOutcome } from './channels';
import { fetchScopes, type FetchScope } from './fetch-scope';
import { CircuitOpenError, OutboundBodyTimeoutError, OutboundConnectTimeoutError, OutboundDeadlineError, OutboundHeadersTimeoutError } from './errors';
import { rawHeader, type RawHandler } from './handler';
import { headerValue, isReplayable } from './headers';
import type { OriginState } from './origins';
import type { ResolvedOutboundOptions } from './options';
import { trackCall, untrackCall, type AbortableCall } from './shutdown';
import { clock, readClock, unwatch, watch, type Watched } from './watchdog';

type DispatchOptions = Dispatcher.DispatchOptions;
type Dispatch = (options: DispatchOptions, handler: RawHandler) => boolean;

/** Errors before response headers that say nothing reached the application, or that it never answered. */
const RETRYABLE_ERRORS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'ERR_KEEL_OUTBOUND_CONNECT_TIMEOUT',
  'ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT',
]);

function codeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** What a failed attempt is turned into: undici's timeouts become this package's 504s. */
function mapError(error: Error, call: OutboundCall): Error {
  const facts = { origin: call.origin, attempts: call.attempts, cause: error };
  switch (codeOf(error)) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new OutboundConnectTimeoutError(undefined, facts);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new OutboundHeadersTimeoutError(undefined, facts);
    case 'UND_ERR_BODY_TIMEOUT':
      return new OutboundBodyTimeoutError(undefined, facts);
    default:
      return error;
  }
}

const NOT_REPLAYABLE = Symbol('not replayable');
const NO_CONTEXT = Object.freeze({});

type Phase = 'connect' | 'headers' | 'body';

/**
 * One attempt's handler: it forwards to the caller only what the call decides to
 * deliver, and times the attempt's phases itself (undici's own timers tick in
 * half-seconds: too coarse for a budget in milliseconds).
 */
class AttemptHandler implements RawHandler, Watched {
  abort: ((reason?: Error) => void) | undefined;
  resume: (() => void) | undefined;
  /** Response headers went to the caller: from now on this attempt is the call's answer. */
  forwarded = false;
  /** A retryable response whose body is read and dropped before the retry. */
  discarding = false;
  readonly startedAt: number;
  #phase: Phase = 'connect';
  /** The moment (on the watchdog's clock) the current phase, or the call's budget, runs out. */
  expiresAt: number;
  watchPrevious: Watched | undefined = undefined;
  watchNext: Watched | undefined = undefined;
  watching = false;

  constructor(
    readonly call: OutboundCall,
    startedAt: number,
  ) {
    this.startedAt = startedAt;
    this.expiresAt = this.#limit(call.options.connectTimeout, startedAt);
    watch(this);
  }

  get stale(): boolean {
    return this.call.current !== this || this.call.finished;
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abort = abort;
    if (this.stale) {
      abort(this.call.abortReason ?? new Error('superseded attempt'));
      return;
    }
    this.#arm('headers');
  }

  onResponseStarted(): void {
    if (!this.stale) this.call.handler.onResponseStarted?.();
  }

  onBodySent(chunk: unknown): void {
    if (!this.stale) this.call.handler.onBodySent?.(chunk);
  }

  onRequestSent(): void {
    if (!this.stale) this.call.handler.onRequestSent?.();
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | null, socket: Duplex): void {
    unwatch(this);
    if (this.stale) return;
    this.call.finish('response', statusCode, undefined);
    this.call.handler.onUpgrade?.(statusCode, rawHeaders, socket);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.stale) {
      unwatch(this);
      return true;
    }
    this.resume = resume;
    this.#arm('body');
    const decision = this.call.onResponseHeaders(this, statusCode, rawHeaders);
    if (decision === 'retry') {
      this.discarding = true;
      return true;
    }
    if (decision !== 'forward') {
      unwatch(this);
      this.call.fail(decision, 'error');
      this.abort?.(decision);
      return true;
    }
    this.forwarded = true;
    const more = this.call.handler.onHeaders?.(statusCode, rawHeaders, this.call.resumeBody, statusText) !== false;
    if (!more) this.expiresAt = this.call.deadlineAt;
    return more;
  }

  onData(chunk: Buffer): boolean {
    if (this.stale || !this.forwarded) return true;
    this.#arm('body');
    const more = this.call.handler.onData?.(chunk) !== false;
    // A paused body (the caller's back-pressure) is not a silent dependency; the call's deadline still holds.
    if (!more) this.expiresAt = this.call.deadlineAt;
    return more;
  }

  onComplete(rawTrailers: Buffer[] | null): void {
    unwatch(this);
    if (this.stale) return;
    if (this.discarding) {
      this.call.startPendingRetry();
      return;
    }
    this.call.finish('response', this.call.statusCode, undefined);
    this.call.handler.onComplete?.(rawTrailers);
  }

  onError(error: Error): void {
    unwatch(this);
    if (this.stale) return;
    if (this.discarding) {
      // The retry was decided on the status; a body cut short changes nothing.
      this.call.startPendingRetry();
      return;
    }
    this.call.onAttemptError(this, error);
  }

  /** The caller asked for more body after pausing it. */
  resumeBody(): void {
    if (this.#phase === 'body' && !this.stale) this.#arm('body');
    this.resume?.();
  }

  /** Enters a phase (or, for the body, counts its silence again from now). */
  #arm(phase: Phase): void {
    this.#phase = phase;
    const { options, opts } = this.call;
    const ms = phase === 'headers' ? (opts.headersTimeout ?? options.headersTimeout) : (opts.bodyTimeout ?? options.bodyTimeout);
    this.expiresAt = this.#limit(ms, clock.now);
  }

  #limit(ms: number, from: number): number {
    return ms > 0 ? Math.min(from + ms, this.call.deadlineAt) : this.call.deadlineAt;
  }

  /** Called by the watchdog once `expiresAt` has passed. */
  expire(): void {
    if (this.stale) return;
    if (this.expiresAt >= this.call.deadlineAt) {
      this.call.onDeadline();
      return;
    }
    const phase = this.#phase;
    const facts = { origin: this.call.origin, attempts: this.call.attempts };
    const error =
      phase === 'connect' ? new OutboundConnectTimeoutError(undefined, facts) : phase === 'headers' ? new OutboundHeadersTimeoutError(undefined, facts) : new OutboundBodyTimeoutError(undefined, facts);
    // Before the connection, nothing to abort yet: the attempt is given up here, and aborted at its start if it comes.
    if (this.abort === undefined) this.onError(error);
    else this.abort(error);
  }
}

/** A retry decided at response headers, started once that response's body is read. */
interface PendingRetry {
  readonly delay: number;
}

/**
 * One call through the outbound dispatcher: its attempts, waits and deadline.
 * The caller's handler sees one request: aborting and resuming reach whichever
 * attempt is current.
 */
export class OutboundCall implements AbortableCall {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
  readonly context: RequestContext | undefined;
  /** When the call started, on the watchdog's clock (which this refreshes). */
  readonly startedAt = readClock();
  /** The call's budget in ms, and the moment (on the watchdog's clock) it runs out. */
  readonly budget: number;
  readonly deadlineAt: number;
  attempts = 0;
  current: AttemptHandler | undefined;
  finished = false;
  abortReason: Error | undefined;
  statusCode: number | undefined;
  /** The one call a half-open circuit lets through: a single attempt, whose outcome decides the circuit. */
  #trialCall = false;
  #trialRecorded = false;
  #scope: AsyncResource | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #pendingRetry: PendingRetry | undefined;
  #signal: AbortSignal | undefined;
  readonly #fetchScope: FetchScope | undefined;
  /** What a retry sends as the body; NOT_REPLAYABLE when the first attempt's body cannot be sent again. */
  readonly #replayBody: DispatchOptions['body'] | (() => DispatchOptions['body']) | typeof NOT_REPLAYABLE;
  #lastError: unknown;
  // Created only for calls made inside a request.
  #onSignalAbort: (() => void) | undefined;

  constructor(
    readonly options: ResolvedOutboundOptions,
    readonly state: OriginState,
    readonly dispatch: Dispatch,
    readonly opts: DispatchOptions,
    readonly handler: RawHandler,
  ) {
    this.origin = state.origin;
    this.method = (opts.method ?? 'GET').toUpperCase();
    const path = opts.path ?? '/';
    const query = path.indexOf('?');
    this.path = query === -1 ? path : path.slice(0, query);
    this.context = getContext();
    this.#fetchScope = fetchScopes.getStore();
    const replay = (opts as { replayBody?: unknown }).replayBody;
    // A stream is replayed only when the caller gives a function that makes it again.
    this.#replayBody = isReplayable(opts.body) ? opts.body : typeof replay === 'function' ? (replay as () => DispatchOptions['body']) : (this.#fetchScope?.body ?? NOT_REPLAYABLE);
    let budget = options.timeout;
    const deadline = this.context?.deadline;
    if (deadline !== undefined) budget = Math.min(budget, deadline - Date.now() - options.reserve);
    this.budget = Math.max(0, budget);
    this.deadlineAt = this.startedAt + this.budget;
  }

  #resumeBody: (() => void) | undefined;

  /** The `resume` the caller's handler gets: it reaches the current attempt. Made once, when a response is forwarded. */
  get resumeBody(): () => void {
    return (this.#resumeBody ??= (): void => this.current?.resumeBody());
  }

  /** Starts the call: checks the signal, budget and breaker, then makes the first attempt. */
  start(): void {
    this.handler.onConnect?.((reason?: Error) => this.abortWith(reason ?? new Error('aborted'), 'aborted'), NO_CONTEXT);
    if (this.finished) return;
    const context = this.context;
    if (context !== undefined) {
      const signal = context.signal;
      if (signal.aborted) return this.fail(signal.reason as Error, 'aborted');
      this.#signal = signal;
      this.#onSignalAbort = (): void => this.abortWith(signal.reason as Error, 'aborted');
      signal.addEventListener('abort', this.#onSignalAbort, { once: true });
    }
    if (this.budget <= 0) return this.fail(new OutboundDeadlineError(undefined, { origin: this.origin, attempts: 0, budget: 0 }), 'error');
    const breaker = this.state.breaker;
    if (breaker !== undefined) {
      const admission = breaker.admit();
      if (!admission.admitted) {
        return this.fail(new CircuitOpenError(undefined, { origin: this.origin, attempts: 0, retryAfter: admission.retryAfterMs / 1000 }), 'circuit-open');
      }
      this.#trialCall = admission.trial;
    }
    trackCall(this);
    this.state.budget?.recordFirstAttempt();
    this.#attempt();
  }

  /** Aborts the call (caller, request signal, deadline or shutdown) and fails it with `reason`. */
  abortWith(reason: Error, outcome: CallOutcome): void {
    if (this.finished) return;
    this.abortReason = reason;
    const attempt = this.current;
    this.fail(reason, outcome);
    attempt?.abort?.(reason);
  }

  /** Decides, at an attempt's response headers: forward the response, retry, or fail with an error. */
  onResponseHeaders(attempt: AttemptHandler, statusCode: number, rawHeaders: Buffer[]): 'forward' | 'retry' | Error {
    this.statusCode = statusCode;
    this.#record(statusCode < 500);
    if (!this.options.retryStatuses.includes(statusCode)) return 'forward';
    const retryAfter = parseRetryAfter(rawHeader(rawHeaders, 'retry-after'));
    const decision = this.#retryDecision(attempt, statusCode, retryAfter);
    if (typeof decision === 'number') {
      this.#pendingRetry = { delay: decision };
      return 'retry';
    }
    return decision ?? 'forward';
  }

  /** A failure before any response headers went to the caller. */
  onAttemptError(attempt: AttemptHandler, error: Error): void {
    if (attempt.forwarded) {
      this.fail(mapError(error, this), 'error');
      return;
    }
    this.#lastError = error;
    this.#record(false);
    const code = codeOf(error);
    const decision = code !== undefined && RETRYABLE_ERRORS.has(code) ? this.#retryDecision(attempt, code, undefined) : undefined;
    if (typeof decision === 'number') {
      this.#pendingRetry = { delay: decision };
      this.startPendingRetry();
    } else {
      this.fail(mapError(error, this), 'error');
    }
  }

  /** Starts the wait before the retry decided earlier. */
  startPendingRetry(): void {
    const pending = this.#pendingRetry;
    this.#pendingRetry = undefined;
    this.current = undefined;
    if (pending === undefined || this.finished) return;
    this.#scope ??= new AsyncResource('keel:outbound:retry');
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      // The attempt is dispatched in the caller's async context: trace headers and the request context follow it.
      this.#scope!.runInAsyncScope(this.#attempt, this);
    }, pending.delay);
  }

  /** Fails the call with `error`, once. */
  fail(error: Error, outcome: CallOutcome): void {
    if (this.finished) return;
    if (this.#fetchScope !== undefined) this.#fetchScope.error = error;
    this.finish(outcome, undefined, codeOf(error) ?? error.name);
    this.handler.onError?.(error);
  }

  /** Ends the call's bookkeeping, once, and publishes its result. */
  finish(outcome: CallOutcome, statusCode: number | undefined, errorCode: string | undefined): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.#retryTimer);
    if (this.#onSignalAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onSignalAbort);
    untrackCall(this);
    // A trial call that ends without an outcome must not hold the circuit half-open for ever.
    if (this.#trialCall && !this.#trialRecorded) this.state.breaker?.releaseTrial();
    if (resultChannel.hasSubscribers) {
      resultChannel.publish({
        origin: this.origin,
        method: this.method,
        path: this.path,
        outcome,
        statusCode,
        errorCode,
        attempts: this.attempts,
        durationMs: performance.now() - this.startedAt,
        traceId: this.context?.traceId,
      });
    }
  }

  #attempt(): void {
    if (this.finished) return;
    const number = ++this.attempts;
    const attempt = new AttemptHandler(this, number === 1 ? this.startedAt : readClock());
    this.current = attempt;
    if (attemptChannel.hasSubscribers) {
      attemptChannel.publish({ origin: this.origin, method: this.method, path: this.path, attempt: number, traceId: this.context?.traceId });
    }
    const opts = this.opts;
    // The attempt times its own phases, more finely than undici (whose own timers are off in the Agent
    // outbound() creates, and later than ours in one passed in); the options are copied only to replay a body.
    const replay = this.#replayBody;
    const attemptOptions: DispatchOptions = number === 1 ? opts : { ...opts, body: typeof replay === 'function' ? replay() : (replay as DispatchOptions['body']) };
    try {
      this.dispatch(attemptOptions, attempt);
    } catch (error) {
      attempt.onError(error as Error);
    }
  }

  #record(success: boolean): void {
    const breaker = this.state.breaker;
    if (breaker === undefined) return;
    const trial = this.#trialCall && !this.#trialRecorded;
    if (trial) this.#trialRecorded = true;
    breaker.record(success, trial);
  }

  /**
   * Whether to retry after a failed attempt: the wait in ms, `undefined` for no
   * (the failure goes to the caller as it is), or an error to fail with at once.
   */
  #retryDecision(attempt: AttemptHandler, reason: number | string, retryAfter: number | undefined): number | Error | undefined {
    const { options } = this;
    if (this.attempts >= options.attempts || !this.#safeToRetry()) return undefined;
    // A failing dependency gets no retries: a trial call, or an open circuit.
    if (this.#trialCall || (this.state.breaker !== undefined && !this.state.breaker.allowsRetry)) return undefined;
    const delay = retryAfter ?? backoffDelay(this.attempts, options.baseDelay, options.maxDelay, options.random);
    // The next attempt is expected to take about as long as this one did.
    const now = readClock();
    const needed = delay + Math.max(1, now - attempt.startedAt);
    if (now + needed > this.deadlineAt) {
      if (retryAfter === undefined) return undefined;
      return new OutboundDeadlineError(undefined, { origin: this.origin, attempts: this.attempts, budget: this.budget, retryAfter, cause: this.#lastError });
    }
    const budget = this.state.budget;
    if (budget !== undefined && !budget.tryRetry()) {
      if (budgetRefusedChannel.hasSubscribers) {
        budgetRefusedChannel.publish({ origin: this.origin, method: this.method, path: this.path, attempt: this.attempts + 1, reason });
      }
      return undefined;
    }
    if (retryChannel.hasSubscribers) {
      retryChannel.publish({ origin: this.origin, method: this.method, path: this.path, attempt: this.attempts + 1, delayMs: delay, reason, retryAfterMs: retryAfter });
    }
    return delay;
  }

  #safeToRetry(): boolean {
    const { opts } = this;
    if (this.#replayBody === NOT_REPLAYABLE) return false;
    if (this.options.retryMethods.includes(this.method)) return true;
    const key = headerValue(opts.headers, 'idempotency-key');
    return key !== undefined && key.length > 0;
  }

  /** The call's budget ran out (checked by the current attempt's timer: a retry's wait always ends before it). */
  onDeadline(): void {
    this.abortWith(new OutboundDeadlineError(undefined, { origin: this.origin, attempts: this.attempts, budget: this.budget, cause: this.#lastError }), 'error');
  }
}
