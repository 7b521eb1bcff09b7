import type { IncomingMessage, ServerResponse } from 'node:http';
import { check, InvalidOptionError, parseDuration, redactingLogger, resolveOptions as resolve, type Lifecycle, type Logger, type OptionCheck } from '@keel/lifecycle';

/** What to do with a response whose headers were already sent when its deadline passed. */
export type HeadersSentPolicy = 'destroy' | 'end' | 'ignore';

/** When shutdown aborts the requests still running. */
export type AbortOnShutdown = 'deadline' | 'immediate' | false;

/** A write the handler attempted after the response had been answered for it, passed to `onLateWrite`. */
export interface LateWrite {
  /** The request whose handler wrote late. */
  readonly req: IncomingMessage;
  /** Its response, already answered. */
  readonly res: ServerResponse;
  /** The response method that was called and dropped: `setHeader`, `write`, `end`, ... */
  readonly call: string;
  /** Why the response was answered early: a DeadlineExceededError or a ShuttingDownError. */
  readonly reason: unknown;
  /** Milliseconds between the early answer and this write. */
  readonly lateByMs: number;
}

/** Options of {@link timeout}. Durations are ms, or strings such as `'250ms'`, `'5s'`, `'1m'`. */
export interface TimeoutOptions {
  /**
   * The request's time budget, from the moment this middleware runs. A
   * `timeout()` mounted later (on a router or route) can shorten it, never lengthen it.
   * @defaultValue `10000`
   */
  duration?: number | string;
  /**
   * The `Retry-After` header of the 503, in seconds.
   * @defaultValue `1`
   */
  retryAfter?: number;
  /**
   * What happens to a response still streaming (headers already sent) when the
   * deadline passes: its signal aborts at once, and after `grace` it is
   * `'destroy'`ed (the client sees an incomplete response, never a truncated one
   * that looks whole), `'end'`ed (a clean end: for streams where a cut is harmless,
   * such as server-sent events) or left alone (`'ignore'`).
   * @defaultValue `'destroy'`
   */
  onHeadersSent?: HeadersSentPolicy;
  /**
   * How long a streaming response may go on after its deadline, for the handler
   * to end it itself, before `onHeadersSent` applies.
   * @defaultValue `1000`
   */
  grace?: number | string;
  /**
   * When a shutdown of the lifecycle aborts the requests still running (signal
   * aborted with ShuttingDownError, 503 if nothing was sent yet): `'deadline'` at
   * the end of the lifecycle's drain phase (`lifecycle.deadlines.drainEndsAt`), so
   * in-flight requests may finish during the drain and none outlives it;
   * `'immediate'` as soon as shutdown starts; `false` never (leave it to `@keel/drain`).
   * @defaultValue `'deadline'`
   */
  abortOnShutdown?: AbortOnShutdown;
  /**
   * The lifecycle whose shutdown aborts requests. When unset, the process
   * default lifecycle, if one exists: this package never creates it.
   * @defaultValue `undefined`
   */
  lifecycle?: Lifecycle;
  /**
   * Where late writes and streams cut at their deadline are reported. When
   * unset, the lifecycle's logger, else JSON lines on stderr. Every line goes
   * through the shared redaction of `@keel/lifecycle`: URLs are logged
   * without their query string (`/reset?token=...` as `/reset`).
   * @defaultValue `undefined`
   */
  logger?: Logger;
  /**
   * Called once per request, at the first write its handler attempts after the
   * timeout response was sent (the write itself is dropped).
   * @defaultValue `undefined`
   */
  onLateWrite?: (lateWrite: LateWrite) => void;
}

/** {@link TimeoutOptions} after defaults and checks, durations in ms. */
export interface ResolvedTimeoutOptions {
  readonly duration: number;
  readonly retryAfter: number;
  readonly onHeadersSent: HeadersSentPolicy;
  readonly grace: number;
  readonly abortOnShutdown: AbortOnShutdown;
  readonly lifecycle: Lifecycle | undefined;
  readonly logger: Logger | undefined;
  readonly onLateWrite: ((lateWrite: LateWrite) => void) | undefined;
}

/** The one source of {@link TimeoutOptions} defaults. */
export const DEFAULTS: ResolvedTimeoutOptions = Object.freeze({
  duration: 10_000,
  retryAfter: 1,
  onHeadersSent: 'destroy',
  grace: 1_000,
  abortOnShutdown: 'deadline',
  lifecycle: undefined,
  logger: undefined,
  onLateWrite: undefined,
});

const PACKAGE = '@keel/timeout';
/** Longer than a day is a configuration mistake, not a request budget. */
export const MAX_DURATION = 24 * 3_600_000;
const MAX_GRACE = 10 * 60_000;

const lifecycleCheck: OptionCheck<Lifecycle | undefined> = (value, fail) => {
  const candidate = value as Partial<Lifecycle> | null;
  const ok = typeof candidate === 'object' && candidate !== null && typeof candidate.on === 'function' && typeof candidate.off === 'function' && 'isShuttingDown' in candidate;
  return ok ? (value as Lifecycle) : fail('a Lifecycle from @keel/lifecycle (createLifecycle())');
};

/**
 * Checks the argument of {@link timeout} and fills in defaults: a duration alone
 * (`5000`, `'5s'`) is short for `{ duration }`. Throws an InvalidOptionError on
 * any unknown, mistyped or out-of-range option.
 */
export function resolveOptions(input?: number | string | TimeoutOptions): ResolvedTimeoutOptions {
  const options = typeof input === 'number' || typeof input === 'string' ? { duration: input } : input;
  const resolved = resolve<ResolvedTimeoutOptions>(PACKAGE, options, DEFAULTS, {
    duration: check.duration(1, MAX_DURATION),
    retryAfter: check.number(0, 86_400, true),
    onHeadersSent: check.oneOf<HeadersSentPolicy>('destroy', 'end', 'ignore'),
    grace: check.duration(0, MAX_GRACE),
    abortOnShutdown: check.oneOf<AbortOnShutdown>('deadline', 'immediate', false),
    lifecycle: lifecycleCheck,
    logger: check.logger<Logger | undefined>(),
    onLateWrite: check.function<(lateWrite: LateWrite) => void>(),
  });
  // The lifecycle's logger and the stderr fallback redact already; a logger given here is wrapped the same way.
  return resolved.logger === undefined ? resolved : Object.freeze({ ...resolved, logger: redactingLogger(resolved.logger) });
}

/** Parses the `ms` argument of `withDeadline()`; throws an InvalidOptionError when it is not a sane duration. */
export function parseChildDuration(value: unknown): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0 || ms > MAX_DURATION) {
    throw new InvalidOptionError(PACKAGE, 'withDeadline(ms)', `a duration from 0 ms to ${MAX_DURATION} ms (a number of ms, or a string like '2s')`, value);
  }
  return ms;
}
