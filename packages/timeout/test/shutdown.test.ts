import type { NextFunction, Request, Response } from 'express';
import { deferred, describeEachExpress, listen, closeServer } from '@keel/test-support';
import { createLifecycle, isShuttingDownError, type Lifecycle, type LifecycleState } from '@keel/lifecycle';
import { timeout, getSignal, type TimeoutOptions } from '@keel/timeout';
import type { ExpressFactory } from '@keel/test-support';
import { captureLogger } from './helpers';

interface AbortSeen {
  readonly reason: unknown;
  readonly at: number;
  readonly state: LifecycleState;
}

/**
 * An app with one route that never answers by itself, and a lifecycle that owns
 * no signals and never exits the process.
 */
async function setup(express: ExpressFactory, options: TimeoutOptions, lifecycleOptions: { preStopDelay?: number; holdDrain?: boolean } = {}) {
  // A held drain gets a longer budget, so the abort's lead on the drain deadline (a tenth of the window) outlasts a busy machine's timer lag.
  const lifecycle = createLifecycle({ signals: [], exit: false, shutdownTimeout: lifecycleOptions.holdDrain ? 3000 : 1000, preStopDelay: lifecycleOptions.preStopDelay ?? 0, logger: captureLogger() });
  const arrived = deferred<AbortSignal>();
  const aborted = deferred<AbortSeen>();
  const responseEnded = deferred();
  const app = express();
  app.use((_req, res, next) => {
    res.on('close', () => responseEnded.resolve());
    next();
  });
  app.use(timeout({ duration: 10_000, logger: captureLogger(), lifecycle, ...options }));
  app.get('/work', (_req, res) => {
    const signal = getSignal()!;
    signal.addEventListener('abort', () => aborted.resolve({ reason: signal.reason, at: Date.now(), state: lifecycle.state }));
    arrived.resolve(signal);
    // Without an abort, the work finishes once the lifecycle has stopped.
    lifecycle.once('stopped', () => setTimeout(() => res.json({ finished: true }), 10));
  });
  app.use((err: { status?: number; code?: string; headers?: Record<string, string> }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).set(err.headers ?? {}).json({ code: err.code });
  });
  if (lifecycleOptions.holdDrain) {
    // Holds the drain phase until the request ends, as @keel/drain does.
    lifecycle.onShutdown('hold-drain', () => responseEnded.promise, { phase: 'drain', timeout: 5000 });
  }
  const { server, url } = await listen(app);
  return { lifecycle, arrived: arrived.promise, aborted: aborted.promise, server, url };
}

describeEachExpress('timeout() at shutdown', ({ express }) => {
  let lifecycles: Lifecycle[] = [];
  afterEach(() => {
    for (const lifecycle of lifecycles) lifecycle.dispose();
    lifecycles = [];
  });

  async function run(options: TimeoutOptions, lifecycleOptions: { preStopDelay?: number; holdDrain?: boolean } = {}) {
    const context = await setup(express, options, lifecycleOptions);
    lifecycles.push(context.lifecycle);
    const response = fetch(`${context.url}/work`);
    const signal = await context.arrived;
    return { ...context, response, signal };
  }

  it('lets in-flight requests run through the drain and aborts them with the shutdown reason at the drain deadline', async () => {
    const { lifecycle, aborted, response, server, signal } = await run({}, { holdDrain: true });
    try {
      let abortedAtDraining: boolean | undefined;
      lifecycle.once('draining', () => {
        abortedAtDraining = signal.aborted;
      });
      const report = lifecycle.shutdown('test');
      const seen = await aborted;
      const answer = await response;
      expect(abortedAtDraining).toBe(false);
      expect(isShuttingDownError(seen.reason)).toBe(true);
      const { startedAt, drainEndsAt } = lifecycle.deadlines!;
      // A tenth of the drain window before its end; timers run on the loop's cached clock, so allow a few ms early.
      expect(seen.at).toBeGreaterThanOrEqual(drainEndsAt - (drainEndsAt - startedAt) / 10 - 25);
      expect(seen.at).toBeLessThan(drainEndsAt);
      expect(seen.state).toBe('draining');
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(await answer.json()).toEqual({ code: 'ERR_KEEL_SHUTTING_DOWN' });
      expect((await report).exitCode).toBe(0);
    } finally {
      await closeServer(server);
    }
  });

  it('aborts when the drain phase ends early because nothing holds it', async () => {
    const { lifecycle, aborted, response, server } = await run({});
    try {
      const report = lifecycle.shutdown('test');
      const seen = await aborted;
      expect(isShuttingDownError(seen.reason)).toBe(true);
      expect(seen.state).toBe('stopping');
      expect(seen.at).toBeLessThan(lifecycle.deadlines!.drainEndsAt);
      expect((await response).status).toBe(503);
      await report;
    } finally {
      await closeServer(server);
    }
  });

  it("aborts as soon as shutdown starts with abortOnShutdown: 'immediate'", async () => {
    const { lifecycle, aborted, response, server } = await run({ abortOnShutdown: 'immediate' }, { preStopDelay: 300 });
    try {
      const report = lifecycle.shutdown('test');
      const seen = await aborted;
      expect(isShuttingDownError(seen.reason)).toBe(true);
      expect(seen.state).toBe('draining');
      expect(seen.at).toBeLessThan(lifecycle.deadlines!.preStopEndsAt);
      expect((await response).status).toBe(503);
      await report;
    } finally {
      await closeServer(server);
    }
  });

  it('never aborts for shutdown with abortOnShutdown: false', async () => {
    const { lifecycle, response, server } = await run({ abortOnShutdown: false });
    try {
      await lifecycle.shutdown('test');
      const answer = await response;
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ finished: true });
    } finally {
      await closeServer(server);
    }
  });

  it('adds one listener to the lifecycle however many timeout() middlewares use it', async () => {
    const lifecycle = createLifecycle({ signals: [], exit: false, logger: captureLogger() });
    lifecycles.push(lifecycle);
    const app = express();
    for (let i = 0; i < 30; i++) app.use(timeout({ duration: 10_000 - i, lifecycle, logger: captureLogger() }));
    app.get('/ok', (_req, res) => {
      res.json({ ok: true });
    });
    const { server, url } = await listen(app);
    try {
      expect((await fetch(`${url}/ok`)).status).toBe(200);
      expect(lifecycle.listenerCount('state')).toBe(1);
    } finally {
      await closeServer(server);
    }
  });
});
