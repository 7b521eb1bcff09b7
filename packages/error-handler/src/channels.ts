import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { ResponseOutcome } from './options';

/** The message of {@link answerChannel}. */
export interface AnswerMessage {
  /** The request that failed. */
  readonly req: IncomingMessage;
  /** The status answered (or that would have been, when the response could not be sent). */
  readonly status: number;
  /** The stable code answered, e.g. `ERR_KEEL_DEADLINE_EXCEEDED` or `NOT_FOUND`. */
  readonly code: string;
  /** What became of the response. */
  readonly outcome: ResponseOutcome;
}

/** `keel:error-handler:answer`: an error was answered by `errorHandler()` or `notFound()`, once per failed request. */
export const answerChannel = diagnosticsChannel.channel('keel:error-handler:answer');

/** Publishes an answered error, when someone listens. */
export function publishAnswer(req: IncomingMessage, status: number, code: string, outcome: ResponseOutcome): void {
  if (answerChannel.hasSubscribers) answerChannel.publish({ req, status, code, outcome } satisfies AnswerMessage);
}
