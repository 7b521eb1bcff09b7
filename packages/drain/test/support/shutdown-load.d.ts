// Types of ./shutdown-load.js: keel-drill's load harness (@keel/drill), re-exported.
export { runShutdownLoad, runShutdowns, summarize, classifyError, createClient, LOAD_DEFAULTS as DEFAULTS } from '@keel/drill';
export type { ShutdownLoadOptions, ShutdownLoadResult, ShutdownLoadSummary, FailedRequest, ClientKind, Outcome } from '@keel/drill';
