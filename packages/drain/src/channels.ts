import diagnosticsChannel from 'node:diagnostics_channel';
import type { DrainReport } from './drain';

/** The message of {@link deregisterChannel}. */
export interface DeregisterMessage {
  /** The server's name (the `name` option, or its address). */
  readonly server: string;
  /** Requests in flight when the shutdown started. */
  readonly inFlight: number;
  /** Sockets open when the shutdown started. */
  readonly sockets: number;
}

/** The message of {@link completeChannel}. */
export interface CompleteMessage {
  /** What the drain of one server did: requests served, sockets closed by cause (`forced` among them), whether it was clean. */
  readonly report: DrainReport;
}

/** `keel:drain:deregister`: a server's shutdown started; its responses now say `Connection: close`. */
export const deregisterChannel = diagnosticsChannel.channel('keel:drain:deregister');
/** `keel:drain:complete`: a server's drain ended, with its report. Published before the lifecycle's cleanup phase. */
export const completeChannel = diagnosticsChannel.channel('keel:drain:complete');

/** Publishes a server's deregistration, when someone listens. */
export function publishDeregister(server: string, inFlight: number, sockets: number): void {
  if (deregisterChannel.hasSubscribers) deregisterChannel.publish({ server, inFlight, sockets } satisfies DeregisterMessage);
}

/** Publishes a server's drain report, when someone listens. */
export function publishComplete(report: DrainReport): void {
  if (completeChannel.hasSubscribers) completeChannel.publish({ report } satisfies CompleteMessage);
}
