import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNamespace, destroyNamespace, type Namespace } from 'cls-hooked';
import { activeContexts, bind, contextOf, enterRequestContext, getContext, getContextBridge, isInvalidOptionError, onRequestContextEnd, openRequestContext, requestContext, runInRequestContext, useClsHooked, type RequestContext } from '@keel/lifecycle';
import { closeServer, describeEachExpress } from '@keel/test-support';

// Real processes and sockets on a shared, loaded machine: generous limits, never tight ones.
jest.setTimeout(60_000);

/**
 * A callback queue like a connection pool's: callbacks run from the pool's own
 * timer, created outside any request, so they carry no request context unless bound.
 */
class CallbackPool {
  readonly #queue: Array<() => void> = [];
  readonly #timer: NodeJS.Timeout;
  constructor() {
    this.#timer = setInterval(() => {
      for (const callback of this.#queue.splice(0)) callback();
    }, 1);
  }
  query(callback: () => void): void {
    this.#queue.push(callback);
  }
  end(): void {
    clearInterval(this.#timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const randomMs = (max: number) => Math.floor(Math.random() * max);

async function serve(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  // Room for a thousand connections arriving at once.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** POSTs a body in two chunks with a pause between, so later `'data'` and `'end'` come from the socket. */
function postInChunks(port: number, path: string, id: string, agent: http.Agent | false, pauseMs: number): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'x-id': id, 'content-type': 'text/plain' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(new Error(`${res.statusCode} ${body}: ${String(error)}`));
        }
      });
    });
    req.on('error', reject);
    req.write(`first chunk of ${id};`);
    setTimeout(() => req.end(`last chunk of ${id}`), pauseMs);
  });
}

interface Backend {
  readonly name: string;
  /** Installs the backend; returns the namespace the context is also visible through, if any. */
  install(): Namespace | undefined;
  uninstall(): void;
}

let namespaceCount = 0;
function clsBackend(): Backend {
  let name = '';
  let uninstall: () => void = () => {};
  return {
    name: 'the cls-hooked backend',
    install() {
      name = `keel-context-test-${(namespaceCount += 1)}`;
      const namespace = createNamespace(name);
      uninstall = useClsHooked(namespace);
      return namespace;
    },
    uninstall() {
      uninstall();
      destroyNamespace(name);
    },
  };
}

const backends: Backend[] = [{ name: 'AsyncLocalStorage alone', install: () => undefined, uninstall: () => {} }, clsBackend()];

