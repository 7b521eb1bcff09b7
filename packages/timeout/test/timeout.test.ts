import http from 'node:http';
import { getEventListeners } from 'node:events';
import request from 'supertest';
import type { NextFunction, Request, Response } from 'express';
import { deferred, describeEachExpress, listen, closeServer } from '@keel/test-support';
import { createLifecycle } from '@keel/lifecycle';
import {
  timeout,
  getSignal,
  getDeadline,
  remaining,
  signalOf,
  withDeadline,
  isDeadlineExceededError,
  isClientDisconnectedError,
  isDownstreamTimeoutError,
  type LateWrite,
} from '@keel/timeout';
import { captureLogger, rawGet, sleep, slowServer } from './helpers';

/** Forwards a rejection to `next` on Express 4, which does not do it by itself. */
function handle(fn: (req: Request, res: Response) => Promise<unknown>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };
}

/** An error handler that answers JSON with the error's status, code and Retry-After. */
function jsonErrors(calls: unknown[] = []) {
  return (err: { status?: number; code?: string; headers?: Record<string, string> }, _req: Request, res: Response, _next: NextFunction): void => {
    calls.push(err);
    if (res.headersSent) return;
    res.status(err.status ?? 500).set(err.headers ?? {}).json({ code: err.code });
  };
}

