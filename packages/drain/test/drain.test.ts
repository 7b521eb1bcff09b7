import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { Pool } from 'undici';
import { getContext, isShuttingDownError, type RequestContext } from '@keel/lifecycle';
import { describeEachExpress } from '@keel/test-support';
import { drainOnShutdown, isDrainIncompleteError, registerLongLived, type DrainReport } from '@keel/drain';
import { contextApp, forceClose, get, requestsSeen, start, testLifecycle } from './helpers';

describeEachExpress('drainOnShutdown()', ({ express }) => {
  const servers: Array<http.Server> = [];
  const agents: http.Agent[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) forceClose(server);
    for (const agent of agents.splice(0)) agent.destroy();
  });

  function keepAliveAgent(secure = false): http.Agent {
    const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return agent;
  }

  async function startApp(routes: Parameters<typeof contextApp>[1], secure = false) {
    const { server, port } = await start(contextApp(express, routes), secure);
    servers.push(server);
    return { server, port };
  }

  const slowRoute = (app: ReturnType<typeof express>) => {
    app.get('/fast', (_req, res) => {
      res.send('fast');
    });
    app.get('/slow/:ms', (req, res) => {
      setTimeout(() => res.send(`slow ${req.params.ms}`), Number(req.params.ms));
    });
  };

  it('serves requests with Connection: close during the deregistration delay, then refuses new connections', async () => {
    const { lifecycle, logger } = testLifecycle({ preStopDelay: 300 });
    const { server, port } = await startApp(slowRoute);
    const handle = drainOnShutdown(server, { lifecycle });
    const agent = keepAliveAgent();
    expect((await get(port, '/fast', { agent })).headers?.connection).toBe('keep-alive');

    const shutdown = lifecycle.shutdown('test');
    expect(lifecycle.isReady).toBe(false);
    const during = await get(port, '/fast', { agent });
    expect(during).toMatchObject({ status: 200, body: 'fast', reusedSocket: true });
    expect(during.headers?.connection).toBe('close');
    const fresh = await get(port, '/fast');
    expect(fresh).toMatchObject({ status: 200 });
    expect(fresh.headers?.connection).toBe('close');

    const report = await handle.drained;
    expect(await get(port, '/fast')).toMatchObject({ error: 'ECONNREFUSED' });
    expect((await shutdown).exitCode).toBe(0);
    expect(report).toMatchObject({ clean: true, requestsDuringDrain: 2, servedDuringDrain: 2, abortedRequests: 0, cutRequests: 0 });
    expect(report.sockets.afterResponse).toBe(2);
    expect(logger.lines.filter((line) => line.message.startsWith('drain:')).map((line) => line.phase)).toEqual(['deregister', 'stop-accepting', 'complete']);
  });

  it('lets in-flight requests finish, a 1.2 s one included, and closes each socket after its response', async () => {
    const { lifecycle } = testLifecycle({ shutdownTimeout: 5000, preStopDelay: 50 });
    const { server, port } = await startApp(slowRoute);
    const handle = drainOnShutdown(server, { lifecycle });
    const seen = requestsSeen(server, 2);
    const long = get(port, '/slow/1200', { agent: keepAliveAgent() });
    const short = get(port, '/slow/300', { agent: keepAliveAgent() });
    await seen;
    const shutdown = lifecycle.shutdown('test');

    const [longAnswer, shortAnswer] = await Promise.all([long, short]);
    expect(longAnswer).toMatchObject({ status: 200, body: 'slow 1200' });
    expect(longAnswer.headers?.connection).toBe('close');
    expect(shortAnswer).toMatchObject({ status: 200, body: 'slow 300' });
    const report = await handle.drained;
    expect(report).toMatchObject({ clean: true, inFlightAtShutdown: 2, cutRequests: 0 });
    expect(report.sockets).toMatchObject({ afterResponse: 2, forced: 0 });
    expect((await shutdown).exitCode).toBe(0);
  });

  it('answers a pooled request sent on an idle keep-alive socket the moment the drain starts', async () => {
    const { lifecycle } = testLifecycle({ preStopDelay: 50 });
    const { server, port } = await startApp(slowRoute);
    const handle = drainOnShutdown(server, { lifecycle });
    const agent = keepAliveAgent();
    expect((await get(port, '/fast', { agent })).status).toBe(200);

    let raced: Promise<unknown> | undefined;
    // Registered after drainOnShutdown(), so it runs first in the drain phase: the
    // request is in the server's receive buffer, unread, when the drain begins.
    lifecycle.onShutdown('send-at-drain-start', () => new Promise<void>((written) => {
      raced = get(port, '/fast', { agent, onWritten: written });
    }), { phase: 'drain' });
    const shutdown = lifecycle.shutdown('test');

    await handle.drained;
    expect(await raced).toMatchObject({ status: 200, body: 'fast', reusedSocket: true });
    expect((await shutdown).exitCode).toBe(0);
  });

  it('answers an undici Pool request sent on its idle socket the moment the listener closes', async () => {
    const { lifecycle, logger } = testLifecycle({ preStopDelay: 50 });
    const { server, port } = await startApp(slowRoute);
    const handle = drainOnShutdown(server, { lifecycle });
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
    try {
      const first = await pool.request({ path: '/fast', method: 'GET' });
      expect(await first.body.text()).toBe('fast');
      let raced: Promise<{ status: number; body: string } | string> | undefined;
      const info = logger.info.bind(logger);
      logger.info = (message, fields) => {
        info(message, fields);
        // Synchronously inside the drain, right after the listener closed and idle sockets became closable.
        if (message === 'drain: listener closed') {
          raced = pool.request({ path: '/fast', method: 'GET' }).then(
            async ({ statusCode, body }) => ({ status: statusCode, body: await body.text() }),
            (error: { code?: string }) => String(error.code),
          );
        }
      };
      const shutdown = lifecycle.shutdown('test');
      await handle.drained;
      expect(await raced).toEqual({ status: 200, body: 'fast' });
      expect((await shutdown).exitCode).toBe(0);
    } finally {
      await pool.destroy();
    }
  });

  it('(the race above is real: a plain server.close() at that moment resets the request)', async () => {
    const { lifecycle } = testLifecycle({ preStopDelay: 50 });
    const { server, port } = await startApp(slowRoute);
    const agent = keepAliveAgent();
    expect((await get(port, '/fast', { agent })).status).toBe(200);
    lifecycle.onShutdown('close-server', () => {
      server.close();
    }, { phase: 'drain' });
    let raced: Promise<unknown> | undefined;
    lifecycle.onShutdown('send-at-drain-start', () => new Promise<void>((written) => {
      raced = get(port, '/fast', { agent, onWritten: written });
    }), { phase: 'drain' });
    await lifecycle.shutdown('test');
    expect(await raced).toMatchObject({ error: 'ECONNRESET', reusedSocket: true });
  });

  it('closes sockets idle since before the shutdown, and one that never sent a byte, without waiting for the deadline', async () => {
    const { lifecycle } = testLifecycle({ shutdownTimeout: 10_000, preStopDelay: 0 });
    const { server, port } = await startApp(slowRoute);
    const handle = drainOnShutdown(server, { lifecycle, idleGrace: 100 });
    const agent = keepAliveAgent();
    expect((await get(port, '/fast', { agent })).status).toBe(200);
    const silent = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => silent.once('connect', resolve));
    const silentClosed = new Promise((resolve) => silent.once('close', resolve));
    silent.on('error', () => {});

    const startedAt = Date.now();
    const shutdown = lifecycle.shutdown('test');
    const report = await handle.drained;
    await silentClosed;
    expect(report.sockets).toMatchObject({ idle: 1, neverSent: 1, forced: 0 });
    expect(report.clean).toBe(true);
    // The drain deadline is 6.8 s away; the silent sockets closed after their 100 ms grace.
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect((await shutdown).exitCode).toBe(0);
  });

  it('completes an in-flight HTTPS request, and closes an idle TLS connection and a raw one that never sent a byte', async () => {
    const { lifecycle } = testLifecycle({ preStopDelay: 50 });
    const { server, port } = await startApp(slowRoute, true);
    const handle = drainOnShutdown(server, { lifecycle, idleGrace: 100 });
    const idleAgent = keepAliveAgent(true);
    expect((await get(port, '/fast', { agent: idleAgent, tls: true })).status).toBe(200);
    const silent = net.connect(port, '127.0.0.1');
    silent.on('error', () => {});
    await new Promise((resolve) => silent.once('connect', resolve));
    const handshaken = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    handshaken.on('error', () => {});
    await new Promise((resolve) => handshaken.once('secureConnect', resolve));

    const seen = requestsSeen(server, 1);
    const inFlight = get(port, '/slow/600', { agent: keepAliveAgent(true), tls: true });
    await seen;
    const shutdown = lifecycle.shutdown('test');
    const answer = await inFlight;
    expect(answer).toMatchObject({ status: 200, body: 'slow 600' });
    expect(answer.headers?.connection).toBe('close');
    const report = await handle.drained;
    expect(report).toMatchObject({ clean: true, inFlightAtShutdown: 1, cutRequests: 0 });
    expect(report.sockets).toMatchObject({ afterResponse: 1, idle: 1, neverSent: 2, forced: 0 });
    expect((await shutdown).exitCode).toBe(0);
  });

  it('drains several servers together under one lifecycle hook and one budget', async () => {
    const { lifecycle, logger } = testLifecycle({ preStopDelay: 50 });
    const app = await startApp(slowRoute);
    const admin = await startApp(slowRoute);
    const appHandle = drainOnShutdown(app.server, { lifecycle, name: 'app' });
    const adminHandle = drainOnShutdown(admin.server, { lifecycle, name: 'admin' });
    const seen = Promise.all([requestsSeen(app.server, 1), requestsSeen(admin.server, 1)]);
    const answers = Promise.all([get(app.port, '/slow/400'), get(admin.port, '/slow/400')]);
    await seen;
    const shutdown = lifecycle.shutdown('test');

    expect((await answers).map((answer) => answer.status)).toEqual([200, 200]);
    const reports = await Promise.all([appHandle.drained, adminHandle.drained]);
    expect(reports.map((report: DrainReport) => [report.server, report.clean])).toEqual([['app', true], ['admin', true]]);
    const shutdownReport = await shutdown;
    expect(shutdownReport.phases.find((phase) => phase.phase === 'drain')?.hooks.map((hook) => hook.name)).toEqual(['drain-servers']);
    // Concurrent: both listeners closed before either drain completed.
    const order = logger.lines.filter((line) => ['stop-accepting', 'complete'].includes(line.phase as string)).map((line) => `${String(line.phase)}:${String(line.server)}`);
    expect(order.slice(0, 2).sort()).toEqual(['stop-accepting:admin', 'stop-accepting:app']);
  });

  it('tells registered long-lived responses to finish when the drain starts', async () => {
    const { lifecycle } = testLifecycle({ shutdownTimeout: 10_000, preStopDelay: 50 });
    const { server, port } = await startApp((app) => {
      app.get('/events', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: hello\n\n');
        const tick = setInterval(() => res.write('data: tick\n\n'), 50);
        res.on('close', () => clearInterval(tick));
        registerLongLived(res, (reason) => {
          res.end(`event: bye\ndata: ${reason.code}\n\n`);
        });
      });
    });
    const handle = drainOnShutdown(server, { lifecycle });
    const seen = requestsSeen(server, 1);
    const stream = get(port, '/events');
    await seen;
    const startedAt = Date.now();
    const shutdown = lifecycle.shutdown('test');
    const answer = await stream;
    expect(answer.body).toContain('event: bye\ndata: ERR_KEEL_SHUTTING_DOWN');
    const report = await handle.drained;
    expect(report).toMatchObject({ clean: true, longLivedNotified: 1 });
    // Ended at the drain's start, not cut at its deadline 6.8 s later.
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect((await shutdown).exitCode).toBe(0);
  });

  it('calls onDrain at once for a long-lived response registered after the drain started', async () => {
    const { lifecycle } = testLifecycle({ shutdownTimeout: 10_000, preStopDelay: 0 });
    let drainStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      drainStarted = resolve;
    });
    const { server, port } = await startApp((app) => {
      app.get('/fast', (_req, res) => {
        res.send('fast');
      });
      app.get('/events', (_req, res) => {
        res.writeHead(200);
        res.write('open\n');
        registerLongLived(res, () => res.end('bye\n'));
      });
    });
    const handle = drainOnShutdown(server, { lifecycle });
    const agent = keepAliveAgent();
    expect((await get(port, '/fast', { agent })).status).toBe(200);
    lifecycle.on('draining', () => setTimeout(drainStarted, 100));
    const shutdown = lifecycle.shutdown('test');
    await started;
    // The kept-alive socket is still open during the drain (idle for less than idleGrace).
    expect(await get(port, '/events', { agent })).toMatchObject({ status: 200, body: 'open\nbye\n' });
    expect((await handle.drained).clean).toBe(true);
    expect((await shutdown).exitCode).toBe(0);
  });

  it('aborts a request still running at the drain deadline through its context signal, then cuts it, and fails the shutdown', async () => {
    const { lifecycle, logger } = testLifecycle({ shutdownTimeout: 1500, preStopDelay: 0 });
    let context: RequestContext | undefined;
    let abortedAt: number | undefined;
    const { server, port } = await startApp((app) => {
      app.get('/hang', (_req, _res) => {
        context = getContext();
        context?.signal.addEventListener('abort', () => {
          abortedAt = Date.now();
        });
      });
    });
    const handle = drainOnShutdown(server, { lifecycle });
    const seen = requestsSeen(server, 1);
    const hung = get(port, '/hang');
    await seen;
    const shutdown = lifecycle.shutdown('test');
    const answer = await hung;
    const cutAt = Date.now();
    expect(answer.error).toMatch(/ECONNRESET|socket hang up/);
    expect(isShuttingDownError(context?.signal.reason)).toBe(true);
    expect(abortedAt).toBeLessThanOrEqual(cutAt);
    const report = await handle.drained;
    expect(report).toMatchObject({ clean: false, abortedRequests: 1, cutRequests: 1, sockets: expect.objectContaining({ forced: 1 }) });
    const shutdownReport = await shutdown;
    expect(shutdownReport.exitCode).toBe(1);
    const hook = shutdownReport.phases.find((phase) => phase.phase === 'drain')?.hooks[0];
    expect(hook?.outcome).toBe('failed');
    expect(isDrainIncompleteError(hook?.error)).toBe(true);
    expect(hook?.error).toMatchObject({ servers: [report.server], abortedRequests: 1, destroyedSockets: 1 });
    expect(shutdownReport.durationMs).toBeLessThan(1500 + 500);
    expect(logger.lines.filter((line) => line.message.startsWith('drain:')).map((line) => line.phase)).toEqual(['deregister', 'stop-accepting', 'abort', 'complete']);
  });

  it('does not fail with ERR_SERVER_NOT_RUNNING when the app closed the server itself', async () => {
    const { lifecycle } = testLifecycle({ shutdownTimeout: 1500, preStopDelay: 0 });
    const { server, port } = await startApp((app) => {
      app.get('/hang', () => {});
    });
    const handle = drainOnShutdown(server, { lifecycle });
    const seen = requestsSeen(server, 1);
    const hung = get(port, '/hang');
    await seen;
    server.close();
    const shutdownReport = await lifecycle.shutdown('test');
    await hung;
    const hook = shutdownReport.phases.find((phase) => phase.phase === 'drain')?.hooks[0];
    // Cut at the deadline (the request hung), never the ERR_SERVER_NOT_RUNNING of http-terminator's own close().
    expect((hook?.error as { code?: string } | undefined)?.code).toBe('ERR_KEEL_DRAIN_INCOMPLETE');
    expect((await handle.drained).cutRequests).toBe(1);
  });

  it('drains cleanly a server the app already closed', async () => {
    const { lifecycle } = testLifecycle();
    const { server } = await startApp(slowRoute);
    const handle = drainOnShutdown(server, { lifecycle });
    await new Promise((resolve) => server.close(resolve));
    const shutdownReport = await lifecycle.shutdown('test');
    expect(shutdownReport.exitCode).toBe(0);
    expect((await handle.drained).clean).toBe(true);
  });

  it('answers pipelined requests queued behind the one in flight', async () => {
    const { lifecycle } = testLifecycle({ preStopDelay: 0 });
    const { server, port } = await startApp(slowRoute);
    const handle = drainOnShutdown(server, { lifecycle });
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    const seen = requestsSeen(server, 1);
    socket.write('GET /slow/300 HTTP/1.1\r\nHost: x\r\n\r\nGET /slow/200 HTTP/1.1\r\nHost: x\r\n\r\n');
    await seen;
    const shutdown = lifecycle.shutdown('test');
    await closed;
    expect(received).toContain('slow 300');
    expect(received).toContain('slow 200');
    expect(received.match(/Connection: close/gi)).toHaveLength(1);
    expect((await handle.drained).clean).toBe(true);
    expect((await shutdown).exitCode).toBe(0);
  });
});