describe.each(backends.map((backend) => [backend.name, backend] as const))('request context with %s', (_name, backend) => {
  let namespace: Namespace | undefined;
  beforeAll(() => {
    namespace = backend.install();
  });
  afterAll(() => backend.uninstall());

  describeEachExpress('requestContext()', ({ express }) => {
    it('gives each of 1,000 concurrent requests its own context after awaits, timers, req events and a bound pool callback', async () => {
      const total = 1000;
      const pool = new CallbackPool();
      let peak = 0;
      let arrived = 0;
      let allArrived!: () => void;
      // Every request waits here until all have arrived, so all 1,000 contexts are live at once.
      const barrier = new Promise<void>((resolve) => {
        allArrived = resolve;
      });
      const giveUp = setTimeout(() => allArrived(), 10_000);
      const app = express();
      app.use(requestContext());
      app.use((req, _res, next) => {
        // An app value set through the namespace, as Sequelize's useCLS does, must last the request.
        namespace?.set('mine', req.headers['x-id']);
        next();
      });
      app.post('/check', async (req, res) => {
        const id = req.headers['x-id'];
        const context = getContext();
        peak = Math.max(peak, activeContexts().size);
        const own = (): boolean =>
          context !== undefined && getContext() === context && context.req === req && (namespace === undefined || (namespace.get('keel') === context && namespace.get('mine') === id));
        const checks: Record<string, boolean> = { entry: own(), contextOf: contextOf(req) === context };
        arrived += 1;
        if (arrived === total) allArrived();
        const body = new Promise<void>((resolve) => {
          let chunks = 0;
          let allData = true;
          req.on('data', () => {
            chunks += 1;
            allData &&= own();
          });
          req.once('end', () => {
            checks.data = allData && chunks > 0;
            checks.end = own();
            resolve();
          });
        });
        await barrier;
        peak = Math.max(peak, activeContexts().size);
        checks.afterBarrier = own();
        await sleep(randomMs(20));
        checks.afterAwait = own();
        await new Promise<void>((resolve) =>
          setTimeout(() => {
            checks.timer = own();
            resolve();
          }, randomMs(20)),
        );
        await body;
        checks.afterBody = own();
        await new Promise<void>((resolve) =>
          pool.query(
            bind(() => {
              checks.pooled = own();
              resolve();
            }),
          ),
        );
        // The same pool without bind(): no request context, which is why bind() exists.
        const unbound = await new Promise<RequestContext | undefined>((resolve) => pool.query(() => resolve(getContext())));
        res.json({ id, checks, unbound: unbound === undefined });
      });
      const { server, port } = await serve(app);
      try {
        const ids = Array.from({ length: total }, (_, index) => `request-${index}`);
        const results = await Promise.all(ids.map((id) => postInChunks(port, '/check', id, false, randomMs(15))));
        expect(results.map((result) => result.id)).toEqual(ids);
        const failed = results.filter((result) => !Object.values(result.checks).every(Boolean) || !result.unbound);
        expect(failed).toEqual([]);
        expect(Object.keys(results[0].checks).sort()).toEqual(['afterAwait', 'afterBarrier', 'afterBody', 'contextOf', 'data', 'end', 'entry', 'pooled', 'timer']);
        expect(peak).toBe(total);
      } finally {
        clearTimeout(giveUp);
        pool.end();
        await closeServer(server);
      }
    });

    it('leaks no context from one keep-alive request into the next', async () => {
      const seen: Array<{ before: unknown; beforeNamespace: unknown; own: boolean; context: RequestContext | undefined; lateTimer?: boolean }> = [];
      const app = express();
      app.use((_req, _res, next) => {
        seen.push({ before: getContext(), beforeNamespace: namespace?.get('keel'), own: false, context: undefined });
        next();
      });
      app.use(requestContext());
      app.post('/', (req, res) => {
        const entry = seen[seen.length - 1]!;
        const context = getContext();
        entry.context = context;
        // Read after the response is done and the next request has begun on the same socket.
        setTimeout(() => {
          entry.lateTimer = getContext() === context;
        }, 30);
        req.resume();
        req.on('end', () => {
          entry.own = getContext() === context && context?.req === req;
          res.json({ ok: true });
        });
      });
      const { server, port } = await serve(app);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let index = 0; index < 10; index += 1) await postInChunks(port, '/', `keep-alive-${index}`, agent, index % 2 === 0 ? 0 : 15);
        await sleep(50);
        expect(seen).toHaveLength(10);
        expect(seen.every((entry) => entry.before === undefined && entry.beforeNamespace === undefined)).toBe(true);
        expect(seen.every((entry) => entry.own && entry.lateTimer === true)).toBe(true);
        expect(new Set(seen.map((entry) => entry.context)).size).toBe(10);
        // All ten really came over one connection.
        expect(seen.every((entry) => entry.context!.req.socket === seen[0]!.context!.req.socket)).toBe(true);
      } finally {
        agent.destroy();
        await closeServer(server);
      }
    });

    it('keeps the context through express.json() reading a body sent in two parts', async () => {
      const app = express();
      app.use(requestContext());
      app.use(express.json());
      app.post('/', (req, res) => {
        res.json({ same: getContext() === contextOf(req) && getContext() !== undefined, namespace: namespace === undefined || namespace.get('keel') === getContext(), body: req.body });
      });
      const { server, port } = await serve(app);
      try {
        const result = await new Promise<any>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve(JSON.parse(body)));
          });
          req.on('error', reject);
          req.write('{"a":');
          setTimeout(() => req.end('1}'), 20);
        });
        expect(result).toEqual({ same: true, namespace: true, body: { a: 1 } });
      } finally {
        await closeServer(server);
      }
    });

    // A library that wraps emit on each request (as cls-rtracer and ee-first do) shadows the prototype's.
    describe.each([
      ['inherited from Node', false],
      ['wrapped per request by another library', true],
    ])('with emit %s', (_emit, shadowEmit) => {
      it('runs req and res listeners in the request context and ends it on finish and on a client abort', async () => {
        const seen = new Map<string, { context: RequestContext; events: Record<string, boolean> }>();
        const endCalls: string[] = [];
        const removeEndListener = onRequestContextEnd((context) => endCalls.push(String(context.req.url)));
        const app = express();
        if (shadowEmit) {
          app.use((req, res, next) => {
            for (const emitter of [req, res] as NodeJS.EventEmitter[]) {
              const emit = emitter.emit;
              emitter.emit = function wrappedEmit(this: NodeJS.EventEmitter, ...args: Parameters<typeof emit>) {
                return emit.apply(this, args);
              };
            }
            next();
          });
        }
        app.use(requestContext());
        app.post('/:id', (req, res) => {
          const context = getContext()!;
          const events: Record<string, boolean> = {};
          seen.set(req.params.id!, { context, events });
          const record = (name: string) => () => {
            events[name] = (events[name] ?? true) && getContext() === context;
          };
          req.on('data', record('data'));
          req.on('end', record('end'));
          res.on('finish', record('finish'));
          res.on('close', record('close'));
          // 'abandoned' never answers: its client goes away first.
          if (req.params.id === 'finished') req.on('end', () => res.json({ ok: true }));
        });
        const { server, port } = await serve(app);
        try {
          await postInChunks(port, '/finished', 'finished', false, 10);
          const abandoned = http.request({ host: '127.0.0.1', port, path: '/abandoned', method: 'POST', agent: false });
          abandoned.on('error', () => {});
          abandoned.write('part of a body');
          // Waits for the listener to have run at all, whatever context it saw; the test's timeout bounds it.
          while (seen.get('abandoned')?.events.data === undefined) await sleep(5);
          abandoned.destroy();
          while (seen.get('abandoned')!.events.close === undefined) await sleep(5);

          const finished = seen.get('finished')!;
          expect(finished.events).toEqual({ data: true, end: true, finish: true, close: true });
          expect(finished.context.ended).toBe(true);
          const abandonedRequest = seen.get('abandoned')!;
          expect(abandonedRequest.events).toEqual({ data: true, close: true });
          expect(abandonedRequest.context.ended).toBe(true);
          expect(activeContexts().has(finished.context) || activeContexts().has(abandonedRequest.context)).toBe(false);
          expect(endCalls).toEqual(['/finished', '/abandoned']);
        } finally {
          removeEndListener();
          await closeServer(server);
        }
      });
    });

    it('tells onRequestContextEnd() listeners once per request, finished or abandoned, before the response\'s own close listeners', async () => {
      const ended: Array<{ path: string | undefined; finished: boolean; ended: boolean }> = [];
      const order: string[] = [];
      const remove = onRequestContextEnd((context) => {
        ended.push({ path: context.req.url, finished: context.res.writableEnded, ended: context.ended });
        order.push(`end ${context.req.url}`);
      });
      const app = express();
      app.use(requestContext());
      app.get('/finished', (req, res) => {
        res.on('close', () => order.push(`close ${req.url}`));
        res.json({ ok: true });
      });
      let abandonedArrived = false;
      app.get('/abandoned', (req, res) => {
        res.on('close', () => order.push(`close ${req.url}`));
        abandonedArrived = true;
      });
      const { server, port } = await serve(app);
      try {
        await new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/finished', agent: false }, (res) => res.resume().on('end', resolve)));
        const abandoned = http.get({ host: '127.0.0.1', port, path: '/abandoned', agent: false });
        abandoned.on('error', () => {});
        while (!abandonedArrived) await sleep(5);
        abandoned.destroy();
        while (ended.length < 2) await sleep(5);
        remove();
        await new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/finished', agent: false }, (res) => res.resume().on('end', resolve)));
        await sleep(20);
        expect(ended).toEqual([
          { path: '/finished', finished: true, ended: true },
          { path: '/abandoned', finished: false, ended: true },
        ]);
        expect(order.slice(0, 4)).toEqual(['end /finished', 'close /finished', 'end /abandoned', 'close /abandoned']);
      } finally {
        remove();
        await closeServer(server);
      }
    });

    it('opens one context per request that every later keel middleware joins', async () => {
      const contexts: Array<RequestContext | undefined> = [];
      const app = express();
      app.use(requestContext());
      app.use((req, res, next) => {
        contexts.push(getContext());
        runInRequestContext(req, res, next);
      });
      app.use(requestContext());
      app.get('/', (req, res) => {
        contexts.push(getContext(), contextOf(req));
        res.end();
      });
      const { server, port } = await serve(app);
      try {
        await new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => res.resume().on('end', resolve)));
        expect(contexts).toHaveLength(3);
        expect(new Set(contexts).size).toBe(1);
        expect(contexts[0]).toBeDefined();
      } finally {
        await closeServer(server);
      }
    });

    it.each([
      ['runInRequestContext(req, res, next)', 'lookup'],
      ['enterRequestContext(context, next)', 'opened'],
    ] as const)('lets a middleware fill in a context opened with openRequestContext() before running the chain in it with %s', async (_name, entry) => {
      const seen: Array<{ opened: RequestContext; outside: RequestContext | undefined; inside: RequestContext | undefined; traceId: string | undefined; body: string }> = [];
      const app = express();
      app.use((req, res, next) => {
        const opened = openRequestContext(req, res);
        expect(openRequestContext(req, res)).toBe(opened);
        opened.traceId = String(req.headers['x-id']);
        const outside = getContext();
        const enter = (fn: () => void): void => (entry === 'opened' ? enterRequestContext(opened, fn) : runInRequestContext(req, res, fn));
        enter(() => {
          let body = '';
          // Added inside the context, so Node's later 'data' and 'end' events enter it.
          req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          req.on('end', () => {
            const inside = getContext();
            seen.push({ opened, outside, inside, traceId: inside?.traceId, body });
            next();
          });
        });
      });
      app.use(requestContext());
      app.post('/', (_req, res) => {
        res.json({ traceId: getContext()?.traceId });
      });
      const { server, port } = await serve(app);
      try {
        const answers = await Promise.all(['a', 'b', 'c'].map((id) => postInChunks(port, '/', id, false, 10)));
        expect(answers.map((answer) => answer.traceId)).toEqual(['a', 'b', 'c']);
        expect(seen).toHaveLength(3);
        for (const { opened, outside, inside, traceId, body } of seen) {
          expect(outside).toBeUndefined();
          expect(inside).toBe(opened);
          expect(body).toBe(`first chunk of ${traceId};last chunk of ${traceId}`);
        }
      } finally {
        await closeServer(server);
      }
    });

    it("runs a response's listeners in its own context when another request's code ends it", async () => {
      // Added inside the request, as a logger mounted after keel's first middleware would.
      const finishedIn = new Map<string, string | undefined>();
      const parked: Array<{ res: http.ServerResponse; id: string }> = [];
      const app = express();
      app.use(requestContext());
      app.use((req, res, next) => {
        res.on('finish', () => finishedIn.set(String(req.url), getContext()?.req.url));
        res.once('close', () => finishedIn.set(`${String(req.url)} close`, getContext()?.req.url));
        next();
      });
      app.get('/wait/:id', (req, res) => {
        parked.push({ res, id: req.params.id! });
      });
      app.post('/publish', (_req, res) => {
        for (const waiting of parked.splice(0)) waiting.res.end(waiting.id);
        res.end('published');
      });
      const { server, port } = await serve(app);
      try {
        const get = (path: string) => new Promise((resolve) => http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => res.resume().on('end', resolve)));
        const waits = [get('/wait/a'), get('/wait/b')];
        while (parked.length < 2) await sleep(5);
        await new Promise((resolve) => http.request({ host: '127.0.0.1', port, path: '/publish', method: 'POST', agent: false }, (res) => res.resume().on('end', resolve)).end());
        await Promise.all(waits);
        while (finishedIn.size < 6) await sleep(5);
        expect(Object.fromEntries(finishedIn)).toEqual({
          '/wait/a': '/wait/a',
          '/wait/b': '/wait/b',
          '/publish': '/publish',
          '/wait/a close': '/wait/a',
          '/wait/b close': '/wait/b',
          '/publish close': '/publish',
        });
      } finally {
        await closeServer(server);
      }
    });

    it('lists in activeContexts() every request still open, whatever order they end in', async () => {
      const waiting = new Map<string, { context: RequestContext; end: () => void }>();
      const app = express();
      app.use(requestContext());
      app.get('/:id', (req, res) => {
        waiting.set(req.params.id!, { context: getContext()!, end: () => res.end(req.params.id) });
      });
      const { server, port } = await serve(app);
      const ids = ['a', 'b', 'c', 'd'];
      const answered = ids.map((id) => new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: `/${id}`, agent: false }, (res) => res.resume().on('end', resolve))));
      try {
        while (waiting.size < ids.length) await sleep(5);
        const contextOf = (id: string) => waiting.get(id)!.context;
        const stillActive = () => ids.filter((id) => activeContexts().has(contextOf(id)));
        expect(stillActive()).toEqual(ids);
        // The middle one, the newest, then the oldest: each unlinks itself and leaves the others listed.
        for (const [id, left] of [['b', ['a', 'c', 'd']], ['d', ['a', 'c']], ['a', ['c']], ['c', []]] as const) {
          waiting.get(id)!.end();
          while (!contextOf(id).ended) await sleep(2);
          expect(stillActive()).toEqual(left);
        }
        await Promise.all(answered);
      } finally {
        await closeServer(server);
      }
    });

    it('tracks the context as active until the response ends, with a signal aborted once, first reason winning', async () => {
      let context: RequestContext | undefined;
      let activeDuring = false;
      const app = express();
      app.use(requestContext());
      app.get('/', (_req, res) => {
        context = getContext()!;
        activeDuring = activeContexts().has(context);
        context.abort(new Error('first'));
        context.abort(new Error('second'));
        res.end();
      });
      const { server, port } = await serve(app);
      try {
        await new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => res.resume().on('end', resolve)));
        expect(activeDuring).toBe(true);
        expect(activeContexts().has(context!)).toBe(false);
        expect(context!.ended).toBe(true);
        expect(context!.aborted).toBe(true);
        // The signal is created on first read, already aborted with the first reason.
        expect(context!.signal.aborted).toBe(true);
        expect((context!.signal.reason as Error).message).toBe('first');
        expect(Object.keys(JSON.parse(JSON.stringify(context)))).toEqual(['startedAt', 'aborted', 'ended']);
      } finally {
        await closeServer(server);
      }
    });

    it('is undefined outside a request, and requestContext() rejects unknown options at app.use()', () => {
      expect(getContext()).toBeUndefined();
      const app = express();
      let error: any;
      try {
        app.use(requestContext({ store: 'als' } as never));
      } catch (caught) {
        error = caught;
      }
      expect(isInvalidOptionError(error)).toBe(true);
      expect(error.message).toBe('@keel/lifecycle: option "store" must be one of the known options (); received "an unknown option"');
    });
  });
});

