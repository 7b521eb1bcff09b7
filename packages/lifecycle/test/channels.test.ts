import diagnosticsChannel from 'node:diagnostics_channel';
import { createLifecycle, phaseChannel, shutdownChannel, stateChannel, type PhaseMessage, type ShutdownMessage, type StateMessage } from '@keel/lifecycle';

const quiet = { error() {}, warn() {}, info() {} };

describe('lifecycle diagnostics channels', () => {
  it('publishes every state change, each shutdown step as it ends, and the report', async () => {
    const events: string[] = [];
    const states: StateMessage[] = [];
    const phases: PhaseMessage[] = [];
    const shutdowns: ShutdownMessage[] = [];
    const onState = (message: unknown): void => {
      states.push(message as StateMessage);
      events.push(`state:${(message as StateMessage).state}`);
    };
    const onPhase = (message: unknown): void => {
      phases.push(message as PhaseMessage);
      events.push(`phase:${(message as PhaseMessage).phase}`);
    };
    const onShutdown = (message: unknown): void => {
      shutdowns.push(message as ShutdownMessage);
      events.push('shutdown');
    };
    diagnosticsChannel.subscribe('keel:lifecycle:state', onState);
    diagnosticsChannel.subscribe('keel:lifecycle:phase', onPhase);
    diagnosticsChannel.subscribe('keel:lifecycle:shutdown', onShutdown);
    try {
      const lifecycle = createLifecycle({ signals: [], exit: false, shutdownTimeout: 2000, preStopDelay: 20, logger: quiet });
      lifecycle.onShutdown('work', () => new Promise((resolve) => setTimeout(resolve, 30)), { phase: 'drain' });
      lifecycle.markReady();
      const report = await lifecycle.shutdown('test');
      expect(events).toEqual([
        'state:ready',
        'state:draining',
        'phase:deregister',
        'phase:drain',
        'phase:beacons',
        'state:stopping',
        'phase:cleanup',
        'phase:flush',
        'shutdown',
        'state:stopped',
      ]);
      expect(states.every((message) => message.lifecycle === lifecycle)).toBe(true);
      expect(states[1]).toMatchObject({ state: 'draining', previous: 'ready' });
      expect(phases.find((message) => message.phase === 'deregister')!.durationMs).toBeGreaterThanOrEqual(15);
      expect(phases.find((message) => message.phase === 'drain')!.durationMs).toBe(report.phases.find((phase) => phase.phase === 'drain')!.durationMs);
      expect(shutdowns).toEqual([{ lifecycle, report }]);
    } finally {
      diagnosticsChannel.unsubscribe('keel:lifecycle:state', onState);
      diagnosticsChannel.unsubscribe('keel:lifecycle:phase', onPhase);
      diagnosticsChannel.unsubscribe('keel:lifecycle:shutdown', onShutdown);
    }
    expect([stateChannel, phaseChannel, shutdownChannel].some((channel) => channel.hasSubscribers)).toBe(false);
  });
});
