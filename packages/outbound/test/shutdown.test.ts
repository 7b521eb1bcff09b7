import { performance } from 'node:perf_hooks';
import { Agent, request, type Dispatcher } from 'undici';
import { describeEachExpress, listen, closeServer } from '@keel/test-support';
import { createLifecycle, requestContext, type Lifecycle } from '@keel/lifecycle';
import { drainOnShutdown } from '@keel/drain';
import { errorHandler } from '@keel/error-handler';
import { CHANNELS, outbound, type ResultMessage } from '@keel/outbound';
import { quietLogger, record, scriptedServer, waitFor } from './helpers';

const IN_FLIGHT = 5;

describeEachExpress('outbound() at shutdown', ({ express }) => {
  let lifecycle: Lifecycle;
  let dispatcher: Dispatcher;
  let client: Agent;
  let dependency: Awaited<ReturnType<typeof scriptedServer>>;
  let results: ReturnType<typeof record<ResultMessage>>;

  beforeEach(async () => {
    // A 1 s budget: the drain phase ends at 700 ms, the abort phase starts 70 ms before.
    lifecycle = createLifecycle({ signals: [], exit: false, shutdownTimeout: 1000, preStopDelay: 0, logger: quietLogger });
    dependency = await scriptedServer([{ hang: true }]);
    dispatcher = outbound({ lifecycle, timeout: 10_000 });
    client = new Agent();
    results = record<ResultMessage>(CHANNELS.result);
  });

  afterEach(async () => {
    results.stop();
    await dispatcher.destroy().catch(() => undefined);
    await client.destroy();
    await dependency.close();
  });

  it('aborts the calls in flight at the abort phase, and every incoming request still gets its answer', async () => {
    const app = express();
    // The drain aborts each request's context signal at its abort phase: the call listens to that signal.
    app.use(requestContext());
    app.get('/work/:id', (req, res, next) => {
      request(`${dependency.url}/slow/${req.params.id}`, { dispatcher })
        .then(async (answer) => res.status(answer.statusCode).send(await answer.body.text()))
        .catch(next);
    });
    app.use(errorHandler({ logger: quietLogger }));
    const { server, url } = await listen(app);
    drainOnShutdown(server, { lifecycle });
    try {
      const answers = Array.from({ length: IN_FLIGHT }, async (_, id) => {
        const answer = await request(`${url}/work/${id}`, { dispatcher: client });
        return { status: answer.statusCode, retryAfter: answer.headers['retry-after'], body: await answer.body.text() };
      });
      while (dependency.seen.length < IN_FLIGHT) await new Promise((resolve) => setTimeout(resolve, 5));

      const startedAt = performance.now();
      const report = lifecycle.shutdown();
      const settled = await Promise.all(answers);
      const abortedAfter = performance.now() - startedAt;

      expect(settled.map((answer) => answer.status)).toEqual(Array(IN_FLIGHT).fill(503));
      expect(settled).toEqual(Array(IN_FLIGHT).fill(expect.objectContaining({ retryAfter: '1' })));
      // Not at the signal: the in-flight calls had the drain phase to finish (the drain aborts 200 ms before its 700 ms deadline).
      expect(abortedAfter).toBeGreaterThanOrEqual(450);
      // Answered within the shutdown's 1 s budget, however busy the machine.
      expect(abortedAfter).toBeLessThan(1000);
      await waitFor(() => dependency.seen.every((seen) => seen.abandoned));
      expect(results.messages.map((message) => [message.outcome, message.errorCode])).toEqual(Array(IN_FLIGHT).fill(['aborted', 'ERR_KEEL_SHUTTING_DOWN']));
      // Requests had to be aborted to end the drain in time: the shutdown reports it.
      expect((await report).exitCode).toBe(1);
    } finally {
      await closeServer(server);
    }
  });

  it('aborts calls made outside any request at the abort phase', async () => {
    const startedAt = performance.now();
    const call = request(`${dependency.url}/background`, { dispatcher }).catch((error: unknown) => error);
    while (dependency.seen.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    // A hook holds the drain phase open, as a drain of in-flight requests would.
    lifecycle.onShutdown('hold', () => new Promise<void>((resolve) => setTimeout(resolve, 800)), { phase: 'drain' });
    const report = lifecycle.shutdown();
    expect(await call).toMatchObject({ code: 'ERR_KEEL_SHUTTING_DOWN', status: 503 });
    // The abort phase starts 70 ms before the 700 ms drain deadline.
    const abortedAfter = performance.now() - startedAt;
    expect(abortedAfter).toBeGreaterThanOrEqual(580);
    expect(abortedAfter).toBeLessThan(800);
    await report;
  });

  it('lets calls that end during the drain finish', async () => {
    await dependency.close();
    dependency = await scriptedServer([{ status: 200, body: 'done', headersAfter: 150 }]);
    const app = express();
    app.get('/work', (_req, res, next) => {
      request(`${dependency.url}/`, { dispatcher })
        .then(async (answer) => res.status(answer.statusCode).send(await answer.body.text()))
        .catch(next);
    });
    app.use(errorHandler({ logger: quietLogger }));
    const { server, url } = await listen(app);
    drainOnShutdown(server, { lifecycle });
    try {
      const answer = request(`${url}/work`, { dispatcher: client });
      while (dependency.seen.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
      const report = lifecycle.shutdown();
      const response = await answer;
      expect(response.statusCode).toBe(200);
      expect(await response.body.text()).toBe('partdone');
      await report;
    } finally {
      await closeServer(server);
    }
  });
});
