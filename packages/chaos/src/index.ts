export { chaos, INJECT_CHANNEL } from './chaos';
export type { ChaosMiddleware, ChaosInjectEvent } from './chaos';
export type { NextFunction } from './faults';
export { CHAOS_FAULTS, DEFAULTS, FAULT_DEFAULTS, MIN_SECRET_LENGTH, resolveOptions } from './options';
export type { ChaosFault, ChaosOptions, ChaosRule, ResolvedChaosOptions, ResolvedChaosRule } from './options';
export { ChaosFaultError, isChaosFaultError } from './errors';
