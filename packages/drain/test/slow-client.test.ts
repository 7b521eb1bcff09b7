import net from 'node:net';
import type http from 'node:http';
import { describeEachExpress } from '@keel/test-support';
import { drainOnShutdown } from '@keel/drain';
import { contextApp, forceClose, start, testLifecycle, until } from './helpers';

/**
 * A client that opens a connection and sends a request head one byte at a
 * time, never finishing it: no request is ever emitted, and the socket never
 * goes quiet long enough to count as idle.
 */
function trickleClient(port: number, everyMs: number): { socket: net.Socket; connected: Promise<void>; sent: () => number; stop: () => void } {
  const head = `GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(10_000)}`;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  const connected = new Promise<void>((resolve) => {
    socket.once('connect', () => {
      timer = setInterval(() => {
        if (socket.destroyed || index >= head.length) return;
        socket.write(head[index++]!);
      }, everyMs);
      resolve();
    });
  });
  return {
    socket,
    connected,
    sent: () => index,
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

describeEachExpress('drainOnShutdown() with a client that never completes its request', ({ express }) => {
  const servers: http.Server[] = [];
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
    for (const server of servers.splice(0)) forceClose(server);
  });

  it('closes it after slowClientGrace, far before the abort, and reports it with its address: clean is false', async () => {
    // The drain would abort at about 2.6 s; idleGrace is long so a delayed byte on a loaded machine never makes the client look idle.
    const { lifecycle, logger } = testLifecycle({ shutdownTimeout: 3000, preStopDelay: 0 });
    const { server, port } = await start(contextApp(express, (app) => app.get('/fast', (_req, res) => res.send('fast'))));
    servers.push(server);
    const handle = drainOnShutdown(server, { lifecycle, idleGrace: 1000, slowClientGrace: 200 });

    // One header byte every 40 ms: the socket is never silent for the idle grace, and never sends a whole request.
    const client = trickleClient(port, 40);
    stops.push(client.stop);
    await client.connected;
    const clientPort = client.socket.localPort;
    await until(() => client.sent() >= 3);
    const closed = new Promise<void>((resolve) => client.socket.once('close', () => resolve()));

    const startedAt = Date.now();
    const shutdown = lifecycle.shutdown('test');
    const report = await handle.drained;
    await closed;

    expect(report.clean).toBe(false);
    expect(report.abortedRequests).toBe(0);
    expect(report.slowClientCount).toBe(1);
    expect(report.slowClients).toEqual([
      {
        remoteAddress: '127.0.0.1',
        remotePort: clientPort,
        reason: 'request incomplete after slowClientGrace',
        bytesReceived: expect.any(Number),
        heldMs: expect.any(Number),
      },
    ]);
    expect(report.slowClients[0]!.bytesReceived).toBeGreaterThanOrEqual(3);
    expect(report.sockets).toMatchObject({ slowClient: 1, forced: 0 });
    // Bounded by slowClientGrace, not held to the abort (about 2.6 s after the start).
    expect(Date.now() - startedAt).toBeLessThan(2000);
    const outcome = await shutdown;
    expect(outcome.exitCode).toBe(1);
    const complete = logger.lines.find((line) => line.message === 'drain: complete');
    expect(complete).toMatchObject({ level: 'error', clean: false, slowClientCount: 1 });
    expect(JSON.stringify(complete)).toContain('127.0.0.1');
  });

  it('fails the drain hook with a DrainIncompleteError that names the slow connections', async () => {
    const { lifecycle, logger } = testLifecycle({ shutdownTimeout: 3000, preStopDelay: 0 });
    const { server, port } = await start(contextApp(express, (app) => app.get('/fast', (_req, res) => res.send('fast'))));
    servers.push(server);
    const handle = drainOnShutdown(server, { lifecycle, idleGrace: 1000, slowClientGrace: 200 });
    const client = trickleClient(port, 40);
    stops.push(client.stop);
    await client.connected;
    await until(() => client.sent() >= 3);

    const shutdown = lifecycle.shutdown('test');
    await handle.drained;
    await shutdown;
    const failure = JSON.stringify(logger.lines.filter((line) => line.level === 'error'));
    expect(failure).toMatch(/1 connection\(s\) closed while a request was still arriving/);
  });
});
