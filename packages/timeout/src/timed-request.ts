import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Lifecycle, Logger, RequestContext } from '@keel/lifecycle';
import type { QueueEntry } from './deadline-queue';
import type { ResolvedTimeoutOptions } from './options';

/** An Express-compatible `next`. */
export type NextFunction = (error?: unknown) => void;

/** The timeout() middleware governing a request. */
export interface DeadlineOwner {
  readonly options: ResolvedTimeoutOptions;
  /** The lifecycle whose shutdown aborts the request, if any. */
  lifecycle(): Lifecycle | undefined;
  logger(): Logger;
  /** Aborts the request with `reason` and answers it if it can. */
  expire(entry: TimedRequest, reason: unknown): void;
}

/** One timed request: its place in a deadline queue and what answering it early needs. */
export interface TimedRequest extends QueueEntry<TimedRequest> {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly context: RequestContext;
  /** The middleware governing the request: the one with the tightest deadline. */
  owner: DeadlineOwner;
  /** The `next` of that middleware, called at most once, with the error. */
  next: NextFunction;
  /** Why the response was answered early, once it was. */
  reason: unknown;
  /** Epoch ms of the early answer. */
  answeredAt: number;
  graceTimer: NodeJS.Timeout | undefined;
  lateWriteReported: boolean;
}

// On keel's own context object, never on Node's `res`: a new property on the
// response gives that hot object another shape, which Node's code pays for.
const ENTRY = Symbol('keel.timeout.timedRequest');

type WithEntry = RequestContext & { [ENTRY]?: TimedRequest };

/** The timed request of the request `context` belongs to, if a timeout() has seen it. */
export function timedRequestOf(context: RequestContext): TimedRequest | undefined {
  return (context as WithEntry)[ENTRY];
}

/** Records `entry` as the timed request of its context. */
export function attachTimedRequest(entry: TimedRequest): void {
  (entry.context as WithEntry)[ENTRY] = entry;
}
