import request from 'supertest';
import { describeEachExpress, type ExpressFactory } from '@keel/test-support';
import { guard, isThrownValueError, ThrownValueError } from '@keel/async-guard';

type Next = (err?: unknown) => void;

/** An app whose last error handler answers with what reached it, so a test can read it from the response. */
function finish(app: ReturnType<ExpressFactory>, seen: unknown[] = []): unknown[] {
  app.use((err: any, _req: any, res: any, _next: Next) => {
    seen.push(err);
    res.status(typeof err?.status === 'number' ? err.status : 500).json({
      isError: err instanceof Error,
      name: err?.name,
      message: err?.message,
      code: err?.code,
      cause: err?.cause === undefined ? '<undefined>' : err.cause,
    });
  });
  return seen;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Collects the warnings guard emits while `fn` runs. Jest's sandboxed `process`
 * does not deliver 'warning' events, so the call is observed (and still made).
 */
async function warningsDuring(fn: () => Promise<unknown>): Promise<Array<{ message: string; code: string | undefined }>> {
  const spy = jest.spyOn(process, 'emitWarning');
  try {
    await fn();
    await tick();
    return spy.mock.calls
      .filter(([, options]) => typeof options === 'object' && (options as { type?: string }).type === 'KeelAsyncGuardWarning')
      .map(([message, options]) => ({ message: String(message), code: (options as { code?: string }).code }));
  } finally {
    spy.mockRestore();
  }
}

describeEachExpress('guard()', ({ express }) => {
  describe('a rejected async handler reaches the error handler', () => {
    it.each([
      ['undefined', undefined, '<undefined>'],
      ['null', null, null],
      ['a string', 'boom', 'boom'],
      ['false', false, false],
      ['0', 0, 0],
      ['an empty string', '', ''],
    ])('as a ThrownValueError with %s as cause', async (_label, value, cause) => {
      const app = express();
      app.get('/', guard(async () => {
        await tick();
        throw value;
      }));
      finish(app);
      const res = await request(app).get('/');
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ isError: true, name: 'ThrownValueError', code: 'ERR_KEEL_THROWN_VALUE', cause });
    });

    it('as the same Error when an Error is thrown', async () => {
      const app = express();
      const error = Object.assign(new Error('db down'), { status: 503 });
      app.get('/', guard(async () => {
        await tick();
        throw error;
      }));
      const seen = finish(app);
      const res = await request(app).get('/');
      expect(res.status).toBe(503);
      expect(seen).toEqual([error]);
      expect(seen[0]).toBe(error);
    });

    it('keeps the status and headers of a thrown plain object in http-errors shape', async () => {
      const app = express();
      app.get('/', guard(async () => {
        throw { status: 404, message: 'no such user', headers: { 'x-reason': 'missing' } };
      }));
      finish(app);
      const res = await request(app).get('/');
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ name: 'ThrownValueError', message: 'no such user', cause: { status: 404, message: 'no such user' } });
    });

    it('answers 500 for a thrown object whose status is out of range', async () => {
      const app = express();
      app.get('/', guard(async () => {
        throw { status: 200 };
      }));
      const seen = finish(app);
      const res = await request(app).get('/');
      expect(res.status).toBe(500);
      expect((seen[0] as ThrownValueError).expose).toBe(false);
    });

    it('also for a synchronous throw of a non-Error value', async () => {
      const app = express();
      app.get('/', guard(() => {
        throw undefined;
      }));
      finish(app);
      const res = await request(app).get('/');
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ name: 'ThrownValueError', cause: '<undefined>' });
    });

    it('from async middleware mounted with use()', async () => {
      const app = express();
      app.use(guard(async (_req: unknown, _res: unknown, _next: Next) => {
        await tick();
        throw new Error('middleware failed');
      }));
      app.get('/', (_req, res) => res.send('unreachable'));
      finish(app);
      const res = await request(app).get('/');
      expect(res.status).toBe(500);
      expect(res.body.message).toBe('middleware failed');
    });

    it('from an async param handler, whose next is its third argument', async () => {
      const app = express();
      const loads: string[] = [];
      app.param('id', guard(async (req: any, _res: unknown, next: Next, id: string) => {
        await tick();
        if (id === 'missing') throw null;
        loads.push(id);
        req.item = { id };
        next();
      }));
      app.get('/items/:id', (req: any, res) => res.json(req.item));
      finish(app);
      expect((await request(app).get('/items/7')).body).toEqual({ id: '7' });
      const res = await request(app).get('/items/missing');
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ name: 'ThrownValueError', cause: null });
      expect(loads).toEqual(['7']);
    });

    it('from async error middleware, which reaches the next error handler', async () => {
      const app = express();
      app.get('/', guard(async () => {
        throw new Error('first');
      }));
      app.use(guard(async (err: Error, _req: unknown, _res: unknown, _next: Next) => {
        await tick();
        throw `while handling ${err.message}`;
      }));
      finish(app);
      const res = await request(app).get('/');
      expect(res.status).toBe(500);
      expect(res.body).toMatchObject({ name: 'ThrownValueError', cause: 'while handling first' });
    });
  });

  describe('keeps the handler recognisable', () => {
    it.each([
      [2, function handler2(_req: unknown, _res: unknown) {}],
      [3, function handler3(_req: unknown, _res: unknown, _next: unknown) {}],
      [4, function handler4(_err: unknown, _req: unknown, _res: unknown, _next: unknown) {}],
      [5, function param5(_req: unknown, _res: unknown, _next: unknown, _value: unknown, _name: unknown) {}],
    ])('keeps arity %i and the name', (length, fn) => {
      const guarded = guard(fn);
      expect(guarded).not.toBe(fn);
      expect(guarded.length).toBe(length);
      expect(guarded.name).toBe(fn.name);
    });

    it('returns the same wrapper for a handler guarded twice, or a wrapper guarded again', () => {
      const fn = async (_req: unknown, _res: unknown): Promise<void> => {};
      const once = guard(fn);
      expect(guard(fn)).toBe(once);
      expect(guard(once)).toBe(once);
    });

    it('keeps a guarded 4-argument error middleware an error middleware', async () => {
      const app = express();
      const ran: string[] = [];
      app.get('/', (_req, _res, next) => next(new Error('failed')));
      // A 0-arity wrapper (express-async-handler) would be skipped for errors and run for requests.
      app.use(guard(async (err: Error, _req: unknown, res: any, _next: Next) => {
        ran.push(`error middleware saw ${err.message}`);
        res.status(418).send('handled');
      }));
      app.get('/ok', (_req, res) => res.send('ok'));
      expect((await request(app).get('/')).status).toBe(418);
      expect((await request(app).get('/ok')).text).toBe('ok');
      expect(ran).toEqual(['error middleware saw failed']);
    });

    it('returns what the handler returned, so a resolved promise still resolves with its value', async () => {
      const guarded = guard(async (_req: unknown, _res: unknown, _next: Next) => 42);
      await expect(guarded({}, {}, () => {})).resolves.toBe(42);
      const rejected = guard(async (_req: unknown, _res: unknown, _next: Next) => {
        throw new Error('x');
      });
      // The wrapper's promise never rejects: the error went to next instead, so Express 5 cannot forward it twice.
      const nextCalls: unknown[] = [];
      await expect(rejected({}, {}, (err?: unknown) => nextCalls.push(err))).resolves.toBeUndefined();
      expect(nextCalls).toHaveLength(1);
    });
  });

  describe('calls next at most once', () => {
    it('when a handler calls next() and then rejects: the next handler runs once, the error handler never', async () => {
      const app = express();
      let secondRuns = 0;
      app.get('/', guard(async (_req: unknown, _res: unknown, next: Next) => {
        next();
        await tick();
        throw new Error('after next');
      }));
      app.get('/', (_req, res) => {
        secondRuns += 1;
        res.send('second');
      });
      const seen = finish(app);
      const warnings = await warningsDuring(async () => {
        const res = await request(app).get('/');
        expect(res.text).toBe('second');
        await tick();
      });
      expect(secondRuns).toBe(1);
      expect(seen).toEqual([]);
      expect(warnings.map((warning) => warning.code)).toEqual(['KEEL_LATE_ERROR']);
      expect(warnings[0]!.message).toMatch(/threw or rejected after it had called next\(\)/);
    });

    it('when a handler calls next twice: the second call is ignored and reported', async () => {
      const app = express();
      let secondRuns = 0;
      app.get('/', guard((_req: unknown, _res: unknown, next: Next) => {
        next();
        next(new Error('again'));
      }));
      app.get('/', (_req, res) => {
        secondRuns += 1;
        res.send('second');
      });
      const seen = finish(app);
      const warnings = await warningsDuring(async () => {
        expect((await request(app).get('/')).text).toBe('second');
      });
      expect(secondRuns).toBe(1);
      expect(seen).toEqual([]);
      expect(warnings.map((warning) => warning.code)).toEqual(['KEEL_NEXT_TWICE']);
    });

    it('when a handler calls next(err) and then throws: the error handler runs once, with the first error', async () => {
      const app = express();
      app.get('/', guard((_req: unknown, _res: unknown, next: Next) => {
        next(new Error('first'));
        throw new Error('second');
      }));
      const seen = finish(app);
      await warningsDuring(async () => {
        expect((await request(app).get('/')).body.message).toBe('first');
      });
      expect(seen).toHaveLength(1);
    });
  });

  describe("keeps Express's routing strings", () => {
    it("treats a rejected 'route' as next('route'), as Express 5 does", async () => {
      const app = express();
      app.get('/', guard(async () => {
        await tick();
        throw 'route';
      }), (_req, res) => res.send('skipped'));
      app.get('/', (_req, res) => res.send('next route'));
      finish(app);
      expect((await request(app).get('/')).text).toBe('next route');
    });

    it("treats a rejected 'router' as leaving the router", async () => {
      const app = express();
      const router = express.Router();
      router.use(guard(async () => {
        throw 'router';
      }));
      router.get('/', (_req, res) => res.send('inside'));
      app.use(router);
      app.get('/', (_req, res) => res.send('after the router'));
      finish(app);
      expect((await request(app).get('/')).text).toBe('after the router');
    });
  });

  it('rejects what is not a function, naming the package', () => {
    expect(() => guard('nope' as never)).toThrow(/@keel\/async-guard.*guard\(fn\).*a function/);
  });

  it('guards an Express router given to it as a whole and returns it unchanged', async () => {
    const app = express();
    const router = express.Router();
    router.get('/', async () => {
      throw 'inside a router';
    });
    expect(guard(router)).toBe(router);
    app.use(router);
    finish(app);
    const res = await request(app).get('/');
    expect(res.status).toBe(500);
    expect(res.body.cause).toBe('inside a router');
  });
});

