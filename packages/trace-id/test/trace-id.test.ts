import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import { contextOf, getContext, isInvalidOptionError, runInRequestContext } from '@keel/lifecycle';
import {
  DEFAULTS,
  getParentId,
  getReceivedId,
  getRequestId,
  getSpanId,
  getTraceId,
  getTraceparent,
  isSampled,
  traceHeaders,
  traceId,
  uninstallPropagation,
  type ReplacedIdEvent,
  type TraceIdOptions,
} from '@keel/trace-id';
import { describeEachExpress, type ExpressFactory } from '@keel/test-support';
import { memoryLogger, SPAN_ID, TRACE_ID, UUID } from './helpers';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

afterAll(() => uninstallPropagation());

/** Checks `traceparent` is of `trace` with `flags`, its parent a span of the call's own: neither `spanId` nor the caller's. */
function expectCallOf(traceparent: string, trace: string, spanId: string, flags = '01'): void {
  expect(traceparent).toMatch(new RegExp(`^00-${trace}-[0-9a-f]{16}-${flags}$`));
  expect(traceparent.slice(36, 52)).not.toBe(spanId);
  expect(traceparent.slice(36, 52)).not.toBe(PARENT);
}

/** An app whose one route answers with everything the request's context holds, read after async hops. */
function tracedApp(express: ExpressFactory, options?: Partial<TraceIdOptions>) {
  const app = express();
  const replaced: ReplacedIdEvent[] = [];
  const { logger, lines } = memoryLogger();
  app.use(traceId({ onReplace: (event) => replaced.push(event), ...options }));
  app.get('/', async (req, res) => {
    await delay(1);
    await new Promise((resolve) => setImmediate(resolve));
    logger.info('handled');
    res.json({
      traceId: getTraceId(),
      spanId: getSpanId(),
      parentId: getParentId() ?? null,
      sampled: isSampled(),
      requestId: getRequestId() ?? null,
      receivedId: getReceivedId() ?? null,
      traceparent: getTraceparent(),
      headers: traceHeaders(),
      fromReq: getTraceId(req),
    });
  });
  return { app, replaced, lines };
}

