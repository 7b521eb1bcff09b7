import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainOnShutdown } from '@keel/drain';
import { errorHandler, notFound } from '@keel/error-handler';
import { getSignal, timeout } from '@keel/timeout';
import { metrics, KEEL_CHANNELS } from '@keel/metrics';
import { deferred, describeEachExpress } from '@keel/test-support';
import request from 'supertest';
import { freshRegistry, serve, silentLogger, testLifecycle, valueOf, type Served } from './helpers';

/** Waits until `check` passes on a scrape, polling briefly (events land on the server's next ticks). */
async function eventually(served: Served, check: (samples: Awaited<ReturnType<Served['scrape']>>) => boolean): Promise<Awaited<ReturnType<Served['scrape']>>> {
  let samples = await served.scrape();
  for (let tries = 0; tries < 200 && !check(samples); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    samples = await served.scrape();
  }
  return samples;
}

describeEachExpress('metrics() with the keel packages', ({ express }) => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(build: (app: ReturnType<typeof express>) => void, options: { lifecycle?: ReturnType<typeof testLifecycle> } = {}): Promise<Served> {
    const registry = freshRegistry();
    const middleware = metrics({ registry, ...(options.lifecycle !== undefined ? { lifecycle: options.lifecycle } : {}) });
    cleanups.push(() => middleware.dispose());
    const app = express();
    app.use(middleware);
    build(app);
    // The metrics server outlives the lifecycle here, to be scraped after the shutdown.
    const served = await serve(app, registry);
    cleanups.push(() => served.close());
    return served;
  }

  it('counts deadlines, disconnects, late writes and the errors answered', async () => {
    const lateWrite = deferred<void>();
    const arrived = deferred<void>();
    const served = await start((app) => {
      app.use(timeout({ duration: 40, logger: silentLogger }));
      app.get('/late', (req, res) => {
        getSignal()!.addEventListener('abort', () => setTimeout(() => {
          res.send('too late');
          lateWrite.resolve();
        }, 5));
      });
      app.get('/hang', () => arrived.resolve());
      app.get('/conflict', () => {
        throw Object.assign(new Error('taken'), { status: 409, code: 'NAME_TAKEN', expose: true });
      });
      app.use(notFound({ logger: silentLogger }));
      app.use(errorHandler({ logger: silentLogger }));
    });
    await request(served.url).get('/late').expect(503);
    await lateWrite.promise;
    await request(served.url).get('/conflict').expect(409);
    await request(served.url).get('/nowhere').expect(404);
    const { port } = served.server.address() as AddressInfo;
    const client = http.get({ host: '127.0.0.1', port, path: '/hang', agent: false });
    client.on('error', () => {});
    await arrived.promise;
    client.destroy();

    const samples = await eventually(served, (s) => valueOf(s, 'keel_timeout_aborts_total', { reason: 'disconnect' }) === 1);
    expect(valueOf(samples, 'keel_timeout_aborts_total', { reason: 'deadline' })).toBe(1);
    expect(valueOf(samples, 'keel_timeout_aborts_total', { reason: 'disconnect' })).toBe(1);
    expect(valueOf(samples, 'keel_timeout_aborts_total', { reason: 'shutdown' })).toBe(0);
    expect(valueOf(samples, 'keel_timeout_late_writes_total', { reason: 'deadline' })).toBe(1);
    expect(valueOf(samples, 'keel_errors_answered_total', { status_code: '503', code: 'ERR_KEEL_DEADLINE_EXCEEDED' })).toBe(1);
    expect(valueOf(samples, 'keel_errors_answered_total', { status_code: '409', code: 'NAME_TAKEN' })).toBe(1);
    expect(valueOf(samples, 'keel_errors_answered_total', { status_code: '404', code: 'ERR_KEEL_ROUTE_NOT_FOUND' })).toBe(1);
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '/late', status_code: '503' })).toBe(1);
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '/hang', status_code: '499' })).toBe(1);
  });

  it('labels a hostile error code "other" and caps distinct codes', async () => {
    const served = await start((app) => {
      app.get('/code/:n', (req) => {
        throw Object.assign(new Error('x'), { status: 400, code: req.params.n === 'evil' ? 'drop table; "x"' : `CODE_${req.params.n}`, expose: true });
      });
      app.use(errorHandler({ logger: silentLogger }));
    });
    await request(served.url).get('/code/evil').expect(400);
    for (let index = 0; index < 105; index++) await request(served.url).get(`/code/${index}`).expect(400);
    const samples = await served.scrape();
    const codes = new Set(samples.filter((s) => s.name === 'keel_errors_answered_total').map((s) => s.labels.code));
    expect(codes.size).toBe(101);
    expect(valueOf(samples, 'keel_errors_answered_total', { code: 'other' })).toBe(1 + 5);
  });

  it('records a shutdown: timeout aborts, lifecycle state and phase durations', async () => {
    const lifecycle = testLifecycle({ shutdownTimeout: 2000 });
    const arrived = deferred<void>();
    const served = await start(
      (app) => {
        app.use(timeout({ duration: 5000, lifecycle, abortOnShutdown: 'immediate', logger: silentLogger }));
        app.get('/work', () => arrived.resolve());
        app.use(errorHandler({ logger: silentLogger, lifecycle }));
      },
      { lifecycle },
    );
    lifecycle.markReady();
    let samples = await served.scrape();
    expect(valueOf(samples, 'keel_lifecycle_state', { state: 'ready' })).toBe(1);
    const answer = request(served.url).get('/work');
    const answered = answer.then((response) => response.status);
    await arrived.promise;
    const report = await lifecycle.shutdown('test');
    expect(await answered).toBe(503);
    samples = await served.scrape();
    expect(valueOf(samples, 'keel_timeout_aborts_total', { reason: 'shutdown' })).toBe(1);
    expect(valueOf(samples, 'keel_lifecycle_state', { state: 'stopped' })).toBe(1);
    expect(valueOf(samples, 'keel_lifecycle_state', { state: 'ready' })).toBe(0);
    expect(valueOf(samples, 'keel_shutdowns_total', { result: 'clean' })).toBe(1);
    expect(valueOf(samples, 'keel_shutdown_duration_seconds')).toBeCloseTo(report.durationMs / 1000, 3);
    for (const phase of ['deregister', 'drain', 'beacons', 'cleanup', 'flush']) {
      expect(samples.some((s) => s.name === 'keel_shutdown_phase_duration_seconds' && s.labels.phase === phase)).toBe(true);
    }
    const drainPhase = report.phases.find((phase) => phase.phase === 'drain')!;
    expect(valueOf(samples, 'keel_shutdown_phase_duration_seconds', { phase: 'drain' })).toBeCloseTo(drainPhase.durationMs / 1000, 3);
  });

  it('records a drain under load: requests served, sockets closed by cause, a clean result', async () => {
    const lifecycle = testLifecycle({ shutdownTimeout: 4000 });
    const held: Array<() => void> = [];
    const allArrived = deferred<void>();
    const LOAD = 30;
    const served = await start(
      (app) => {
        app.get('/held', (req, res) => {
          held.push(() => res.send('done'));
          if (held.length === LOAD) allArrived.resolve();
        });
      },
      { lifecycle },
    );
    drainOnShutdown(served.server, { lifecycle });
    lifecycle.markReady();
    const { port } = served.server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: LOAD });
    cleanups.push(() => agent.destroy());
    const statuses = Array.from({ length: LOAD }, () =>
      new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/held', agent }, (response) => response.resume().on('end', () => resolve(response.statusCode!))).on('error', reject);
      }),
    );
    await allArrived.promise;
    const shutdown = lifecycle.shutdown('test');
    let samples = await eventually(served, (s) => valueOf(s, 'keel_drain_in_flight_requests') === LOAD);
    expect(valueOf(samples, 'keel_drain_in_flight_requests')).toBe(LOAD);
    expect(valueOf(samples, 'keel_lifecycle_state', { state: 'draining' })).toBe(1);
    for (const release of held) release();
    expect(await Promise.all(statuses)).toEqual(Array(LOAD).fill(200));
    await shutdown;
    samples = await served.scrape();
    expect(valueOf(samples, 'keel_drain_requests_served_total')).toBe(LOAD);
    // Each socket closed once its response was out: none was forced.
    expect(valueOf(samples, 'keel_drain_sockets_closed_total')).toBe(LOAD);
    expect(valueOf(samples, 'keel_drain_sockets_closed_total', { cause: 'forced' })).toBe(0);
    expect(valueOf(samples, 'keel_drains_total', { result: 'clean' })).toBe(1);
    expect(valueOf(samples, 'keel_drain_requests_aborted_total')).toBe(0);
    expect(valueOf(samples, 'keel_drain_duration_seconds')).toBeGreaterThan(0);
  });

  it('records a drain that had to force a socket as unclean', async () => {
    const lifecycle = testLifecycle({ shutdownTimeout: 1000 });
    const arrived = deferred<void>();
    const served = await start(
      (app) => {
        // The request context, for the drain to abort the request through it.
        app.use(timeout({ duration: 60_000, abortOnShutdown: false, logger: silentLogger }));
        // Never answers, and ignores its signal.
        app.get('/stuck', () => arrived.resolve());
      },
      { lifecycle },
    );
    drainOnShutdown(served.server, { lifecycle, abortGrace: 50 });
    lifecycle.markReady();
    const { port } = served.server.address() as AddressInfo;
    const client = http.get({ host: '127.0.0.1', port, path: '/stuck', agent: false });
    client.on('error', () => {});
    await arrived.promise;
    const report = await lifecycle.shutdown('test');
    const samples = await served.scrape();
    expect(report.exitCode).toBe(1);
    expect(valueOf(samples, 'keel_drain_sockets_closed_total', { cause: 'forced' })).toBe(1);
    expect(valueOf(samples, 'keel_drain_requests_aborted_total')).toBe(1);
    expect(valueOf(samples, 'keel_drains_total', { result: 'unclean' })).toBe(1);
    expect(valueOf(samples, 'keel_shutdowns_total', { result: 'failed' })).toBe(1);
  });
});

