import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLifecycle } from '@keel/lifecycle';
import { completeChannel, deregisterChannel, drainOnShutdown, type CompleteMessage, type DeregisterMessage } from '@keel/drain';
import { deferred } from '@keel/test-support';

const quiet = { error() {}, warn() {}, info() {} };

describe('drainOnShutdown() diagnostics channels', () => {
  it('publishes the deregistration with the requests in flight, and the drain report', async () => {
    const deregistered: DeregisterMessage[] = [];
    const completed: CompleteMessage[] = [];
    const onDeregister = (message: unknown): void => void deregistered.push(message as DeregisterMessage);
    const onComplete = (message: unknown): void => void completed.push(message as CompleteMessage);
    diagnosticsChannel.subscribe('keel:drain:deregister', onDeregister);
    diagnosticsChannel.subscribe('keel:drain:complete', onComplete);
    const arrived = deferred<void>();
    let release!: () => void;
    const server = http.createServer((req, res) => {
      release = () => res.end('done');
      arrived.resolve();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const lifecycle = createLifecycle({ signals: [], exit: false, shutdownTimeout: 3000, preStopDelay: 0, logger: quiet });
      const handle = drainOnShutdown(server, { lifecycle });
      const answer = new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, agent: false }, (res) => res.resume().on('end', () => resolve(res.statusCode!))).on('error', reject);
      });
      await arrived.promise;
      const shutdown = lifecycle.shutdown('test');
      await new Promise((resolve) => setImmediate(resolve));
      expect(deregistered).toEqual([{ server: handle.name, inFlight: 1, sockets: 1 }]);
      release();
      expect(await answer).toBe(200);
      await shutdown;
      const report = await handle.drained;
      expect(completed).toEqual([{ report }]);
      expect(report).toMatchObject({ clean: true, servedDuringDrain: 1 });
    } finally {
      diagnosticsChannel.unsubscribe('keel:drain:deregister', onDeregister);
      diagnosticsChannel.unsubscribe('keel:drain:complete', onComplete);
      server.closeAllConnections();
      server.close();
    }
    expect(deregisterChannel.hasSubscribers || completeChannel.hasSubscribers).toBe(false);
  });
});
