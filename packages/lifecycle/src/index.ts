export { createLifecycle, Lifecycle } from './lifecycle';
export { getDefaultLifecycle, peekDefaultLifecycle, setDefaultLifecycle } from './default-lifecycle';
export type { LifecycleState, ShutdownReport, ShutdownOptions, ShutdownDeadlines } from './lifecycle';
export { DEFAULTS, SHUTDOWN_SIGNALS, autoPreStopDelay, PROBES_DEFAULTS, CLS_HOOKED_DEFAULTS } from './options';
export type {
  LifecycleOptions,
  ResolvedLifecycleOptions,
  ShutdownSignal,
  ProbesOptions,
  ProbePaths,
  ProbedLifecycle,
  HealthCheck,
  HealthCheckFunction,
  ClsHookedOptions,
  RequestContextOptions,
} from './options';
export { SHUTDOWN_PHASES } from './hooks';
export type { ShutdownPhase, ShutdownHook, ShutdownHookContext, ShutdownHookOptions, HookOutcome } from './hooks';
export type { Beacon } from './beacons';
export { runOutsideRequestContext } from './context';
export { processGlobal, versionedProcessGlobal } from './process-global';
export { runInRequestContext, enterRequestContext, runInContext, openRequestContext, getContext, contextOf, activeContexts, onRequestContextEnd, bind, setContextBridge, getContextBridge, CONTEXT_PROPERTY } from './context';
export type { RequestContext, ContextBridge, ContextEndListener } from './context';
export { requestContext } from './request-context';
export type { RequestContextMiddleware } from './request-context';
export { useClsHooked } from './cls-hooked';
export type { ClsNamespace } from './cls-hooked';
export { probes } from './probes';
export type { ProbesMiddleware, ProbeBody } from './probes';
export type { HealthCheckResult } from './health-checks';
export { ShuttingDownError, isShuttingDownError } from './errors';
export { InvalidOptionError, isInvalidOptionError, resolveOptions, check, parseDuration, describeValue } from './options-validation';
export type { OptionCheck, OptionSchema } from './options-validation';
export { createJsonLogger, safeStringify } from './logger';
export type { Logger } from './logger';
export { REDACTED, DEFAULT_REDACTED_NAMES, redactNames, redactedNames, isRedactedName, normalizeName, redactUrl, redactText, redactHeaders, redactValue, redactingLogger } from './redact';
export type { RedactValueOptions } from './redact';
export { stateChannel, shutdownChannel, phaseChannel } from './channels';
export type { StateMessage, ShutdownMessage, PhaseMessage, TimelineStep } from './channels';
export { SETTLES_SAFELY, markSettlesSafely, settlesSafely } from './middleware-marks';