describe('drainOnShutdown() readiness', () => {
  it('marks the lifecycle ready once the server listens, and not before', async () => {
    const { lifecycle } = testLifecycle();
    const server = http.createServer((_req, res) => res.end());
    const handle = drainOnShutdown(server, { lifecycle });
    expect(lifecycle.state).toBe('starting');
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(lifecycle.state).toBe('ready');
    handle.unregister();
    server.close();
  });

  it('waits for every registered server before marking ready', async () => {
    const { lifecycle } = testLifecycle();
    const first = http.createServer((_req, res) => res.end());
    const second = http.createServer((_req, res) => res.end());
    const handles = [drainOnShutdown(first, { lifecycle }), drainOnShutdown(second, { lifecycle })];
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
    expect(lifecycle.state).toBe('starting');
    await new Promise<void>((resolve) => second.listen(0, '127.0.0.1', resolve));
    expect(lifecycle.state).toBe('ready');
    for (const handle of handles) handle.unregister();
    first.close();
    second.close();
  });

  it('leaves readiness to the app with markReady: false', async () => {
    const { lifecycle } = testLifecycle();
    const server = http.createServer((_req, res) => res.end());
    const handle = drainOnShutdown(server, { lifecycle, markReady: false });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(lifecycle.state).toBe('starting');
    handle.unregister();
    server.close();
  });

  it('no longer drains a server after unregister()', async () => {
    const { lifecycle } = testLifecycle();
    const server = http.createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    drainOnShutdown(server, { lifecycle }).unregister();
    const report = await lifecycle.shutdown('test');
    expect(report.phases.find((phase) => phase.phase === 'drain')?.hooks).toEqual([]);
    expect(server.listening).toBe(true);
    server.close();
  });
});
