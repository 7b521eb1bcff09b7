import type { Dispatcher } from 'undici';
import { check, InvalidOptionError, resolveOptions as resolve, type Lifecycle, type OptionCheck, type OptionSchema } from '@keel/lifecycle';

/** The per-origin retry budget of {@link OutboundOptions.retryBudget}. */
export interface RetryBudgetOptions {
  /**
   * Retries allowed per origin, as a share of the first attempts made to it in the last `window`.
   * @defaultValue `0.2`
   */
  ratio?: number;
  /**
   * Retries allowed per origin in any `window` on top of the ratio, so a service
   * with little traffic can still retry a blip.
   * @defaultValue `3`
   */
  minRetries?: number;
  /**
   * The sliding window both counts cover.
   * @defaultValue `10000`
   */
  window?: number | string;
}

/** The per-origin circuit breaker of {@link OutboundOptions.breaker}. */
export interface BreakerOptions {
  /**
   * The share of failed attempts in the window at which the circuit opens.
   * @defaultValue `0.5`
   */
  threshold?: number;
  /**
   * Attempts the window must hold before the ratio counts: fewer never open the circuit.
   * @defaultValue `20`
   */
  minimumCalls?: number;
  /**
   * The sliding window attempts are counted over.
   * @defaultValue `10000`
   */
  window?: number | string;
  /**
   * How long the circuit stays open before it lets one trial call through.
   * @defaultValue `5000`
   */
  cooldown?: number | string;
}

/** Options of {@link outbound}. Durations are ms, or strings such as `'250ms'`, `'5s'`. */
export interface OutboundOptions {
  /**
   * Longest wait for a connection (TCP and TLS) to the origin; a timeout fails
   * the attempt with `ERR_KEEL_OUTBOUND_CONNECT_TIMEOUT` (retried when allowed).
   * Applies to the Agent this package creates, not to a `dispatcher` you pass.
   * @defaultValue `1000`
   */
  connectTimeout?: number | string;
  /**
   * Longest wait, once the request is sent, for the response's headers:
   * `ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT` (retried when allowed).
   * @defaultValue `3000`
   */
  headersTimeout?: number | string;
  /**
   * Longest silence between two chunks of the response body:
   * `ERR_KEEL_OUTBOUND_BODY_TIMEOUT` (never retried: the response has started).
   * @defaultValue `3000`
   */
  bodyTimeout?: number | string;
  /**
   * The whole call's budget, retries and waits included. Inside a request the
   * request's remaining time (less `reserve`) bounds it too, whichever ends first.
   * @defaultValue `10000`
   */
  timeout?: number | string;
  /**
   * Time kept back from the request's remaining time for answering the client
   * after the call: a call inside a request ends this long before its deadline.
   * @defaultValue `50`
   */
  reserve?: number | string;
  /**
   * Attempts in all, the first included (1 disables retries).
   * @defaultValue `3`
   */
  attempts?: number;
  /**
   * The first retry's backoff ceiling: retry `n` waits a random time (full
   * jitter) between 0 and `min(maxDelay, baseDelay * 2 ** (n - 1))`.
   * @defaultValue `100`
   */
  baseDelay?: number | string;
  /**
   * The ceiling of any backoff. A `Retry-After` is honoured beyond it when it fits the call's budget.
   * @defaultValue `2000`
   */
  maxDelay?: number | string;
  /**
   * Response statuses that are retried (when the method is safe to retry).
   * @defaultValue `[429, 502, 503, 504]`
   */
  retryStatuses?: readonly number[];
  /**
   * Methods retried without an `Idempotency-Key` header; any method with one is retried.
   * @defaultValue `['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']`
   */
  retryMethods?: readonly string[];
  /**
   * The per-origin retry budget, or `false` for none (not advised: retries then
   * multiply a failing dependency's load up to `attempts` times).
   * @defaultValue `{ ratio: 0.2, minRetries: 3, window: 10000 }`
   */
  retryBudget?: RetryBudgetOptions | false;
  /**
   * The per-origin circuit breaker, or `false` for none.
   * @defaultValue `{ threshold: 0.5, minimumCalls: 20, window: 10000, cooldown: 5000 }`
   */
  breaker?: BreakerOptions | false;
  /**
   * The lifecycle whose shutdown aborts the calls still in flight at its abort
   * phase (just before the drain deadline). When unset, the process default
   * lifecycle, if one exists: this package never creates it.
   * @defaultValue `undefined`
   */
  lifecycle?: Lifecycle;
  /**
   * The dispatcher the attempts go through. When unset, a new undici `Agent`
   * with `connectTimeout`, `headersTimeout` and `bodyTimeout`.
   * @defaultValue `undefined`
   */
  dispatcher?: Dispatcher;
  /**
   * The source of backoff jitter, a function returning a number in `[0, 1)`;
   * pass a constant for reproducible delays in tests.
   * @defaultValue `Math.random`
   */
  random?: () => number;
}

/** {@link RetryBudgetOptions} after defaults and checks. */
export interface ResolvedRetryBudgetOptions {
  readonly ratio: number;
  readonly minRetries: number;
  readonly window: number;
}

/** {@link BreakerOptions} after defaults and checks. */
export interface ResolvedBreakerOptions {
  readonly threshold: number;
  readonly minimumCalls: number;
  readonly window: number;
  readonly cooldown: number;
}