describeEachExpress('traceId()', ({ express }) => {
  it('gives a request without an ID a fresh W3C trace ID, sampled, echoes it, exposes it and reports the replacement', async () => {
    const { app, replaced, lines } = tracedApp(express);
    const res = await request(app).get('/').set('Origin', 'https://app.example.com').expect(200);
    expect(res.body.traceId).toMatch(TRACE_ID);
    expect(res.headers['x-request-id']).toBe(res.body.traceId);
    expect(res.headers['access-control-expose-headers']).toBe('x-request-id');
    expect(res.body.spanId).toMatch(SPAN_ID);
    expect(res.body).toMatchObject({ parentId: null, requestId: null, sampled: true, fromReq: res.body.traceId });
    // The logged trace ID is the very one traceparent carries: a tracing UI and the logs name one trace.
    expectCallOf(res.body.traceparent, res.body.traceId, res.body.spanId);
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toMatchObject({ reason: 'absent', header: undefined, received: undefined, traceId: res.body.traceId });
    expect(lines).toEqual([expect.objectContaining({ message: 'handled', traceId: res.body.traceId, spanId: res.body.spanId })]);
    expect(lines[0]).not.toHaveProperty('requestId');
  });

  it('keeps a valid X-Request-ID as the request ID beside a W3C trace ID: logged, echoed and sent on', async () => {
    const { app, replaced, lines } = tracedApp(express);
    const res = await request(app).get('/').set('X-Request-ID', 'req-42.a:b').expect(200);
    expect(res.body.requestId).toBe('req-42.a:b');
    expect(res.body.traceId).toMatch(TRACE_ID);
    expect(res.headers['x-request-id']).toBe('req-42.a:b');
    expectCallOf(res.body.traceparent, res.body.traceId, res.body.spanId);
    expect(res.body.headers).toEqual({ traceparent: expect.any(String), 'x-request-id': 'req-42.a:b' });
    expectCallOf(res.body.headers.traceparent, res.body.traceId, res.body.spanId);
    // Each helper call is another outbound call: another parent-id.
    expect(res.body.headers.traceparent).not.toBe(res.body.traceparent);
    expect(lines[0]).toMatchObject({ traceId: res.body.traceId, spanId: res.body.spanId, requestId: 'req-42.a:b' });
    expect(replaced).toHaveLength(0);
  });

  it('continues a valid traceparent: same trace, the caller as parent, its sampled flag, a new span', async () => {
    const { app, replaced } = tracedApp(express);
    for (const flags of ['01', '00']) {
      const res = await request(app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-${flags}`).expect(200);
      expect(res.body).toMatchObject({ traceId: TRACE, parentId: PARENT, sampled: flags === '01', requestId: null });
      expect(res.body.spanId).toMatch(SPAN_ID);
      expect(res.body.spanId).not.toBe(PARENT);
      expectCallOf(res.body.traceparent, TRACE, res.body.spanId, flags);
      expect(res.headers['x-request-id']).toBe(TRACE);
    }
    expect(replaced).toHaveLength(0);
  });

  it('keeps traceparent and an unrelated X-Request-ID both, and one ID when they are the same', async () => {
    const { app, replaced } = tracedApp(express);
    const both = await request(app).get('/').set('X-Request-ID', 'edge-1').set('traceparent', `00-${TRACE}-${PARENT}-00`).expect(200);
    expect(both.body).toMatchObject({ traceId: TRACE, requestId: 'edge-1', parentId: PARENT });
    expect(both.headers['x-request-id']).toBe('edge-1');
    const same = await request(app).get('/').set('X-Request-ID', TRACE).set('traceparent', `00-${TRACE}-${PARENT}-01`).expect(200);
    expect(same.body).toMatchObject({ traceId: TRACE, requestId: null });
    expect(replaced).toHaveLength(0);
    const malformed = await request(app).get('/').set('X-Request-ID', 'edge-1').set('traceparent', `00-${TRACE.toUpperCase()}-${PARENT}-00`).expect(200);
    expect(malformed.body).toMatchObject({ requestId: 'edge-1', parentId: null, sampled: true });
    expect(malformed.body.traceId).toMatch(TRACE_ID);
    expect(replaced).toEqual([expect.objectContaining({ reason: 'malformed-traceparent', header: 'traceparent', traceId: malformed.body.traceId })]);
  });

  it('reads the request ID headers in the configured order', async () => {
    const { app } = tracedApp(express, { headers: ['x-correlation-id', 'X-Request-ID'] });
    const res = await request(app).get('/').set('X-Request-ID', 'second').set('X-Correlation-ID', 'first').expect(200);
    expect(res.body.requestId).toBe('first');
    const ignored = await request(app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-01`).expect(200);
    expect(ignored.body.traceId).toMatch(TRACE_ID);
    expect(ignored.body.traceId).not.toBe(TRACE);
    const none = await request(tracedApp(express, { headers: [] }).app).get('/').set('X-Request-ID', 'ignored').expect(200);
    expect(none.body.requestId).toBeNull();
  });

  it('does not believe an untrusted client, keeps its valid ID apart and logs it as receivedId', async () => {
    const { app, replaced, lines } = tracedApp(express, { trust: false });
    const res = await request(app).get('/').set('X-Request-ID', 'client-7').expect(200);
    expect(res.body.traceId).toMatch(TRACE_ID);
    expect(res.body).toMatchObject({ receivedId: 'client-7', requestId: null });
    expect(res.headers['x-request-id']).toBe(res.body.traceId);
    expect(res.body.headers['x-request-id']).toBe(res.body.traceId);
    expect(replaced[0]).toMatchObject({ reason: 'untrusted', header: 'x-request-id', received: 'client-7', traceId: res.body.traceId });
    expect(lines[0]).toMatchObject({ traceId: res.body.traceId, receivedId: 'client-7' });
    expect(lines[0]).not.toHaveProperty('requestId');
    // Its sampled flag is not obeyed either: the trace is this service's own.
    const traced = await request(app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-00`).expect(200);
    expect(traced.body).toMatchObject({ parentId: null, sampled: true, receivedId: TRACE });
    expect(traced.body.traceId).not.toBe(TRACE);
    expect(traced.body.traceparent).toMatch(/-01$/);
  });

  it('trusts only the configured proxy addresses', async () => {
    const loopback = tracedApp(express, { trust: ['loopback'] });
    expect((await request(loopback.app).get('/').set('X-Request-ID', 'via-proxy').expect(200)).body.requestId).toBe('via-proxy');
    const exact = tracedApp(express, { trust: ['127.0.0.1', '::1'] });
    expect((await request(exact.app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-01`).expect(200)).body.traceId).toBe(TRACE);
    const other = tracedApp(express, { trust: ['10.0.0.0/8', 'uniquelocal'] });
    const res = await request(other.app).get('/').set('X-Request-ID', 'from-elsewhere').expect(200);
    expect(res.body).toMatchObject({ receivedId: 'from-elsewhere', requestId: null });
    const byRequest = tracedApp(express, { trust: (req) => req.headers['x-internal'] === 'yes' });
    expect((await request(byRequest.app).get('/').set('X-Request-ID', 'inner').set('X-Internal', 'yes')).body.requestId).toBe('inner');
    expect((await request(byRequest.app).get('/').set('X-Request-ID', 'inner')).body).toMatchObject({ requestId: null, receivedId: 'inner' });
  });

  it('trusts loopback by default: a caller on the same host (a sidecar proxy) is believed', async () => {
    const { app } = tracedApp(express);
    const res = await request(app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-01`).set('X-Request-ID', 'lb-1').expect(200);
    expect(res.body).toMatchObject({ traceId: TRACE, parentId: PARENT, requestId: 'lb-1', receivedId: null });
  });

  it('makes UUIDs with generator "uuid" (traceparent then spells them without dashes), and uses a custom generator', async () => {
    const uuid = await request(tracedApp(express, { generator: 'uuid' }).app).get('/').expect(200);
    expect(uuid.body.traceId).toMatch(UUID);
    expectCallOf(uuid.body.traceparent, uuid.body.traceId.replaceAll('-', ''), uuid.body.spanId);
    let n = 0;
    const custom = await request(tracedApp(express, { generator: () => `job-${++n}` }).app).get('/').expect(200);
    expect(custom.body.traceId).toBe('job-1');
  });

  it('falls back to W3C trace IDs, with one warning, when a custom generator returns an invalid ID', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const { app } = tracedApp(express, { generator: () => 'not valid "id"' });
      expect((await request(app).get('/')).body.traceId).toMatch(TRACE_ID);
      expect((await request(app).get('/')).body.traceId).toMatch(TRACE_ID);
      expect(emitWarning).toHaveBeenCalledTimes(1);
      expect(emitWarning.mock.calls[0]![1]).toMatchObject({ code: 'KEEL_TRACE_ID_GENERATOR' });
    } finally {
      emitWarning.mockRestore();
    }
  });

  it('applies the validate option after the built-in checks', async () => {
    const uuidOnly = (id: string): boolean => /^[0-9a-f-]{36}$/.test(id);
    const { app, replaced } = tracedApp(express, { validate: uuidOnly });
    const res = await request(app).get('/').set('X-Request-ID', 'not-a-uuid').expect(200);
    expect(res.body.requestId).toBeNull();
    expect(res.headers['x-request-id']).toBe(res.body.traceId);
    expect(replaced[0]).toMatchObject({ reason: 'rejected', header: 'x-request-id', received: undefined });
  });

  it('echoes in the configured header, or not at all, and exposes it to cross-origin callers once', async () => {
    const custom = await request(tracedApp(express, { responseHeader: 'X-Trace-ID' }).app).get('/').expect(200);
    expect(custom.headers['x-trace-id']).toBe(custom.body.traceId);
    expect(custom.headers['x-request-id']).toBeUndefined();
    const silent = await request(tracedApp(express, { responseHeader: false }).app).get('/').set('Origin', 'https://app.example.com').expect(200);
    expect(silent.headers['x-request-id']).toBeUndefined();
    expect(silent.headers['access-control-expose-headers']).toBeUndefined();
    const unexposed = await request(tracedApp(express, { exposeHeader: false }).app).get('/').set('Origin', 'https://app.example.com').expect(200);
    expect(unexposed.headers['access-control-expose-headers']).toBeUndefined();
    const sameOrigin = await request(tracedApp(express).app).get('/').expect(200);
    expect(sameOrigin.headers['access-control-expose-headers']).toBeUndefined();
    expect(sameOrigin.headers['x-request-id']).toBe(sameOrigin.body.traceId);

    const app = express();
    app.use((_req, res, next) => {
      res.setHeader('Access-Control-Expose-Headers', 'ETag');
      next();
    });
    app.use(traceId());
    app.use(traceId());
    app.get('/', (_req, res) => res.end());
    const merged = await request(app).get('/').set('Origin', 'https://app.example.com').expect(200);
    expect(merged.headers['access-control-expose-headers']).toBe('ETag, x-request-id');
  });

  it('keeps the first ID when mounted twice, and joins a context another keel middleware opened', async () => {
    const app = express();
    const opened: unknown[] = [];
    app.use((req, res, next) => {
      // What another keel middleware mounted first does.
      runInRequestContext(req, res, () => {
        opened.push(getContext());
        next();
      });
    });
    app.use(traceId());
    const router = express.Router();
    router.use(traceId({ generator: 'uuid' }));
    router.get('/', (req, res) => res.json({ traceId: getTraceId(), same: getContext() === contextOf(req) && getContext() === opened[0] }));
    app.use('/r', router);
    const res = await request(app).get('/r/').expect(200);
    expect(res.body.same).toBe(true);
    expect(res.body.traceId).toMatch(TRACE_ID);
    expect(res.headers['x-request-id']).toBe(res.body.traceId);
  });

  it('gives each request its own IDs, and nothing outside a request', async () => {
    const { app } = tracedApp(express);
    const [a, b] = await Promise.all([request(app).get('/'), request(app).get('/')]);
    expect(a!.body.traceId).not.toBe(b!.body.traceId);
    expect(a!.body.spanId).not.toBe(b!.body.spanId);
    expect(getTraceId()).toBeUndefined();
    expect(getSpanId()).toBeUndefined();
    expect(getTraceparent()).toBeUndefined();
    expect(traceHeaders()).toEqual({});
  });

  it('uses the configured sampled flag for traces it starts, and a trusted caller\'s flag for its traces', async () => {
    const { app } = tracedApp(express, { sampled: false });
    const res = await request(app).get('/').expect(200);
    expect(res.body.sampled).toBe(false);
    expect(res.body.traceparent).toMatch(/-00$/);
    const continued = await request(app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-01`).expect(200);
    expect(continued.body.traceparent).toMatch(/-01$/);
  });

  it('runs its hooks (trust, validate, generator, onReplace) inside the request context', async () => {
    const seen: Record<string, unknown> = {};
    const app = express();
    app.use(
      traceId({
        trust: () => {
          seen.trust = getContext() !== undefined;
          return true;
        },
        validate: (value) => {
          seen.validate = getContext() !== undefined;
          return value !== 'refused-id';
        },
        generator: () => {
          seen.generator = getContext() !== undefined;
          return 'generated-id';
        },
        onReplace: (event) => {
          seen.onReplace = getTraceId() === event.traceId;
        },
      }),
    );
    app.get('/', (_req, res) => res.json({ traceId: getTraceId() }));
    const res = await request(app).get('/').set('x-request-id', 'refused-id').expect(200);
    expect(res.body.traceId).toBe('generated-id');
    expect(seen).toEqual({ trust: true, validate: true, generator: true, onReplace: true });
  });

  it('lets a throwing onReplace hook reach the error handler with the ID already set', async () => {
    const app = express();
    app.use(traceId({ onReplace: () => { throw new Error('hook failed'); } }));
    app.get('/', (_req, res) => res.send('unreachable'));
    app.use((err: Error, _req: unknown, res: { status(code: number): { json(body: unknown): void } }, _next: unknown) => {
      res.status(500).json({ message: err.message, traceId: getTraceId() ?? null });
    });
    const res = await request(app).get('/').expect(500);
    expect(res.body.message).toBe('hook failed');
    expect(res.headers['x-request-id']).toMatch(TRACE_ID);
  });
});

