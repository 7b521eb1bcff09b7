import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';

/**
 * What kind of fault reached the guards: an exception or a rejection nobody
 * caught, a handler that failed after it had called `next()`, or one that
 * called `next()` twice.
 */
export type FaultKind = 'uncaughtException' | 'unhandledRejection' | 'errorAfterNext' | 'nextTwice';

/** The message of {@link faultChannel}. */
export interface FaultMessage {
  /** What kind of fault it was. */
  readonly kind: FaultKind;
  /** The thrown or rejected value (or, for `nextTwice`, the second argument to `next`). */
  readonly value: unknown;
  /** True when it starts a graceful shutdown with exit code 1. */
  readonly fatal: boolean;
  /** The request that owned it, when the request context says so for certain. */
  readonly req: IncomingMessage | undefined;
}

/** `keel:async-guard:fault`: a fault outside the request chain, or a late one, reached the guards. */
export const faultChannel = diagnosticsChannel.channel('keel:async-guard:fault');

/** Publishes a fault, when someone listens. */
export function publishFault(kind: FaultKind, value: unknown, fatal: boolean, req: IncomingMessage | undefined): void {
  if (faultChannel.hasSubscribers) faultChannel.publish({ kind, value, fatal, req } satisfies FaultMessage);
}