/** {@link OutboundOptions} after defaults and checks, durations in ms. */
export interface ResolvedOutboundOptions {
  readonly connectTimeout: number;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly timeout: number;
  readonly reserve: number;
  readonly attempts: number;
  readonly baseDelay: number;
  readonly maxDelay: number;
  readonly retryStatuses: readonly number[];
  readonly retryMethods: readonly string[];
  readonly retryBudget: ResolvedRetryBudgetOptions | false;
  readonly breaker: ResolvedBreakerOptions | false;
  readonly lifecycle: Lifecycle | undefined;
  readonly dispatcher: Dispatcher | undefined;
  readonly random: () => number;
}

/** The defaults of {@link RetryBudgetOptions}. */
export const RETRY_BUDGET_DEFAULTS: ResolvedRetryBudgetOptions = Object.freeze({ ratio: 0.2, minRetries: 3, window: 10_000 });

/** The defaults of {@link BreakerOptions}. */
export const BREAKER_DEFAULTS: ResolvedBreakerOptions = Object.freeze({ threshold: 0.5, minimumCalls: 20, window: 10_000, cooldown: 5_000 });

/** The one source of {@link OutboundOptions} defaults. */
export const DEFAULTS: ResolvedOutboundOptions = Object.freeze({
  connectTimeout: 1_000,
  headersTimeout: 3_000,
  bodyTimeout: 3_000,
  timeout: 10_000,
  reserve: 50,
  attempts: 3,
  baseDelay: 100,
  maxDelay: 2_000,
  retryStatuses: Object.freeze([429, 502, 503, 504]),
  retryMethods: Object.freeze(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']),
  retryBudget: RETRY_BUDGET_DEFAULTS,
  breaker: BREAKER_DEFAULTS,
  lifecycle: undefined,
  dispatcher: undefined,
  random: Math.random,
});

const PACKAGE = '@keel/outbound';
const HOUR = 3_600_000;
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const lifecycleCheck: OptionCheck<Lifecycle | undefined> = (value, fail) => {
  const candidate = value as Partial<Lifecycle> | null;
  const ok = typeof candidate === 'object' && candidate !== null && typeof candidate.on === 'function' && typeof candidate.off === 'function' && 'isShuttingDown' in candidate;
  return ok ? (value as Lifecycle) : fail('a Lifecycle from @keel/lifecycle (createLifecycle())');
};

const dispatcherCheck: OptionCheck<Dispatcher | undefined> = (value, fail) => {
  const candidate = value as { dispatch?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.dispatch === 'function' ? (value as Dispatcher) : fail('an undici Dispatcher (an Agent, Pool or Client)');
};

/** A nested options object: `false`, or keys checked like the top level, errors named `parent.key`. */
function nested<T extends object>(name: string, defaults: T, schema: OptionSchema<T>): OptionCheck<T | false> {
  return (value) => {
    if (value === false) return false;
    try {
      return resolve<T>(PACKAGE, value, defaults, schema);
    } catch (error) {
      const { option, expected, received } = error as InvalidOptionError;
      throw new InvalidOptionError(PACKAGE, option === 'options' ? name : `${name}.${option}`, option === 'options' ? `false or an object` : expected, option === 'options' ? value : received);
    }
  };
}

/**
 * Checks the options of {@link outbound} and fills in defaults. Throws an
 * InvalidOptionError on any unknown, mistyped or out-of-range option.
 */
export function resolveOptions(input?: OutboundOptions): ResolvedOutboundOptions {
  const resolved = resolve<ResolvedOutboundOptions>(PACKAGE, input, DEFAULTS, {
    connectTimeout: check.duration(1, HOUR),
    headersTimeout: check.duration(1, HOUR),
    bodyTimeout: check.duration(1, HOUR),
    timeout: check.duration(1, 24 * HOUR),
    reserve: check.duration(0, HOUR),
    attempts: check.number(1, 10, true),
    baseDelay: check.duration(0, HOUR),
    maxDelay: check.duration(0, HOUR),
    retryStatuses: check.arrayOf(check.number(100, 599, true), 'an array of HTTP statuses (integers from 100 to 599)'),
    retryMethods: (value, fail) =>
      check.arrayOf(check.string(METHOD), 'an array of HTTP method names')(value, fail).map((method) => method.toUpperCase()),
    retryBudget: nested<ResolvedRetryBudgetOptions>('retryBudget', RETRY_BUDGET_DEFAULTS, {
      ratio: check.number(0, 10),
      minRetries: check.number(0, 1_000_000, true),
      window: check.duration(100, HOUR),
    }),
    breaker: nested<ResolvedBreakerOptions>('breaker', BREAKER_DEFAULTS, {
      threshold: check.number(0.01, 1),
      minimumCalls: check.number(1, 1_000_000, true),
      window: check.duration(100, HOUR),
      cooldown: check.duration(1, HOUR),
    }),
    lifecycle: lifecycleCheck,
    dispatcher: dispatcherCheck,
    random: check.function<() => number>(),
  });
  if (resolved.maxDelay < resolved.baseDelay) {
    throw new InvalidOptionError(PACKAGE, 'maxDelay', `at least baseDelay (${resolved.baseDelay} ms)`, input?.maxDelay);
  }
  return Object.freeze({ ...resolved, retryMethods: Object.freeze([...resolved.retryMethods]) });
}
