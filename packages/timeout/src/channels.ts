import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '@keel/lifecycle';

/** Why a request's signal aborted, as published on {@link abortChannel}. */
export type AbortCause = 'deadline' | 'disconnect' | 'shutdown';

/** The message of {@link abortChannel}. */
export interface AbortMessage {
  /** The request whose signal aborted. */
  readonly req: IncomingMessage;
  /** Why: its deadline passed, its client went away, or the service is shutting down. */
  readonly reason: AbortCause;
  /** The abort reason the signal carries (DeadlineExceededError, ClientDisconnectedError, ShuttingDownError). */
  readonly error: unknown;
}

/** The message of {@link lateWriteChannel}. */
export interface LateWriteMessage {
  /** The request whose handler wrote after its response was answered. */
  readonly req: IncomingMessage;
  /** The response method that was dropped: `setHeader`, `write`, `end`, ... */
  readonly call: string;
  /** Why the response had been answered early, as on {@link abortChannel}. */
  readonly reason: AbortCause;
  /** Milliseconds between the early answer and this write. */
  readonly lateByMs: number;
}

/** `keel:timeout:abort`: a request's signal was aborted by `timeout()`, once per request. */
export const abortChannel = diagnosticsChannel.channel('keel:timeout:abort');
/** `keel:timeout:late-write`: a write after the early answer was dropped, once per request. */
export const lateWriteChannel = diagnosticsChannel.channel('keel:timeout:late-write');

const CAUSES: Readonly<Record<string, AbortCause>> = {
  ERR_KEEL_DEADLINE_EXCEEDED: 'deadline',
  ERR_KEEL_CLIENT_DISCONNECTED: 'disconnect',
  ERR_KEEL_SHUTTING_DOWN: 'shutdown',
};

/** The cause an abort reason stands for; anything unknown counts as a deadline. */
export function causeOf(reason: unknown): AbortCause {
  const code = typeof reason === 'object' && reason !== null ? (reason as { code?: unknown }).code : undefined;
  return (typeof code === 'string' ? CAUSES[code] : undefined) ?? 'deadline';
}

/** Aborts the context's signal with `reason` and, when it was not aborted yet and someone listens, publishes it. */
export function abortRequest(context: RequestContext, reason: unknown): void {
  if (context.aborted) return;
  context.abort(reason);
  if (abortChannel.hasSubscribers) abortChannel.publish({ req: context.req, reason: causeOf(reason), error: reason } satisfies AbortMessage);
}

/** Publishes a dropped late write, when someone listens. */
export function publishLateWrite(req: IncomingMessage, call: string, reason: unknown, lateByMs: number): void {
  if (lateWriteChannel.hasSubscribers) lateWriteChannel.publish({ req, call, reason: causeOf(reason), lateByMs } satisfies LateWriteMessage);
}
