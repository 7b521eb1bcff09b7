import diagnosticsChannel from 'node:diagnostics_channel';
import type { Lifecycle, LifecycleState } from './lifecycle';
import type { ShutdownReport } from './report';

/** The message of {@link stateChannel}. */
export interface StateMessage {
  /** The lifecycle that changed state. */
  readonly lifecycle: Lifecycle;
  /** The new state. */
  readonly state: LifecycleState;
  /** The state before. */
  readonly previous: LifecycleState;
}

/** The message of {@link shutdownChannel}. */
export interface ShutdownMessage {
  /** The lifecycle that shut down. */
  readonly lifecycle: Lifecycle;
  /** What the shutdown did, phase by phase: the same report `'stopped'` carries. */
  readonly report: ShutdownReport;
}

/** A step of the shutdown timeline, as published on {@link phaseChannel}: the hook phases, plus the deregistration delay and the wait for beacons. */
export type TimelineStep = 'deregister' | 'drain' | 'beacons' | 'cleanup' | 'flush';

/** The message of {@link phaseChannel}. */
export interface PhaseMessage {
  /** The lifecycle shutting down. */
  readonly lifecycle: Lifecycle;
  /** The step that just ended. */
  readonly phase: TimelineStep;
  /** How long it took, in ms. */
  readonly durationMs: number;
}

/** `keel:lifecycle:state`: a lifecycle changed state (`starting`, `ready`, `draining`, `stopping`, `stopped`). */
export const stateChannel = diagnosticsChannel.channel('keel:lifecycle:state');
/** `keel:lifecycle:shutdown`: a shutdown ended, with its report; published just before the state becomes `stopped`. */
export const shutdownChannel = diagnosticsChannel.channel('keel:lifecycle:shutdown');

/** `keel:lifecycle:phase`: a step of the shutdown ended, published as it ends (so a scrape during the shutdown sees it). */
export const phaseChannel = diagnosticsChannel.channel('keel:lifecycle:phase');

/** Publishes the end of a shutdown step, when someone listens. */
export function publishPhase(lifecycle: Lifecycle, phase: TimelineStep, durationMs: number): void {
  if (phaseChannel.hasSubscribers) phaseChannel.publish({ lifecycle, phase, durationMs } satisfies PhaseMessage);
}

/** Publishes a state change (and, on `stopped`, the shutdown report first), when someone listens. */
export function publishState(lifecycle: Lifecycle, state: LifecycleState, previous: LifecycleState, payload: unknown): void {
  if (state === 'stopped' && shutdownChannel.hasSubscribers) shutdownChannel.publish({ lifecycle, report: payload as ShutdownReport } satisfies ShutdownMessage);
  if (stateChannel.hasSubscribers) stateChannel.publish({ lifecycle, state, previous } satisfies StateMessage);
}