describe('useClsHooked()', () => {
  it('rejects what is not a namespace, unknown options, and a second bridge', () => {
    const namespace = createNamespace('keel-use-cls-options');
    try {
      expect(() => useClsHooked({} as never)).toThrow('@keel/lifecycle: option "namespace" must be a cls-hooked namespace (from createNamespace()); received an object');
      expect(() => useClsHooked(namespace, { keys: 'x' } as never)).toThrow('option "keys" must be one of the known options (key)');
      expect(() => useClsHooked(namespace, { key: '' })).toThrow('option "key" must be a non-empty string');
      const uninstall = useClsHooked(namespace, { key: 'request' });
      try {
        expect(() => useClsHooked(namespace)).toThrow('must be the only context bridge');
      } finally {
        uninstall();
      }
      expect(getContextBridge()).toBeUndefined();
      uninstall();
    } finally {
      destroyNamespace('keel-use-cls-options');
    }
  });

  describeEachExpress('useClsHooked()', ({ express }) => {
    it('stores the context under the chosen key, visible in nested namespace contexts, until uninstalled', async () => {
      const namespace = createNamespace('keel-use-cls-key');
      const uninstall = useClsHooked(namespace, { key: 'request' });
      const seen: unknown[] = [];
      const app = express();
      app.use(requestContext());
      app.get('/', async (_req, res) => {
        const context = getContext();
        // A Sequelize transaction opens a child namespace context; the request's must show through it.
        const nested = await namespace.runAndReturn(async () => {
          namespace.set('transaction', 'tx-1');
          await sleep(5);
          return namespace.get('request') === context && namespace.get('transaction') === 'tx-1';
        });
        seen.push(namespace.get('request') === context, nested, namespace.get('transaction'));
        res.end();
      });
      const { server, port } = await serve(app);
      const get = () => new Promise((resolve) => http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => res.resume().on('end', resolve)));
      try {
        await get();
        expect(seen).toEqual([true, true, undefined]);
        uninstall();
        await get();
        expect(seen.slice(3)).toEqual([false, false, undefined]);
      } finally {
        uninstall();
        destroyNamespace('keel-use-cls-key');
        await closeServer(server);
      }
    });
  });
});
