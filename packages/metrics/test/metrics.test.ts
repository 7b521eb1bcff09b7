import http from 'node:http';
import { describeEachExpress } from '@keel/test-support';
import { metrics, metricsEndpoint, resolveOptions } from '@keel/metrics';
import { Histogram, register as globalRegistry, Registry } from 'prom-client';
import request from 'supertest';
import { freshRegistry, get, labelValues, parseScrape, serve, valueOf, type Served } from './helpers';

describeEachExpress('metrics()', ({ express }) => {
  let served: Served | undefined;
  let dispose: (() => void) | undefined;
  afterEach(async () => {
    dispose?.();
    dispose = undefined;
    await served?.close();
    served = undefined;
  });

  async function start(registry: Registry, routes: (app: ReturnType<typeof express>) => void, options: Parameters<typeof metrics>[0] = {}): Promise<Served> {
    const app = express();
    const middleware = metrics({ registry, ...options });
    dispose = middleware.dispose;
    app.use(middleware);
    routes(app);
    served = await serve(app, registry);
    return served;
  }

  it('records a duration histogram by method, route pattern and status code', async () => {
    const registry = freshRegistry();
    const { url, scrape } = await start(registry, (app) => {
      app.get('/users/:id', (req, res) => res.json({ id: req.params.id }));
      app.post('/users', (req, res) => res.status(201).end());
      const router = express.Router();
      router.get('/items/:item', (req, res) => res.send('item'));
      router.get('/', (req, res) => res.send('root'));
      app.use('/shop', router);
    });
    await request(url).get('/users/1').expect(200);
    await request(url).get('/users/2').expect(200);
    await request(url).post('/users').expect(201);
    await request(url).get('/shop/items/42').expect(200);
    await request(url).get('/shop').expect(200);
    const samples = await scrape();
    expect(valueOf(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/users/:id', status_code: '200' })).toBe(2);
    expect(valueOf(samples, 'http_request_duration_seconds_count', { method: 'POST', route: '/users', status_code: '201' })).toBe(1);
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '/shop/items/:item' })).toBe(1);
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '/shop' })).toBe(1);
    expect(valueOf(samples, 'http_request_duration_seconds_bucket', { route: '/users/:id', le: '+Inf' })).toBe(2);
    expect(valueOf(samples, 'http_request_duration_seconds_sum', { route: '/users/:id' })).toBeGreaterThan(0);
    expect(labelValues(samples, 'http_request_duration_seconds_count', 'route')).toEqual(['/shop', '/shop/items/:item', '/users', '/users/:id']);
  });

  it('keeps the router prefix of a route whose error is answered outside the router', async () => {
    const registry = freshRegistry();
    const { url, scrape } = await start(registry, (app) => {
      const router = express.Router();
      router.get('/fail/:id', () => {
        throw Object.assign(new Error('nope'), { status: 409 });
      });
      app.use('/api', router);
      app.use((error: { status: number }, _req: unknown, res: http.ServerResponse & { status(code: number): { end(): void } }, _next: unknown) => res.status(error.status).end());
    });
    await request(url).get('/api/fail/7').expect(409);
    await request(url).get('/api/fail/8/?x=1').expect(409);
    const samples = await scrape();
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '/api/fail/:id', status_code: '409' })).toBe(2);
    expect(labelValues(samples, 'http_request_duration_seconds_count', 'route')).toEqual(['/api/fail/:id']);
  });

  it('gives every unmatched path one label: 10,000 random paths add no label value', async () => {
    const registry = freshRegistry();
    const { server, scrape } = await start(registry, (app) => {
      app.get('/known', (req, res) => res.send('ok'));
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const { port } = server.address() as import('node:net').AddressInfo;
    const one = (path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
          response.resume().on('end', () => resolve(response.statusCode!));
        }).on('error', reject);
      });
    const paths = Array.from({ length: 10_000 }, (_, index) => `/${Math.random().toString(36).slice(2)}/${index}?q=${index}`);
    for (let index = 0; index < paths.length; index += 200) {
      const statuses = await Promise.all(paths.slice(index, index + 200).map(one));
      expect(new Set(statuses)).toEqual(new Set([404]));
    }
    await one('/known');
    agent.destroy();
    const samples = await scrape();
    expect(labelValues(samples, 'http_request_duration_seconds_count', 'route')).toEqual(['/known', '<unmatched>']);
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '<unmatched>', status_code: '404' })).toBe(10_000);
    expect(samples.filter((sample) => sample.name === 'http_request_duration_seconds_count')).toHaveLength(2);
  });

  it('counts requests in flight, and labels a response whose client went away 499', async () => {
    const registry = freshRegistry();
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const { server, scrape } = await start(registry, (app) => {
      app.get('/slow', (req, res) => {
        arrived();
        res.on('close', () => {});
      });
    });
    const { port } = server.address() as import('node:net').AddressInfo;
    const client = http.get({ host: '127.0.0.1', port, path: '/slow', agent: false });
    client.on('error', () => {});
    await arrival;
    expect(valueOf(await scrape(), 'http_requests_in_flight')).toBe(1);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.destroy();
    await closed;
    // The server sees the reset on its next turn of the event loop.
    for (let tries = 0; tries < 100 && valueOf(await scrape(), 'http_requests_in_flight') !== 0; tries++) await new Promise((resolve) => setTimeout(resolve, 5));
    const samples = await scrape();
    expect(valueOf(samples, 'http_requests_in_flight')).toBe(0);
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '/slow', status_code: '499' })).toBe(1);
  });

  it('records request and response sizes when asked', async () => {
    const registry = freshRegistry();
    const { url, scrape } = await start(
      registry,
      (app) => {
        app.post('/echo', express.text(), (req, res) => {
          res.write('ab');
          res.end('cdé');
        });
      },
      { sizes: true },
    );
    await request(url).post('/echo').set('Content-Type', 'text/plain').send('x'.repeat(1500)).expect(200);
    const samples = await scrape();
    expect(valueOf(samples, 'http_request_size_bytes_sum', { method: 'POST', route: '/echo' })).toBe(1500);
    expect(valueOf(samples, 'http_request_size_bytes_bucket', { route: '/echo', le: '10000' })).toBe(1);
    expect(valueOf(samples, 'http_request_size_bytes_bucket', { route: '/echo', le: '1000' })).toBe(0);
    expect(valueOf(samples, 'http_response_size_bytes_sum', { route: '/echo', status_code: '200' })).toBe(6);
  });

  it('leaves sizes out by default', async () => {
    const registry = freshRegistry();
    const { url, scrape } = await start(registry, (app) => app.get('/', (req, res) => res.send('ok')));
    await request(url).get('/').expect(200);
    const names = new Set((await scrape()).map((sample) => sample.name));
    expect(names.has('http_request_size_bytes_count')).toBe(false);
    expect(names.has('http_response_size_bytes_count')).toBe(false);
  });

  it('records a request once when mounted twice on one registry', async () => {
    const registry = freshRegistry();
    const second = metrics({ registry });
    const { url, scrape } = await start(registry, (app) => {
      app.get('/a', second, (req, res) => res.send('a'));
    });
    await request(url).get('/a').expect(200);
    second.dispose();
    // Recorded once, by the first mount, with the route the second one saw matched.
    expect(valueOf(await scrape(), 'http_request_duration_seconds_count', { route: '/a' })).toBe(1);
  });

  it('uses a custom routeOf', async () => {
    const registry = freshRegistry();
    const { url, scrape } = await start(registry, (app) => app.get('/x/:id', (req, res) => res.send('x')), {
      routeOf: (req) => (req.url?.startsWith('/x/') ? 'x-route' : undefined),
    });
    await request(url).get('/x/1').expect(200);
    await request(url).get('/nothing').expect(404);
    const samples = await scrape();
    expect(labelValues(samples, 'http_request_duration_seconds_count', 'route')).toEqual(['<unmatched>', 'x-route']);
  });

  it('collects default process metrics when asked', async () => {
    const registry = freshRegistry();
    const { scrape } = await start(registry, () => {}, { defaultMetrics: true });
    const names = new Set((await scrape()).map((sample) => sample.name));
    expect(names.has('process_cpu_user_seconds_total')).toBe(true);
    expect(names.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('registers in prom-client\'s global registry by default', async () => {
    const app = express();
    const middleware = metrics({ keelEvents: false });
    app.use(middleware);
    app.get('/global', (req, res) => res.send('ok'));
    app.get('/metrics', metricsEndpoint());
    await request(app).get('/global').expect(200);
    const response = await request(app).get('/metrics').expect(200);
    expect(middleware.registry).toBe(globalRegistry);
    expect(valueOf(parseScrape(response.text), 'http_request_duration_seconds_count', { route: '/global' })).toBeGreaterThanOrEqual(1);
  });
});

describe('metricsEndpoint()', () => {
  it('answers in Prometheus text format, and in OpenMetrics when asked', async () => {
    const registry = new Registry();
    const middleware = metrics({ registry });
    const server = http.createServer((req, res) => middleware(req, res, () => metricsEndpoint({ registry })(req, res)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/metrics`;
    try {
      const text = await get(url);
      expect(text.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(text.body).toContain('# TYPE keel_timeout_aborts_total counter');
      const open = await get(url, { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' });
      expect(open.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(open.body).toContain('# TYPE keel_timeout_aborts counter');
      expect(open.body).toContain('keel_timeout_aborts_total{reason="deadline"} 0');
      expect(open.body.endsWith('# EOF\n')).toBe(true);
      const preferText = await get(url, { accept: 'text/plain;q=1,application/openmetrics-text;q=0.5' });
      expect(preferText.headers['content-type']).toContain('text/plain');
    } finally {
      middleware.dispose();
      server.close();
    }
  });

  it('answers 405 to other methods', async () => {
    const app = http.createServer(metricsEndpoint({ registry: new Registry() }));
    await request(app).post('/metrics').expect(405).expect('Allow', 'GET, HEAD');
  });
});

describe('metrics() and a shared registry', () => {
  it('refuses a registry where another library registered http_request_duration_seconds', () => {
    const registry = new Registry();
    new Histogram({ name: 'http_request_duration_seconds', help: 'theirs', labelNames: ['method', 'path', 'status_code'], registers: [registry] });
    expect(() => metrics({ registry })).toThrow(/@keel\/metrics: the registry already has a metric named http_request_duration_seconds/);
  });

  it('empties the histogram on registry.resetMetrics()', async () => {
    const registry = new Registry();
    const middleware = metrics({ registry, keelEvents: false });
    const app = http.createServer((req, res) => middleware(req, res, () => res.end('ok')));
    await request(app).get('/x').expect(200);
    expect(valueOf(parseScrape(await registry.metrics()), 'http_request_duration_seconds_count')).toBe(1);
    registry.resetMetrics();
    expect(valueOf(parseScrape(await registry.metrics()), 'http_request_duration_seconds_count')).toBe(0);
    await request(app).get('/x').expect(200);
    const samples = parseScrape(await registry.metrics());
    expect(valueOf(samples, 'http_request_duration_seconds_count', { route: '<unmatched>', method: 'GET', status_code: '200' })).toBe(1);
    expect(valueOf(samples, 'http_request_duration_seconds_bucket', { le: '+Inf' })).toBe(1);
    expect((await registry.getMetricsAsJSON()).find((metric) => metric.name === 'http_request_duration_seconds')).toMatchObject({ type: 'histogram' });
  });
});

describe('resolveOptions()', () => {
  it.each([
    [{ buckets: [] }, 'buckets'],
    [{ buckets: [0.1, 0.05] }, 'buckets'],
    [{ sizes: 'yes' }, 'sizes'],
    [{ registry: {} }, 'registry'],
    [{ unmatchedRoute: '' }, 'unmatchedRoute'],
    [{ maxLabelValues: 0 }, 'maxLabelValues'],
    [{ bukets: [1] }, 'bukets'],
  ])('rejects %j naming the option', (options, option) => {
    expect(() => resolveOptions(options as never)).toThrow(expect.objectContaining({ code: 'ERR_KEEL_INVALID_OPTION', option, packageName: '@keel/metrics' }));
    expect(() => metrics(options as never)).toThrow(/@keel\/metrics: option/);
  });

  it('copies and freezes', () => {
    const buckets = [0.1, 1];
    const resolved = resolveOptions({ buckets });
    buckets.push(5);
    expect(resolved.buckets).toEqual([0.1, 1]);
    expect(Object.isFrozen(resolved)).toBe(true);
  });
});
