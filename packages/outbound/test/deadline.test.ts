import http from 'node:http';
import { performance } from 'node:perf_hooks';
import request from 'supertest';
import { request as undiciRequest, type Dispatcher } from 'undici';
import { describeEachExpress, listen, closeServer } from '@keel/test-support';
import { errorHandler } from '@keel/error-handler';
import { timeout } from '@keel/timeout';
import { outbound, type OutboundOptions } from '@keel/outbound';
import { quietLogger, scriptedServer, type Step, waitFor } from './helpers';

// A 100 ms reserve (the default is 50) leaves room for a late timer on a loaded machine: calls get 200 ms of the 300.
const FAST: OutboundOptions = { baseDelay: 100, maxDelay: 400, random: () => 0.5, breaker: false, reserve: 100 };

describeEachExpress('outbound() inside a request with 300 ms left', ({ express }) => {
  let dispatcher: Dispatcher;
  let dependency: Awaited<ReturnType<typeof scriptedServer>>;

  afterEach(async () => {
    await dispatcher.destroy().catch(() => undefined);
    await dependency.close();
  });

  /** An app whose requests have 300 ms; the route calls the dependency and reports how the call went. */
  async function setUp(script: readonly Step[], options: OutboundOptions = {}) {
    // '/warm' opens the connection (and warms the code) outside the measured calls: a first attempt
    // on a cold connection would take longer than the ones after it, and bias the timing.
    dependency = await scriptedServer((n, req) => (req.url === '/warm' ? { status: 200 } : script[Math.min(n - 1, script.length - 1)]!));
    dispatcher = outbound({ ...FAST, ...options });
    await (await undiciRequest(`${dependency.url}/warm`, { dispatcher })).body.dump();
    dependency.seen.shift();
    const app = express();
    app.use(timeout({ duration: 300, logger: quietLogger }));
    app.get('/call', (req, res, next) => {
      const startedAt = performance.now();
      undiciRequest(`${dependency.url}/work`, { dispatcher })
        .then(async (answer) => {
          await answer.body.text();
          res.json({ status: answer.statusCode, took: performance.now() - startedAt });
        })
        .catch((error: { code?: string }) => {
          // error-handler names only its own codes in the body: the route tells the test which error came.
          res.setHeader('x-error-code', String(error.code));
          res.setHeader('x-took', String(performance.now() - startedAt));
          next(error);
        });
    });
    app.use(errorHandler({ logger: quietLogger }));
    return app;
  }

  it('starts only attempts it can finish, and ends within the time left', async () => {
    // 40 ms per answer: a retry after 50 ms fits (ends near 130 ms); the next one, after 100 ms, would end near 270, past 200.
    // On a slow machine the first attempt may take long enough that even the first retry does not fit: then none is made.
    const app = await setUp([{ status: 503, headersAfter: 40 }]);
    const response = await request(app).get('/call');
    expect(response.status).toBe(200);
    expect(response.body.status).toBe(503);
    expect(response.body.took).toBeLessThan(200);
    expect(dependency.seen.length).toBeGreaterThanOrEqual(1);
    expect(dependency.seen.length).toBeLessThanOrEqual(2);
    // Every attempt that was started was answered: none was cut by the deadline.
    expect(dependency.seen.every((seen) => seen.answered && !seen.abandoned)).toBe(true);
  });

  it('starts no retry when the last attempt took longer than the time left', async () => {
    const app = await setUp([{ status: 503, headersAfter: 130 }, { status: 200 }]);
    const response = await request(app).get('/call');
    expect(response.body).toMatchObject({ status: 503 });
    expect(dependency.seen).toHaveLength(1);
  });

  it('cuts a dependency that does not answer at the time left less the reserve: a 504', async () => {
    const app = await setUp([{ hang: true }]);
    const response = await request(app).get('/call').set('accept', 'application/json');
    const took = Number(response.headers['x-took']);
    expect(response.status).toBe(504);
    expect(response.headers['x-error-code']).toBe('ERR_KEEL_OUTBOUND_DEADLINE');
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(300);
    await waitFor(() => dependency.seen[0]?.abandoned === true);
  });

  it('fails at once when Retry-After asks for more than the time left', async () => {
    const app = await setUp([{ status: 503, headers: { 'retry-after': '1' } }, { status: 200 }]);
    const startedAt = performance.now();
    const response = await request(app).get('/call').set('accept', 'application/json');
    expect(performance.now() - startedAt).toBeLessThan(150);
    expect(response.status).toBe(504);
    expect(response.headers['x-error-code']).toBe('ERR_KEEL_OUTBOUND_DEADLINE');
    expect(dependency.seen).toHaveLength(1);
  });

  it('aborts the call when the client goes away', async () => {
    dependency = await scriptedServer([{ hang: true }]);
    dispatcher = outbound(FAST);
    const app = express();
    app.use(timeout({ duration: 5000, logger: quietLogger }));
    const failed = new Promise<unknown>((resolve) => {
      app.get('/call', (_req, _res) => {
        undiciRequest(`${dependency.url}/work`, { dispatcher }).then(resolve, resolve);
      });
    });
    const { server, port } = await listen(app);
    try {
      const client = http.get({ host: '127.0.0.1', port, path: '/call', agent: false });
      client.on('error', () => undefined);
      await waitFor(() => dependency.seen.length === 1);
      client.destroy();
      expect(await failed).toMatchObject({ code: 'ERR_KEEL_CLIENT_DISCONNECTED' });
      await waitFor(() => dependency.seen[0]!.abandoned);
    } finally {
      await closeServer(server);
    }
  });

  it('uses its own timeout when the request has no deadline', async () => {
    dependency = await scriptedServer([{ hang: true }]);
    dispatcher = outbound({ ...FAST, timeout: 80 });
    const app = express();
    app.get('/call', (_req, res) => {
      undiciRequest(`${dependency.url}/work`, { dispatcher }).then(
        () => res.send('unexpected'),
        (error: { code?: string }) => res.status(500).send(error.code),
      );
    });
    const response = await request(app).get('/call');
    expect(response.text).toBe('ERR_KEEL_OUTBOUND_DEADLINE');
  });
});
