import diagnosticsChannel from 'node:diagnostics_channel';
import type { BreakerState } from './breaker';

/** Published on `keel:outbound:attempt` as each attempt is dispatched. */
export interface AttemptMessage {
  /** The origin called, e.g. `http://127.0.0.1:8080`. */
  readonly origin: string;
  /** The request method. */
  readonly method: string;
  /** The request path, without its query string (which may hold secrets). */
  readonly path: string;
  /** 1 for the first attempt, 2 for the first retry, ... */
  readonly attempt: number;
  /** The trace ID of the incoming request the call belongs to, if any. */
  readonly traceId: string | undefined;
}

/** Published on `keel:outbound:retry` when a retry is scheduled, before its wait. */
export interface RetryMessage {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
  /** The attempt about to be made after the wait (2 for the first retry). */
  readonly attempt: number;
  /** The wait before it, in ms. */
  readonly delayMs: number;
  /** Why: the status that came (429, 502, 503, 504), or the error's code (`ECONNRESET`, `ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT`, ...). */
  readonly reason: number | string;
  /** The wait the dependency asked for with `Retry-After`, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined;
}

/** Published on `keel:outbound:budget-refused` when the retry budget refuses a retry the call wanted. */
export interface BudgetRefusedMessage {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
  /** The attempt that was not made. */
  readonly attempt: number;
  /** Why the retry was wanted, as in {@link RetryMessage.reason}. */
  readonly reason: number | string;
}

/** Published on `keel:outbound:breaker` when an origin's circuit changes state. */
export interface BreakerMessage {
  readonly origin: string;
  /** The new state. */
  readonly state: BreakerState;
  /** The state before. */
  readonly previous: BreakerState;
  /** Failed attempts in the window when the state changed. */
  readonly failures: number;
  /** Attempts in the window when the state changed. */
  readonly calls: number;
}

/** How a call ended, in {@link ResultMessage.outcome}. */
export type CallOutcome = 'response' | 'error' | 'circuit-open' | 'aborted';

/** Published on `keel:outbound:result` once per call, when it ends. */
export interface ResultMessage {
  readonly origin: string;
  readonly method: string;
  readonly path: string;
  /** `response`: a response was delivered (whatever its status) and its body read to the end; `error`: the call failed; `circuit-open`: refused by the breaker, nothing sent; `aborted`: the caller, the request's signal or shutdown aborted it. */
  readonly outcome: CallOutcome;
  /** The status of the response delivered, if one was. */
  readonly statusCode: number | undefined;
  /** The code of the error the call failed with, if it did. */
  readonly errorCode: string | undefined;
  /** Attempts made (0 when the breaker refused the call). */
  readonly attempts: number;
  /** Milliseconds from the call to its end, waits included. */
  readonly durationMs: number;
  /** The trace ID of the incoming request the call belongs to, if any. */
  readonly traceId: string | undefined;
}

/** Channel names, one per event. */
export const CHANNELS = Object.freeze({
  attempt: 'keel:outbound:attempt',
  retry: 'keel:outbound:retry',
  budgetRefused: 'keel:outbound:budget-refused',
  breaker: 'keel:outbound:breaker',
  result: 'keel:outbound:result',
} as const);

export const attemptChannel = diagnosticsChannel.channel(CHANNELS.attempt);
export const retryChannel = diagnosticsChannel.channel(CHANNELS.retry);
export const budgetRefusedChannel = diagnosticsChannel.channel(CHANNELS.budgetRefused);
export const breakerChannel = diagnosticsChannel.channel(CHANNELS.breaker);
export const resultChannel = diagnosticsChannel.channel(CHANNELS.result);
