import request from 'supertest';
import { describeEachExpress, type ExpressFactory } from '@keel/test-support';
import { guard, guardApp, isExpressApp, isExpressRouter } from '@keel/async-guard';
import { createFailingRouter } from './routers/failing-router';
import { createItemsRouter } from './routers/items-router';

type Next = (err?: unknown) => void;
type App = ReturnType<ExpressFactory>;

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The app's last error handler: answers with what reached it. */
function finish(app: App): unknown[] {
  const seen: unknown[] = [];
  app.use((err: any, _req: any, res: any, _next: Next) => {
    seen.push(err);
    res.status(500).json({ isError: err instanceof Error, name: err?.name, message: err?.message, cause: err?.cause === undefined ? '<undefined>' : err.cause });
  });
  return seen;
}

describeEachExpress('guardApp()', ({ express, major }) => {
  it('returns the app itself and leaves app.get(setting) alone', () => {
    const app = express();
    app.set('title', 'keel');
    expect(guardApp(app)).toBe(app);
    expect(app.get('title')).toBe('keel');
    expect(isExpressApp(app)).toBe(true);
    expect(isExpressRouter(express.Router())).toBe(true);
  });

  describe('every kind of async handler reaches the error handler, whatever it rejects with', () => {
    const values: Array<[string, unknown]> = [
      ['undefined', undefined],
      ['null', null],
      ['a string', 'failed'],
      ['an Error', new Error('failed')],
    ];
    // Each kind registers its handler and returns the path that reaches it.
    const kinds: Array<[string, (app: App, value: unknown) => string]> = [
      ['a route handler', (app, value) => {
        app.get('/route', async () => { await tick(); throw value; });
        return '/route';
      }],
      ['a middleware', (app, value) => {
        app.use(async (_req: unknown, _res: unknown, _next: Next) => { await tick(); throw value; });
        return '/anything';
      }],
      ['an error middleware', (app, value) => {
        app.use((_req, _res, next) => next(new Error('first')));
        app.use(async (_err: unknown, _req: unknown, _res: unknown, _next: Next) => { await tick(); throw value; });
        return '/anything';
      }],
      ['a param handler', (app, value) => {
        app.param('id', async (_req: unknown, _res: unknown, _next: Next, _id: string) => { await tick(); throw value; });
        app.get('/items/:id', (_req, res) => res.send('unreachable'));
        return '/items/7';
      }],
      ['a router from another module', (app, value) => {
        app.use('/module', createFailingRouter(express, value));
        return '/module';
      }],
    ];
    const cases = kinds.flatMap(([kind, register]) => values.map(([label, value]) => [kind, label, register, value] as const));

    it.each(cases)('%s rejecting with %s', async (_kind, _label, register, value) => {
      const app = guardApp(express());
      const path = register(app, value);
      const seen = finish(app);
      expect((await request(app).get(path)).status).toBe(500);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeInstanceOf(Error);
      if (value instanceof Error) expect(seen[0]).toBe(value);
      else expect((seen[0] as Error).cause).toBe(value);
    });
  });

  it('guards handlers registered before and after the call, with every rejection value', async () => {
    const app = express();
    app.get('/before/undefined', async () => {
      throw undefined;
    });
    app.use('/before/use', async (_req: unknown, _res: unknown, _next: Next) => {
      throw null;
    });
    guardApp(app);
    app.get('/after/string', async () => {
      await tick();
      throw 'after';
    });
    app.post('/after/error', async () => {
      throw new Error('post failed');
    });
    app.all('/after/all', async () => {
      throw 'all methods';
    });
    app.use('/after/use', async (_req: unknown, _res: unknown, _next: Next) => {
      throw undefined;
    });
    finish(app);
    const cases: Array<[string, 'get' | 'post' | 'put', unknown]> = [
      ['/before/undefined', 'get', '<undefined>'],
      ['/before/use', 'get', null],
      ['/after/string', 'get', 'after'],
      ['/after/all', 'put', 'all methods'],
      ['/after/use', 'get', '<undefined>'],
    ];
    for (const [path, method, cause] of cases) {
      const res = await request(app)[method](path);
      expect({ path, status: res.status, body: res.body }).toEqual({
        path,
        status: 500,
        body: { isError: true, name: 'ThrownValueError', message: expect.any(String), cause },
      });
    }
    const res = await request(app).post('/after/error');
    expect(res.body).toMatchObject({ name: 'Error', message: 'post failed' });
  });

  it('guards a router from another module, mounted after the call, and routes added to it later', async () => {
    const app = guardApp(express());
    const items = createItemsRouter(express);
    app.use('/items', items);
    items.get('/:itemId/late', async () => {
      throw 'added after mounting';
    });
    finish(app);
    expect((await request(app).get('/items/7')).body).toEqual({ item: '7' });
    const expectations: Array<[string, 'get' | 'post', Record<string, unknown>]> = [
      ['/items/broken', 'get', { name: 'ThrownValueError', cause: '<undefined>' }],
      ['/items/bad', 'get', { name: 'ThrownValueError', cause: 'bad item id' }],
      ['/items/7/notes', 'get', { name: 'Error', message: 'notes unavailable' }],
      ['/items/7/notes', 'post', { name: 'ThrownValueError', cause: null }],
      ['/items/nested/deep', 'get', { name: 'ThrownValueError', cause: 'deep failure' }],
      ['/items/7/late', 'get', { name: 'ThrownValueError', cause: 'added after mounting' }],
    ];
    for (const [path, method, body] of expectations) {
      const res = await request(app)[method](path);
      expect({ path, method, status: res.status, body: res.body }).toEqual({ path, method, status: 500, body: expect.objectContaining(body) });
    }
  });

  it('guards a router mounted before the call, found on the app router stack', async () => {
    const app = express();
    app.use('/items', createItemsRouter(express));
    guardApp(app);
    finish(app);
    expect((await request(app).get('/items/bad')).body).toMatchObject({ cause: 'bad item id' });
    expect((await request(app).get('/items/nested/deep')).body).toMatchObject({ cause: 'deep failure' });
    expect((await request(app).post('/items/1/notes')).body).toMatchObject({ cause: null });
  });

  it('mounts routers as they are, so their stack stays reachable', () => {
    const app = guardApp(express());
    const items = createItemsRouter(express);
    app.use('/items', items);
    const router = (major === 4 ? (app as any)._router : (app as any).router) as { stack: Array<{ handle: unknown }> };
    expect(router.stack.some((layer) => layer.handle === items)).toBe(true);
  });

  it('guards route() chains on the app and on routers', async () => {
    const app = guardApp(express());
    app
      .route('/things')
      .get(async () => {
        throw 'get failed';
      })
      .put(async (_req: unknown, _res: unknown, next: Next) => {
        next();
        throw new Error('put failed after next');
      })
      .put((_req, res) => res.send('second put handler'));
    finish(app);
    expect((await request(app).get('/things')).body).toMatchObject({ cause: 'get failed' });
    const warn = jest.spyOn(process, 'emitWarning');
    try {
      expect((await request(app).put('/things')).text).toBe('second put handler');
      await tick();
      expect(warn.mock.calls.filter(([, options]) => (options as { code?: string })?.code === 'KEEL_LATE_ERROR')).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('guards params registered before and after the call', async () => {
    const app = express();
    app.param('a', async (_req: unknown, _res: unknown, _next: Next, value: string) => {
      throw `param a ${value}`;
    });
    guardApp(app);
    app.param('b', async (_req: unknown, _res: unknown, _next: Next, value: string) => {
      throw `param b ${value}`;
    });
    app.get('/a/:a', (_req, res) => res.send('a'));
    app.get('/b/:b', (_req, res) => res.send('b'));
    finish(app);
    expect((await request(app).get('/a/1')).body).toMatchObject({ cause: 'param a 1' });
    expect((await request(app).get('/b/2')).body).toMatchObject({ cause: 'param b 2' });
  });

  it('guards a sub-app mounted after the call, and its own routers', async () => {
    const app = guardApp(express());
    const admin = express();
    app.use('/admin', admin);
    const reports = express.Router();
    admin.use('/reports', reports);
    admin.get('/users', async () => {
      throw 'sub-app failure';
    });
    reports.get('/daily', async () => {
      throw 'report failure';
    });
    finish(app);
    expect((await request(app).get('/admin/users')).body).toMatchObject({ cause: 'sub-app failure' });
    expect((await request(app).get('/admin/reports/daily')).body).toMatchObject({ cause: 'report failure' });
  });

  it('guards async error middleware registered after the call, still as error middleware', async () => {
    const app = guardApp(express());
    const order: string[] = [];
    app.get('/', async () => {
      throw new Error('route failed');
    });
    app.use(async (err: Error, _req: unknown, _res: unknown, _next: Next) => {
      order.push(`first saw ${err.message}`);
      throw 'error middleware failed';
    });
    app.use((_req, res) => {
      order.push('request middleware ran');
      res.send('wrong');
    });
    finish(app);
    const res = await request(app).get('/');
    expect(res.body).toMatchObject({ cause: 'error middleware failed' });
    expect(order).toEqual(['first saw route failed']);
  });

  it('does not create the router early: routing settings made after the call still apply', async () => {
    const app = guardApp(express());
    app.set('strict routing', true);
    app.set('case sensitive routing', true);
    app.get('/Strict', (_req, res) => res.send('exact'));
    expect((await request(app).get('/Strict')).text).toBe('exact');
    expect((await request(app).get('/Strict/')).status).toBe(404);
    expect((await request(app).get('/strict')).status).toBe(404);
  });

  it('is idempotent: guarding twice, or guarding handlers again, runs each handler once per request', async () => {
    const app = guardApp(express());
    guardApp(app);
    let runs = 0;
    const handler = guard(async (_req: unknown, _res: unknown, _next: Next) => {
      runs += 1;
      throw 'once';
    });
    app.get('/', handler);
    app.all('/all', handler);
    guardApp(app);
    const seen = finish(app);
    await request(app).get('/');
    await request(app).delete('/all');
    expect(runs).toBe(2);
    expect(seen).toHaveLength(2);
  });

  it('rejects what is neither an app nor a router', () => {
    expect(() => guardApp({} as never)).toThrow(/@keel\/async-guard.*an Express app or router/);
    expect(() => guardApp((() => {}) as never)).toThrow(/an Express app or router/);
  });
});

describeEachExpress('guardApp() and keel middleware', ({ express }) => {
  it("leaves keel's own middleware unwrapped and still guards the app's handlers", async () => {
    const { requestContext, probes, createLifecycle, SETTLES_SAFELY } = await import('@keel/lifecycle');
    const lifecycle = createLifecycle({ signals: [], exit: false });
    try {
      const context = requestContext();
      const probe = probes({ lifecycle });
      const mine = async (_req: unknown, _res: unknown, _next: unknown) => {
        throw new Error('rejected in an async handler');
      };
      const app = guardApp(express());
      app.use(context);
      app.use(probe);
      app.get('/fails', mine);
      app.use((error: Error, _req: unknown, res: { status(code: number): { json(body: unknown): void } }, _next: unknown) => {
        res.status(500).json({ message: error.message });
      });
      const router = (app as unknown as { _router?: { stack: Array<{ handle: unknown }> }; router?: { stack: Array<{ handle: unknown }> } });
      const handles = (router._router ?? router.router)!.stack.map((layer) => layer.handle);
      expect(handles).toContain(context);
      expect(handles).toContain(probe);
      expect((context as unknown as Record<symbol, unknown>)[SETTLES_SAFELY]).toBe(true);
      const response = await request(app).get('/fails');
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ message: 'rejected in an async handler' });
    } finally {
      lifecycle.dispose();
    }
  });
});