describe('traceId() options', () => {
  it('has the documented defaults', () => {
    expect(DEFAULTS).toEqual({
      headers: ['traceparent', 'x-request-id'],
      trust: ['loopback', 'linklocal', 'uniquelocal'],
      maxLength: 128,
      validate: undefined,
      generator: 'w3c',
      responseHeader: 'x-request-id',
      exposeHeader: true,
      propagate: true,
      propagateHeader: 'x-request-id',
      propagateTo: undefined,
      sampled: true,
      openTelemetry: true,
      onReplace: undefined,
    });
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
  });

  it.each([
    [{ header: 'x-request-id' }, 'header'],
    [{ headers: 'x-request-id' }, 'headers'],
    [{ headers: ['bad header'] }, 'headers'],
    [{ maxLength: 0 }, 'maxLength'],
    [{ maxLength: 5000 }, 'maxLength'],
    [{ trust: ['not-an-ip'] }, 'trust'],
    [{ trust: ['10.0.0.0/33'] }, 'trust'],
    [{ trust: 'loopback' }, 'trust'],
    [{ generator: 'v7' }, 'generator'],
    [{ responseHeader: 'traceparent' }, 'responseHeader'],
    [{ responseHeader: true }, 'responseHeader'],
    [{ propagateHeader: 'Content-Type' }, 'propagateHeader'],
    [{ propagate: 'yes' }, 'propagate'],
    [{ onReplace: 'log' }, 'onReplace'],
    [{ openTelemetry: 'auto' }, 'openTelemetry'],
    [{ sampled: 1 }, 'sampled'],
  ])('throws at once for %j', (options, option) => {
    let error: unknown;
    try {
      traceId(options as Partial<TraceIdOptions>);
    } catch (caught) {
      error = caught;
    }
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error).toMatchObject({ packageName: '@keel/trace-id', option });
  });

  it('never writes to the options object it is given', () => {
    const options = Object.freeze({ headers: Object.freeze(['X-Request-ID']), trust: Object.freeze(['loopback']) });
    expect(() => traceId(options)).not.toThrow();
  });
});