describe('metrics() and the outbound and chaos channels', () => {
  it('counts attempts, retries, budget refusals, results and breaker states per origin', async () => {
    const registry = freshRegistry();
    const middleware = metrics({ registry, maxLabelValues: 3 });
    const publish = (name: string, message: unknown): void => diagnosticsChannel.channel(name).publish(message);
    try {
      const origin = 'http://db.internal:5432';
      publish(KEEL_CHANNELS.outboundAttempt, { origin, attempt: 1 });
      publish(KEEL_CHANNELS.outboundAttempt, { origin, attempt: 2 });
      publish(KEEL_CHANNELS.outboundRetry, { origin, attempt: 2, delayMs: 120 });
      publish(KEEL_CHANNELS.outboundBudgetRefused, { origin });
      // The shapes @keel/outbound publishes.
      publish(KEEL_CHANNELS.outboundResult, { origin, outcome: 'response', statusCode: 200, attempts: 1, durationMs: 12 });
      publish(KEEL_CHANNELS.outboundResult, { origin, outcome: 'response', statusCode: 503, attempts: 3, durationMs: 340 });
      publish(KEEL_CHANNELS.outboundResult, { origin, outcome: 'error', statusCode: undefined, errorCode: 'ECONNRESET', attempts: 3, durationMs: 8 });
      publish(KEEL_CHANNELS.outboundResult, { origin, outcome: 'circuit-open', statusCode: undefined, attempts: 0, durationMs: 0 });
      publish(KEEL_CHANNELS.outboundBreaker, { origin, state: 'open' });
      publish(KEEL_CHANNELS.outboundBreaker, { origin: 'http://cache:6379', state: 'half-open' });
      publish(KEEL_CHANNELS.outboundBreaker, { origin, state: 'bogus' });
      for (const other of ['http://a', 'http://b', 'http://c', 'http://d']) publish(KEEL_CHANNELS.outboundAttempt, { origin: other });
      publish(KEEL_CHANNELS.chaosInject, { fault: 'latency' });
      publish(KEEL_CHANNELS.outboundAttempt, null);

      const { parseScrape } = await import('./helpers');
      const samples = parseScrape(await registry.metrics());
      expect(valueOf(samples, 'keel_outbound_attempts_total', { origin })).toBe(2);
      expect(valueOf(samples, 'keel_outbound_retries_total', { origin })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_budget_refusals_total', { origin })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin, outcome: '2xx' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin, outcome: '5xx' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin, outcome: 'error' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_results_total', { origin, outcome: 'circuit-open' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_call_duration_seconds_count', { origin })).toBe(4);
      expect(valueOf(samples, 'keel_outbound_call_duration_seconds_sum', { origin })).toBeCloseTo(0.36, 6);
      expect(valueOf(samples, 'keel_outbound_breaker_state', { origin, state: 'open' })).toBe(1);
      expect(valueOf(samples, 'keel_outbound_breaker_state', { origin, state: 'closed' })).toBe(0);
      expect(valueOf(samples, 'keel_outbound_breaker_state', { origin: 'http://cache:6379', state: 'half-open' })).toBe(1);
      // Three origins are kept (db, cache, a); the rest share "other".
      expect(valueOf(samples, 'keel_outbound_attempts_total', { origin: 'other' })).toBe(4);
      expect(valueOf(samples, 'keel_chaos_injections_total', { fault: 'latency' })).toBe(1);

      middleware.dispose();
      publish(KEEL_CHANNELS.outboundAttempt, { origin });
      expect(valueOf(parseScrape(await registry.metrics()), 'keel_outbound_attempts_total', { origin })).toBe(2);
    } finally {
      middleware.dispose();
    }
  });

  it('publishes nothing, and costs nothing, when no one subscribes', () => {
    for (const name of Object.values(KEEL_CHANNELS)) expect(diagnosticsChannel.hasSubscribers(name)).toBe(false);
  });
});
