import http from 'node:http';
import request from 'supertest';
import { createLifecycle, isInvalidOptionError, probes, PROBES_DEFAULTS, type ProbesOptions } from '@keel/lifecycle';
import { closeServer, deferred, describeEachExpress, listen } from '@keel/test-support';
import { memoryLogger } from './logs';

// Real processes and sockets on a shared, loaded machine: generous limits, never tight ones.
jest.setTimeout(30_000);

const newLifecycle = () => createLifecycle({ signals: [], preStopDelay: 0, shutdownTimeout: 1000, logger: memoryLogger() });

describeEachExpress('probes()', ({ express }) => {
  // Verbose and uncached, so each test sees the whole body of a fresh run; the defaults have their own tests.
  function appWith(options: Partial<ProbesOptions>) {
    const app = express();
    app.use(probes({ verbose: true, checkCacheTtl: 0, ...options }));
    app.get('/work', (_req, res) => {
      res.json({ done: true });
    });
    app.use((_req, res) => {
      res.status(404).json({ route: 'app 404' });
    });
    return app;
  }

  it('answers JSON with Cache-Control no-store on the default paths', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    const app = appWith({ lifecycle });
    for (const path of ['/livez', '/readyz', '/startupz']) {
      const response = await request(app).get(path).expect(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.body).toEqual({ status: 'ok', state: 'ready' });
    }
  });

  it('fails /readyz and /startupz while starting, with the reason, and keeps /livez 200', async () => {
    const lifecycle = newLifecycle();
    const app = appWith({ lifecycle });
    expect((await request(app).get('/readyz').expect(503)).body).toEqual({ status: 'unavailable', state: 'starting', reason: 'starting: markReady() not called yet' });
    expect((await request(app).get('/startupz').expect(503)).body).toMatchObject({ status: 'unavailable', state: 'starting' });
    await request(app).get('/livez').expect(200);
    const release = lifecycle.holdReadiness('db');
    lifecycle.markReady();
    expect((await request(app).get('/readyz').expect(503)).body).toEqual({ status: 'unavailable', state: 'starting', reason: 'waiting for: db', holds: ['db'] });
    release();
    await request(app).get('/readyz').expect(200);
    await request(app).get('/startupz').expect(200);
  });

  it('fails /readyz again while a hold taken after ready is open', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    const app = appWith({ lifecycle });
    const release = lifecycle.holdReadiness('broker-reconnect');
    expect((await request(app).get('/readyz').expect(503)).body).toMatchObject({ state: 'ready', reason: 'waiting for: broker-reconnect' });
    await request(app).get('/startupz').expect(200);
    release();
    await request(app).get('/readyz').expect(200);
  });

  it('fails /readyz from the moment shutdown starts while /livez and /startupz stay 200', async () => {
    const lifecycle = createLifecycle({ signals: [], preStopDelay: 50, shutdownTimeout: 2000, logger: memoryLogger() });
    lifecycle.markReady();
    const app = appWith({ lifecycle });
    const drainPhase = deferred();
    lifecycle.onShutdown('holds-draining', () => drainPhase.promise, { phase: 'drain' });
    const done = lifecycle.shutdown('SIGTERM');
    expect((await request(app).get('/readyz').expect(503)).body).toEqual({ status: 'unavailable', state: 'draining', reason: 'shutting down' });
    expect((await request(app).get('/livez').expect(200)).body).toEqual({ status: 'ok', state: 'draining' });
    await request(app).get('/startupz').expect(200);
    await request(app).get('/work').expect(200, { done: true });
    drainPhase.resolve();
    await done;
    expect((await request(app).get('/readyz').expect(503)).body.state).toBe('stopped');
  });

  it('answers HEAD with the status and no body', async () => {
    const lifecycle = newLifecycle();
    const app = appWith({ lifecycle });
    const response = await request(app).head('/readyz').expect(503);
    expect(response.text).toBeUndefined();
    expect(response.headers['cache-control']).toBe('no-store');
    await request(app).head('/livez').expect(200);
  });

  it('passes other methods and paths on to the app', async () => {
    const app = appWith({ lifecycle: newLifecycle() });
    await request(app).post('/livez').expect(404, { route: 'app 404' });
    await request(app).get('/livez/extra').expect(404, { route: 'app 404' });
    await request(app).get('/work').expect(200, { done: true });
  });

  it('ignores the query string and a trailing slash', async () => {
    const app = appWith({ lifecycle: newLifecycle() });
    await request(app).get('/livez?verbose=1').expect(200);
    await request(app).get('/livez/').expect(200);
  });

  it('answers on configured paths, relative to where it is mounted, and turns a probe off with false', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    const app = express();
    app.use('/health', probes({ lifecycle, paths: { live: '/alive', startup: false } }));
    app.use((_req, res) => {
      res.status(404).end();
    });
    await request(app).get('/health/alive').expect(200);
    await request(app).get('/health/readyz').expect(200);
    await request(app).get('/health/startupz').expect(404);
    await request(app).get('/health/livez').expect(404);
    await request(app).get('/alive').expect(404);
  });

  it('answers a probe on the mount path itself, with a query string, and passes on what only shares its first letter', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    const app = express();
    app.use('/health', probes({ lifecycle, paths: { live: '/', ready: '/ready', startup: false } }));
    app.use((_req, res) => {
      res.status(404).end();
    });
    await request(app).get('/health').expect(200);
    await request(app).get('/health?x=1').expect(200);
    await request(app).get('/health/ready?x=1').expect(200);
    await request(app).get('/health/readiness').expect(404);
    await request(app).get('/health/other').expect(404);
  });

  it('serves a separate admin app on its own port', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    const admin = express();
    admin.use(probes({ lifecycle }));
    const { server, url } = await listen(admin);
    try {
      await request(url).get('/readyz').expect(200);
    } finally {
      await closeServer(server);
    }
  });

  it('runs named checks with their own timeouts; a failing ready check fails /readyz, not /livez', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    let dbUp = true;
    let aborted: unknown;
    const app = appWith({
      lifecycle,
      checks: {
        db: async () => {
          if (!dbUp) throw new Error('connect ECONNREFUSED 10.0.0.5:5432');
        },
        cache: { check: () => true, affects: 'ready' },
        slow: {
          check: (signal) =>
            new Promise((resolve) => {
              signal.addEventListener('abort', () => {
                aborted = signal.reason;
              });
              setTimeout(resolve, dbUp ? 0 : 1000).unref();
            }),
          timeout: 50,
        },
        flag: () => dbUp,
        'event-loop': { check: () => true, affects: 'live' },
      },
    });
    expect((await request(app).get('/readyz').expect(200)).body).toEqual({
      status: 'ok',
      state: 'ready',
      checks: {
        db: { status: 'ok', durationMs: expect.any(Number) },
        cache: { status: 'ok', durationMs: expect.any(Number) },
        slow: { status: 'ok', durationMs: expect.any(Number) },
        flag: { status: 'ok', durationMs: expect.any(Number) },
      },
    });
    dbUp = false;
    const failing = await request(app).get('/readyz').expect(503);
    expect(failing.body).toMatchObject({
      status: 'unavailable',
      reason: 'check failed: db, slow, flag',
      checks: { db: { status: 'failed' }, cache: { status: 'ok' }, slow: { status: 'timeout' }, flag: { status: 'failed' } },
    });
    expect(failing.body.checks.db.error).toBe('connect ECONNREFUSED 10.0.0.5:5432');
    expect(aborted).toBeInstanceOf(Error);
    expect((await request(app).get('/livez').expect(200)).body).toEqual({ status: 'ok', state: 'ready', checks: { 'event-loop': { status: 'ok', durationMs: expect.any(Number) } } });
  });

  it('fails /livez on a failing live check, and shows errors when verbose', async () => {
    const lifecycle = newLifecycle();
    const app = appWith({ lifecycle, verbose: true, checks: { heap: { check: () => Promise.reject(new Error('heap over 95%')), affects: 'live' } } });
    expect((await request(app).get('/livez').expect(503)).body).toEqual({
      status: 'unavailable',
      state: 'starting',
      reason: 'check failed: heap',
      checks: { heap: { status: 'failed', durationMs: expect.any(Number), error: 'heap over 95%' } },
    });
  });

  it('skips the checks once shutdown has started', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    let runs = 0;
    const app = appWith({ lifecycle, checks: { db: () => (runs += 1) } });
    await request(app).get('/readyz').expect(200);
    const drainPhase = deferred();
    lifecycle.onShutdown('holds-draining', () => drainPhase.promise, { phase: 'drain' });
    const done = lifecycle.shutdown();
    expect((await request(app).get('/readyz').expect(503)).body).toEqual({ status: 'unavailable', state: 'draining', reason: 'shutting down' });
    expect(runs).toBe(1);
    drainPhase.resolve();
    await done;
  });

  it('shares one run of a check between concurrent probe requests', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    let runs = 0;
    // The check ends once all five probes have reached the server, however far apart they arrive.
    const allArrived = deferred();
    const app = appWith({
      lifecycle,
      checks: {
        db: () => {
          runs += 1;
          return allArrived.promise;
        },
      },
    });
    const { server, url } = await listen(app);
    let arrived = 0;
    server.on('request', () => {
      if (++arrived === 5) allArrived.resolve();
    });
    try {
      await Promise.all(Array.from({ length: 5 }, () => request(url).get('/readyz').expect(200)));
      expect(runs).toBe(1);
    } finally {
      await closeServer(server);
    }
  });

  it('answers only the status by default: no state, hold, check name or error message for whoever reaches it', async () => {
    const lifecycle = newLifecycle();
    const releaseHold = lifecycle.holdReadiness('db-migrations');
    const app = express();
    app.use(probes({ lifecycle, checks: { 'orders-db': () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.5:5432')), 'heap-check': { check: () => true, affects: 'live' } } }));
    const starting = await request(app).get('/readyz').expect(503);
    expect(starting.body).toEqual({ status: 'unavailable' });
    expect((await request(app).get('/startupz').expect(503)).body).toEqual({ status: 'unavailable' });
    releaseHold();
    lifecycle.markReady();
    const failing = await request(app).get('/readyz').expect(503);
    expect(failing.body).toEqual({ status: 'unavailable' });
    const live = await request(app).get('/livez').expect(200);
    expect(live.body).toEqual({ status: 'ok' });
    for (const text of [starting.text, failing.text, live.text]) {
      for (const secret of ['db-migrations', 'starting', 'ready', 'orders-db', 'heap-check', 'ECONNREFUSED', '10.0.0.5']) expect(text).not.toContain(secret);
    }
  });

  it('keeps one call of a check that never settles in flight, failing every probe after its timeout until it settles', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    // A database that stopped answering: the check's promise stays pending until it recovers.
    const recovered = deferred<void>();
    let calls = 0;
    const app = appWith({
      lifecycle,
      checks: {
        db: {
          check: () => {
            calls += 1;
            return recovered.promise;
          },
          timeout: 30,
        },
      },
    });
    for (let probe = 0; probe < 6; probe++) {
      const stuck = await request(app).get('/readyz').expect(503);
      expect(stuck.body).toMatchObject({ status: 'unavailable', checks: { db: { status: 'timeout' } } });
    }
    expect(calls).toBe(1);
    recovered.resolve();
    await recovered.promise;
    // The call settled: the next probe calls the check afresh.
    const healthy = await request(app).get('/readyz').expect(200);
    expect(healthy.body).toMatchObject({ status: 'ok', checks: { db: { status: 'ok' } } });
    expect(calls).toBe(2);
  });

  it('reuses a settled result for checkCacheTtl', async () => {
    const lifecycle = newLifecycle();
    lifecycle.markReady();
    let calls = 0;
    const app = appWith({ lifecycle, checkCacheTtl: '1m', checks: { db: () => (calls += 1) } });
    for (let probe = 0; probe < 5; probe++) await request(app).get('/readyz').expect(200);
    expect(calls).toBe(1);
    const uncached = appWith({ lifecycle, checkCacheTtl: 0, checks: { db: () => (calls += 1) } });
    for (let probe = 0; probe < 3; probe++) await request(uncached).get('/readyz').expect(200);
    expect(calls).toBe(4);
  });

  const ok = (): boolean => true;
  it.each<[unknown, string]>([
    [{ paths: { ready: 'readyz' } }, 'paths.ready'],
    [{ paths: { healthz: '/healthz' } }, 'paths.healthz'],
    [{ paths: { live: '/same', ready: '/same' } }, 'paths'],
    [{ checks: { db: 'select 1' } }, 'checks.db'],
    [{ checks: { db: { check: ok, timeout: 0 } } }, 'checks.db.timeout'],
    [{ checks: { db: { check: ok, affects: 'startup' } } }, 'checks.db.affects'],
    [{ checks: { db: { check: ok, retries: 3 } } }, 'checks.db.retries'],
    [{ checks: { db: {} } }, 'checks.db.check'],
    [{ verbose: 'yes' }, 'verbose'],
    [{ checkCacheTtl: -1 }, 'checkCacheTtl'],
    [{ checkTimeout: -5 }, 'checkTimeout'],
    [{ lifecycle: {} }, 'lifecycle'],
    [{ path: '/health' }, 'path'],
  ])('throws at app.use() time for %p', (input, option) => {
    const app = express();
    let error: any;
    try {
      app.use(probes(input as never));
    } catch (caught) {
      error = caught;
    }
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^@keel\/lifecycle: option "/);
  });
});

describe('probes() without Express', () => {
  it('works as a plain http handler, answering 404 to other paths', async () => {
    const lifecycle = newLifecycle();
    const handler = probes({ lifecycle });
    const { server, url } = await listen((req, res) => handler(req, res));
    try {
      await request(url).get('/livez').expect(200);
      await request(url).get('/other').expect(404);
    } finally {
      await closeServer(server);
    }
  });

  it('documents its defaults in PROBES_DEFAULTS', () => {
    expect(PROBES_DEFAULTS).toStrictEqual({ lifecycle: undefined, paths: { live: '/livez', ready: '/readyz', startup: '/startupz' }, checks: {}, checkTimeout: 500, checkCacheTtl: 1000, verbose: false });
    expect(Object.isFrozen(PROBES_DEFAULTS.paths)).toBe(true);
    expect(typeof http.STATUS_CODES[503]).toBe('string');
  });
});
