export { outbound, outboundInterceptor } from './outbound';
export type { OutboundInterceptor } from './outbound';
export { fetch, defaultDispatcher } from './fetch';
export type { FetchInput, FetchInit } from './fetch';
export { DEFAULTS, RETRY_BUDGET_DEFAULTS, BREAKER_DEFAULTS, resolveOptions } from './options';
export type { OutboundOptions, ResolvedOutboundOptions, RetryBudgetOptions, ResolvedRetryBudgetOptions, BreakerOptions, ResolvedBreakerOptions } from './options';
export { CHANNELS } from './channels';
export type { AttemptMessage, RetryMessage, BudgetRefusedMessage, BreakerMessage, ResultMessage, CallOutcome } from './channels';
export type { BreakerState } from './breaker';
export {
  OutboundConnectTimeoutError,
  isOutboundConnectTimeoutError,
  OutboundHeadersTimeoutError,
  isOutboundHeadersTimeoutError,
  OutboundBodyTimeoutError,
  isOutboundBodyTimeoutError,
  OutboundDeadlineError,
  isOutboundDeadlineError,
  CircuitOpenError,
  isCircuitOpenError,
} from './errors';
export { ShuttingDownError, isShuttingDownError } from '@keel/lifecycle';
