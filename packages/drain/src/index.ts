export { drainOnShutdown } from './drain';
export type { DrainHandle, DrainReport } from './drain';
export { registerLongLived } from './long-lived';
export type { OnDrain } from './long-lived';
export { DEFAULTS } from './options';
export type { DrainOptions } from './options';
export type { CloseCause, SocketCounts } from './connections';
export { DrainIncompleteError, isDrainIncompleteError } from './errors';