describe('ThrownValueError', () => {
  it('has the http-errors shape, a stable code and the value as cause', () => {
    const error = new ThrownValueError('boom');
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'ThrownValueError', status: 500, statusCode: 500, expose: false, headers: {}, code: 'ERR_KEEL_THROWN_VALUE', cause: 'boom' });
    expect(error.message).toBe('A handler threw or rejected with a non-Error value: "boom"');
    expect(isThrownValueError(error)).toBe(true);
    expect(isThrownValueError({ code: 'ERR_KEEL_THROWN_VALUE' })).toBe(true);
    expect(isThrownValueError(new Error('x'))).toBe(false);
    expect(isThrownValueError(null)).toBe(false);
  });

  it('exposes the message of a 4xx only when the thrown object says expose: true, and copies only string and number headers', () => {
    const error = new ThrownValueError({ statusCode: 409, message: 'conflict', expose: true, headers: { 'retry-after': 3, bad: { x: 1 } } });
    expect(error).toMatchObject({ status: 409, expose: true, message: 'conflict', headers: { 'retry-after': '3' } });
    expect(Object.isFrozen(error.headers)).toBe(true);
    expect(new ThrownValueError({ status: 400, message: 'SECRET column "ssn"' })).toMatchObject({ status: 400, expose: false });
    expect(new ThrownValueError({ status: 500, message: 'SECRET', expose: true })).toMatchObject({ status: 500, expose: false });
  });
});
