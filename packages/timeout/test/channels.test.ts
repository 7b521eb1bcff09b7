import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deferred, describeEachExpress, listen, closeServer } from '@keel/test-support';
import { abortChannel, getSignal, lateWriteChannel, timeout, type AbortMessage, type LateWriteMessage } from '@keel/timeout';

const quiet = { error() {}, warn() {}, info() {} };

describeEachExpress('timeout() diagnostics channels', ({ express }) => {
  const aborts: AbortMessage[] = [];
  const lateWrites: LateWriteMessage[] = [];
  const onAbort = (message: unknown): void => void aborts.push(message as AbortMessage);
  const onLateWrite = (message: unknown): void => void lateWrites.push(message as LateWriteMessage);
  beforeEach(() => {
    aborts.length = 0;
    lateWrites.length = 0;
    diagnosticsChannel.subscribe('keel:timeout:abort', onAbort);
    diagnosticsChannel.subscribe('keel:timeout:late-write', onLateWrite);
  });
  afterEach(() => {
    diagnosticsChannel.unsubscribe('keel:timeout:abort', onAbort);
    diagnosticsChannel.unsubscribe('keel:timeout:late-write', onLateWrite);
  });

  it('publishes a deadline abort and the late write after it, once each, with the request', async () => {
    const wrote = deferred<void>();
    const app = express();
    app.use(timeout({ duration: 30, logger: quiet }));
    app.get('/late', (req, res) => {
      getSignal()!.addEventListener('abort', () => setTimeout(() => {
        res.send('late');
        res.send('later');
        wrote.resolve();
      }, 5));
    });
    app.use((error: { status: number }, req: unknown, res: http.ServerResponse, _next: unknown) => {
      res.statusCode = error.status;
      res.end();
    });
    const { server, url } = await listen(app);
    try {
      const response = await fetch(`${url}/late`);
      expect(response.status).toBe(503);
      await wrote.promise;
      expect(aborts).toHaveLength(1);
      expect(aborts[0]).toMatchObject({ reason: 'deadline', error: expect.objectContaining({ code: 'ERR_KEEL_DEADLINE_EXCEEDED' }) });
      expect(aborts[0]!.req.url).toBe('/late');
      expect(lateWrites).toHaveLength(1);
      expect(lateWrites[0]).toMatchObject({ reason: 'deadline', call: expect.any(String) });
      expect(lateWrites[0]!.lateByMs).toBeGreaterThanOrEqual(0);
    } finally {
      await closeServer(server);
    }
  });

  it('publishes a disconnect', async () => {
    const arrived = deferred<void>();
    const aborted = deferred<void>();
    const app = express();
    app.use(timeout({ duration: 10_000, logger: quiet }));
    app.get('/hang', () => {
      getSignal()!.addEventListener('abort', () => aborted.resolve());
      arrived.resolve();
    });
    const { server } = await listen(app);
    try {
      const client = http.get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/hang', agent: false });
      client.on('error', () => {});
      await arrived.promise;
      client.destroy();
      await aborted.promise;
      expect(aborts.map((message) => message.reason)).toEqual(['disconnect']);
    } finally {
      await closeServer(server);
    }
  });

  it('has no subscriber of its own: publishing costs nothing when no one listens', () => {
    diagnosticsChannel.unsubscribe('keel:timeout:abort', onAbort);
    diagnosticsChannel.unsubscribe('keel:timeout:late-write', onLateWrite);
    expect(abortChannel.hasSubscribers).toBe(false);
    expect(lateWriteChannel.hasSubscribers).toBe(false);
    diagnosticsChannel.subscribe('keel:timeout:abort', onAbort);
    diagnosticsChannel.subscribe('keel:timeout:late-write', onLateWrite);
  });
});