describeEachExpress('timeout()', ({ express }) => {
  it('responds 503 with Retry-After at the deadline and aborts the signal with the deadline reason', async () => {
    const reason = deferred<unknown>();
    const app = express();
    app.use(timeout({ duration: 100, retryAfter: 7, logger: captureLogger() }));
    app.get('/hang', () => {
      const signal = getSignal()!;
      signal.addEventListener('abort', () => reason.resolve(signal.reason));
    });
    app.use(jsonErrors());

    const startedAt = Date.now();
    const response = await request(app).get('/hang');
    const elapsed = Date.now() - startedAt;

    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.body).toEqual({ code: 'ERR_KEEL_DEADLINE_EXCEEDED' });
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(5000);
    expect(isDeadlineExceededError(await reason.promise)).toBe(true);
  });

  it('renders the 503 through Express when the app has no error handler', async () => {
    const app = express();
    app.use(timeout({ duration: 50, logger: captureLogger() }));
    app.get('/hang', () => undefined);
    const response = await request(app).get('/hang');
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
  });

  it('drops a late res.json from the still-running handler, reports it once, and never throws', async () => {
    const logger = captureLogger();
    const lateWrites: LateWrite[] = [];
    const outcome = deferred<unknown>();
    const app = express();
    app.use(timeout({ duration: 80, logger, onLateWrite: (lateWrite) => lateWrites.push(lateWrite) }));
    app.get('/late', (_req, res) => {
      setTimeout(() => {
        try {
          res.status(200).json({ late: true });
          res.setHeader('x-late', '1');
          res.write('more');
          res.end();
          outcome.resolve('no throw');
        } catch (error) {
          outcome.resolve(error);
        }
      }, 200);
    });
    app.use(jsonErrors());

    const response = await request(app).get('/late');
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ code: 'ERR_KEEL_DEADLINE_EXCEEDED' });
    expect(response.headers['x-late']).toBeUndefined();

    expect(await outcome.promise).toBe('no throw');
    expect(lateWrites).toHaveLength(1);
    expect(lateWrites[0]!.call).toBe('setHeader');
    expect(isDeadlineExceededError(lateWrites[0]!.reason)).toBe(true);
    expect(lateWrites[0]!.lateByMs).toBeGreaterThan(0);
    const reported = logger.lines.filter((line) => line.message.includes('late write'));
    expect(reported).toHaveLength(1);
    expect(reported[0]!.level).toBe('warn');
    expect(reported[0]!.fields).toMatchObject({ call: 'setHeader', method: 'GET', url: '/late', code: 'ERR_KEEL_DEADLINE_EXCEEDED' });
  });

  it('reports to the lifecycle logger by default, and survives an onLateWrite hook that throws', async () => {
    const lifecycleLogger = captureLogger();
    const lifecycle = createLifecycle({ signals: [], logger: lifecycleLogger });
    const lateDone = deferred();
    const app = express();
    app.use(
      timeout({
        duration: 50,
        lifecycle,
        onLateWrite: () => {
          throw new Error('metrics are down');
        },
      }),
    );
    app.get('/late', (_req, res) => {
      setTimeout(() => {
        res.send('late');
        lateDone.resolve();
      }, 120);
    });
    app.use(jsonErrors());
    expect((await request(app).get('/late')).status).toBe(503);
    await lateDone.promise;
    expect(lifecycleLogger.lines.map((line) => [line.level, line.message])).toEqual([
      ['warn', '@keel/timeout: late write dropped: the response was already answered'],
      ['error', '@keel/timeout: onLateWrite threw'],
    ]);
    lifecycle.dispose();
  });

  it('drops late writes on that response only: a concurrent request is answered normally', async () => {
    const app = express();
    app.use(timeout({ duration: 80, logger: captureLogger() }));
    const lateDone = deferred();
    app.get('/late', (_req, res) => {
      setTimeout(() => {
        res.json({ late: true });
        lateDone.resolve();
      }, 150);
    });
    app.get('/slow-ok', (_req, res) => {
      setTimeout(() => res.json({ ok: true }), 40);
    });
    app.use(jsonErrors());
    const { server, url } = await listen(app);
    try {
      const [late, ok] = await Promise.all([fetch(`${url}/late`), fetch(`${url}/slow-ok`)]);
      expect(late.status).toBe(503);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ ok: true });
      await lateDone.promise;
      const again = await fetch(`${url}/slow-ok`);
      expect(await again.json()).toEqual({ ok: true });
    } finally {
      await closeServer(server);
    }
  });

  it('calls the error handler once for the deadline', async () => {
    const calls: unknown[] = [];
    const app = express();
    app.use(timeout({ duration: 50, logger: captureLogger() }));
    app.get('/hang', () => undefined);
    app.use(jsonErrors(calls));
    const response = await request(app).get('/hang');
    expect(response.status).toBe(503);
    await sleep(100);
    expect(calls).toHaveLength(1);
  });

  it('lets an error handler that answers asynchronously send the 503, then drops the late write', async () => {
    const lateWrites: LateWrite[] = [];
    const handlerMayWrite = deferred();
    const lateDone = deferred();
    const app = express();
    app.use(timeout({ duration: 50, logger: captureLogger(), onLateWrite: (lateWrite) => lateWrites.push(lateWrite) }));
    // The handler's work ends once the 503 has reached the client, however slow the machine.
    app.get('/late', (_req, res) => {
      void handlerMayWrite.promise.then(() => {
        res.json({ late: true });
        lateDone.resolve();
      });
    });
    app.use((err: { status: number; code: string }, _req: Request, res: Response, _next: NextFunction) => {
      setTimeout(() => res.status(err.status).json({ code: err.code, async: true }), 20);
    });
    const response = await request(app).get('/late');
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ code: 'ERR_KEEL_DEADLINE_EXCEEDED', async: true });
    handlerMayWrite.resolve();
    await lateDone.promise;
    expect(lateWrites.map((lateWrite) => lateWrite.call)).toEqual(['setHeader']);
  });

  it('keeps the answer of a handler that ends the response before an asynchronous error handler does', async () => {
    const lateWrites: LateWrite[] = [];
    const errorHandlerDone = deferred();
    const app = express();
    app.use(timeout({ duration: 50, logger: captureLogger(), onLateWrite: (lateWrite) => lateWrites.push(lateWrite) }));
    // Answers in the check phase right after the deadline; the error handler answers 20 ms later.
    app.get('/late', (_req, res) => {
      getSignal()!.addEventListener('abort', () => setImmediate(() => res.json({ late: true })));
    });
    app.use((err: { status: number; code: string }, _req: Request, res: Response, _next: NextFunction) => {
      setTimeout(() => {
        res.status(err.status).json({ code: err.code });
        errorHandlerDone.resolve();
      }, 20);
    });
    const response = await request(app).get('/late');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ late: true });
    await errorHandlerDone.promise;
    expect(lateWrites.map((lateWrite) => lateWrite.call)).toEqual(['setHeader']);
  });

  it('leaves the answer to a handler that responds when its signal aborts', async () => {
    const calls: unknown[] = [];
    const app = express();
    app.use(timeout({ duration: 50, logger: captureLogger() }));
    app.get('/cooperative', (_req, res) => {
      getSignal()!.addEventListener('abort', () => res.status(504).json({ handled: true }));
    });
    app.use(jsonErrors(calls));
    const response = await request(app).get('/cooperative');
    expect(response.status).toBe(504);
    expect(response.body).toEqual({ handled: true });
    expect(calls).toHaveLength(0);
  });

  it('does not abort a POST whose JSON body express.json() has read', async () => {
    const app = express();
    app.use((req, _res, next) => {
      req.on('close', () => {
        (req as Request & { closeSeen?: boolean }).closeSeen = true;
      });
      next();
    });
    app.use(timeout({ duration: 5000, logger: captureLogger() }));
    app.use(express.json());
    app.post('/echo', (req, res) => {
      const signal = getSignal()!;
      setTimeout(() => {
        res.json({ aborted: signal.aborted, closeSeen: (req as Request & { closeSeen?: boolean }).closeSeen === true, body: req.body as unknown });
      }, 100);
    });
    const response = await request(app).post('/echo').send({ hello: 'world' });
    expect(response.status).toBe(200);
    // req 'close' fired once the body was read: a signal tied to it would have aborted here.
    expect(response.body).toEqual({ aborted: false, closeSeen: true, body: { hello: 'world' } });
  });

  it('aborts the signal with the disconnect reason when the client really goes away', async () => {
    const arrived = deferred();
    const reason = deferred<unknown>();
    const app = express();
    app.use(timeout({ duration: 5000, logger: captureLogger() }));
    app.use(express.json());
    app.post('/slow', (_req, _res) => {
      const signal = getSignal()!;
      signal.addEventListener('abort', () => reason.resolve(signal.reason));
      arrived.resolve();
    });
    const { server, url } = await listen(app);
    try {
      const client = http.request(`${url}/slow`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      client.on('error', () => undefined);
      client.end(JSON.stringify({ a: 1 }));
      await arrived.promise;
      client.destroy();
      expect(isClientDisconnectedError(await reason.promise)).toBe(true);
    } finally {
      await closeServer(server);
    }
  });

  it('cancels a fetch to a slow real server given getSignal() at the deadline', async () => {
    const slow = await slowServer();
    const fetchError = deferred<unknown>();
    const app = express();
    app.use(timeout({ duration: 150, logger: captureLogger() }));
    app.get(
      '/proxy',
      handle(async (_req, res) => {
        try {
          const upstream = await fetch(slow.url, { signal: getSignal() });
          res.send(await upstream.text());
        } catch (error) {
          fetchError.resolve(error);
          throw error;
        }
      }),
    );
    app.use(jsonErrors());
    try {
      const startedAt = Date.now();
      const response = await request(app).get('/proxy');
      expect(response.status).toBe(503);
      const outcome = await slow.closed;
      expect(outcome.responseEnded).toBe(false);
      expect(outcome.closedAt - startedAt).toBeGreaterThanOrEqual(140);
      expect(outcome.closedAt - startedAt).toBeLessThan(5000);
      expect(isDeadlineExceededError(await fetchError.promise)).toBe(true);
    } finally {
      await slow.close();
    }
  });

  it('answers 504 when a child scope given to a downstream call expires, and leaves the request signal alone', async () => {
    const slow = await slowServer();
    const requestSignal = deferred<AbortSignal>();
    const app = express();
    app.use(timeout({ duration: 5000, logger: captureLogger() }));
    app.get(
      '/child',
      handle(async (_req, res) => {
        const signal = getSignal()!;
        requestSignal.resolve(signal);
        const listenersBefore = getEventListeners(signal, 'abort').length;
        try {
          await withDeadline(100, async (childSignal) => {
            expect(getSignal()).toBe(childSignal);
            expect(remaining()).toBeLessThanOrEqual(100);
            return fetch(slow.url, { signal: childSignal });
          });
          res.send('unexpected');
        } finally {
          expect(getEventListeners(signal, 'abort')).toHaveLength(listenersBefore);
        }
      }),
    );
    app.use(jsonErrors());
    try {
      const response = await request(app).get('/child');
      expect(response.status).toBe(504);
      expect(response.body).toEqual({ code: 'ERR_KEEL_DOWNSTREAM_TIMEOUT' });
      expect((await slow.closed).responseEnded).toBe(false);
      expect((await requestSignal.promise).aborted).toBe(false);
    } finally {
      await slow.close();
    }
  });

  it('fails a child scope with the request deadline (503) when that comes first', async () => {
    const childError = deferred<unknown>();
    const app = express();
    app.use(timeout({ duration: 80, logger: captureLogger() }));
    app.get('/child', (_req, _res) => {
      withDeadline('5s', (signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)))).catch((error: unknown) =>
        childError.resolve(error),
      );
    });
    app.use(jsonErrors());
    const response = await request(app).get('/child');
    expect(response.status).toBe(503);
    expect(isDeadlineExceededError(await childError.promise)).toBe(true);
    expect(isDownstreamTimeoutError(await childError.promise)).toBe(false);
  });

  it('tightens the deadline per route and never extends it', async () => {
    const deadlines: Record<string, number> = {};
    const app = express();
    app.use(timeout({ duration: 4000, logger: captureLogger() }));
    const inner = express.Router();
    inner.use(timeout({ duration: 80, logger: captureLogger() }));
    inner.get('/hang', () => {
      deadlines.tight = getDeadline()! - Date.now();
    });
    app.use('/tight', inner);
    app.get('/loose', timeout({ duration: 60_000, logger: captureLogger() }), (_req, res) => {
      deadlines.loose = getDeadline()! - Date.now();
      res.json({ ok: true });
    });
    app.use(jsonErrors());

    let startedAt = Date.now();
    const tight = await request(app).get('/tight/hang');
    expect(tight.status).toBe(503);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(deadlines.tight).toBeLessThanOrEqual(80);

    const short = express();
    short.use(timeout({ duration: 80, logger: captureLogger() }));
    short.get('/hang', timeout({ duration: 60_000, logger: captureLogger() }), () => {
      deadlines.extended = getDeadline()! - Date.now();
    });
    short.use(jsonErrors());
    startedAt = Date.now();
    const notExtended = await request(short).get('/hang');
    expect(notExtended.status).toBe(503);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(deadlines.extended).toBeLessThanOrEqual(80);

    expect((await request(app).get('/loose')).status).toBe(200);
    expect(deadlines.loose).toBeLessThanOrEqual(4000);
    expect(deadlines.loose).toBeGreaterThan(1000);
  });

  it('makes the deadline and signal reachable anywhere in the request and from req', async () => {
    const app = express();
    app.use(timeout({ duration: 2000, logger: captureLogger() }));
    app.get(
      '/info',
      handle(async (req, res) => {
        await sleep(5);
        const fromAsync = await new Promise<{ deadline: number | undefined; left: number; same: boolean }>((resolve) =>
          setImmediate(() => resolve({ deadline: getDeadline(), left: remaining(), same: getSignal() === signalOf(req) })),
        );
        res.json({ ...fromAsync, now: Date.now() });
      }),
    );
    const response = await request(app).get('/info');
    const body = response.body as { deadline: number; left: number; same: boolean; now: number };
    expect(body.same).toBe(true);
    expect(body.deadline - body.now).toBeLessThanOrEqual(2000);
    expect(body.deadline - body.now).toBeGreaterThan(1000);
    expect(body.left).toBeGreaterThan(1000);
    expect(body.left).toBeLessThanOrEqual(2000);
  });

  it('reports no deadline outside a request', () => {
    expect(getSignal()).toBeUndefined();
    expect(getDeadline()).toBeUndefined();
    expect(remaining()).toBe(Infinity);
  });

  describe('when headers were already sent (streaming)', () => {
    function streamingApp(options: Parameters<typeof timeout>[0], onAbort?: (res: Response) => void) {
      const reason = deferred<unknown>();
      const logger = captureLogger();
      const app = express();
      app.use(timeout({ logger, ...(options as object) }));
      app.get('/stream', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial;');
        const signal = getSignal()!;
        signal.addEventListener('abort', () => {
          reason.resolve(signal.reason);
          onAbort?.(res);
        });
      });
      return { app, reason: reason.promise, logger };
    }

    it("destroys the response after the grace by default, so the client sees it is incomplete", async () => {
      const { app, reason, logger } = streamingApp({ duration: 60, grace: 50 });
      const { server, url } = await listen(app);
      try {
        const response = await rawGet(`${url}/stream`);
        expect(response.status).toBe(200);
        expect(response.body).toBe('partial;');
        expect(response.complete).toBe(false);
        expect(isDeadlineExceededError(await reason)).toBe(true);
        expect(logger.lines.some((line) => line.level === 'warn' && line.message.includes('destroyed'))).toBe(true);
      } finally {
        await closeServer(server);
      }
    });

    it("ends the response cleanly after the grace with onHeadersSent: 'end'", async () => {
      const { app, reason } = streamingApp({ duration: 60, grace: 50, onHeadersSent: 'end' });
      const { server, url } = await listen(app);
      try {
        const response = await rawGet(`${url}/stream`);
        expect(response).toMatchObject({ status: 200, body: 'partial;', complete: true });
        expect(isDeadlineExceededError(await reason)).toBe(true);
      } finally {
        await closeServer(server);
      }
    });

    it('lets the handler end the stream itself within the grace', async () => {
      const { app } = streamingApp({ duration: 60, grace: 2000 }, (res) => setTimeout(() => res.end('bye'), 30));
      const { server, url } = await listen(app);
      try {
        expect(await rawGet(`${url}/stream`)).toMatchObject({ status: 200, body: 'partial;bye', complete: true });
      } finally {
        await closeServer(server);
      }
    });

    it("leaves the stream alone with onHeadersSent: 'ignore', signal aborted all the same", async () => {
      const { app, reason } = streamingApp({ duration: 60, grace: 10, onHeadersSent: 'ignore' }, (res) => setTimeout(() => res.end('done'), 150));
      const { server, url } = await listen(app);
      try {
        expect(await rawGet(`${url}/stream`)).toMatchObject({ status: 200, body: 'partial;done', complete: true });
        expect(isDeadlineExceededError(await reason)).toBe(true);
      } finally {
        await closeServer(server);
      }
    });
  });
});
