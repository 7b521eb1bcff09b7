export { timeout } from './timeout';
export type { TimeoutMiddleware } from './timeout';
export type { NextFunction } from './timed-request';
export { DEFAULTS, resolveOptions } from './options';
export type { TimeoutOptions, ResolvedTimeoutOptions, HeadersSentPolicy, AbortOnShutdown, LateWrite } from './options';
export { getSignal, signalOf, getDeadline, remaining, withDeadline } from './scope';
export {
  DeadlineExceededError,
  isDeadlineExceededError,
  ClientDisconnectedError,
  isClientDisconnectedError,
  DownstreamTimeoutError,
  isDownstreamTimeoutError,
} from './errors';
export { ShuttingDownError, isShuttingDownError } from '@keel/lifecycle';
export { abortChannel, lateWriteChannel } from './channels';
export type { AbortCause, AbortMessage, LateWriteMessage } from './channels';
