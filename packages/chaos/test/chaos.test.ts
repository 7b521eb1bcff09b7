import diagnosticsChannel from 'node:diagnostics_channel';
import type { Server } from 'node:http';
import { createLifecycle, type Logger } from '@keel/lifecycle';
import { guardApp } from '@keel/async-guard';
import { errorHandler, notFound } from '@keel/error-handler';
import { timeout } from '@keel/timeout';
import { traceId } from '@keel/trace-id';
import { closeServer, describeEachExpress, listen, type ExpressFactory } from '@keel/test-support';
import { chaos, INJECT_CHANNEL, isChaosFaultError, type ChaosInjectEvent, type ChaosOptions } from '@keel/chaos';
import { get } from './helpers';

const BODY = `done ${'x'.repeat(4000)}`;
const SECRET = 'a-long-enough-chaos-secret';

function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const push = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  return { lines, error: push('error'), warn: push('warn'), info: push('info') };
}

describeEachExpress('chaos()', ({ express, major }) => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await closeServer(server);
    server = undefined;
  });

  /** An app with the keel request path around chaos, as the recipes mount it. */
  async function start(options: ChaosOptions, { guarded = true }: { guarded?: boolean } = {}): Promise<string> {
    const app = (express as ExpressFactory)();
    if (guarded) guardApp(app);
    const logger = recordingLogger();
    const lifecycle = createLifecycle({ signals: [], logger });
    app.use(traceId());
    app.use(timeout({ duration: 400, lifecycle, logger }));
    app.use(chaos({ logger, ...options }));
    app.get('/work', (_req, res) => {
      res.type('text/plain').send(BODY);
    });
    app.post('/work', (_req, res) => {
      res.type('text/plain').send(BODY);
    });
    app.use(notFound({ logger }));
    app.use(errorHandler({ logger }));
    const started = await listen(app);
    server = started.server;
    return started.url;
  }

  const trigger = (fault: string) => ({ 'x-keel-chaos': fault });

  it('is inert unless enabled: a trigger header changes nothing', async () => {
    const url = await start({ rules: [{ fault: 'error', probability: 1 }] });
    const reply = await get(url, '/work', trigger('error'));
    expect({ status: reply.status, body: reply.body, injected: reply.headers!['x-keel-chaos-injected'] }).toEqual({ status: 200, body: BODY, injected: undefined });
  });

  it('adds latency, names the fault in a response header, and still answers', async () => {
    const url = await start({ enabled: true, rules: [{ fault: 'latency', delay: 120, jitter: 30 }] });
    const plain = await get(url, '/work');
    const slow = await get(url, '/work', trigger('latency'));
    expect(plain.headers!['x-keel-chaos-injected']).toBeUndefined();
    expect({ status: slow.status, body: slow.body, injected: slow.headers!['x-keel-chaos-injected'] }).toEqual({ status: 200, body: BODY, injected: 'latency' });
    expect(slow.ms).toBeGreaterThanOrEqual(115);
  });

  it('answers an injected error with its status through the error handler, without internals', async () => {
    const url = await start({ enabled: true, rules: [{ fault: 'error', status: 503 }] });
    const reply = await get(url, '/work', trigger('error'));
    expect(reply.status).toBe(503);
    expect(reply.headers!['x-keel-chaos-injected']).toBe('error');
    expect(reply.body).not.toMatch(/Injected|rule/);
  });

  it.each(['throw', 'reject'])('answers a %s from the middleware with a 500', async (fault) => {
    const url = await start({ enabled: true });
    const reply = await get(url, '/work', trigger(fault));
    expect({ status: reply.status, injected: reply.headers!['x-keel-chaos-injected'] }).toEqual({ status: 500, injected: fault });
    expect(JSON.parse(reply.body!).traceId ?? reply.headers!['x-request-id']).toBeTruthy();
  });

  it('holds a request that hangs until the deadline answers it with a 503', async () => {
    // Without guardApp: its wrapper keeps timeout() from calling next() a second time.
    const url = await start({ enabled: true }, { guarded: false });
    const reply = await get(url, '/work', trigger('hang'));
    expect({ status: reply.status, injected: reply.headers!['x-keel-chaos-injected'], retryAfter: reply.headers!['retry-after'] }).toEqual({ status: 503, injected: 'hang', retryAfter: '1' });
    expect(reply.ms).toBeGreaterThanOrEqual(390);
  });

  it('resets the connection', async () => {
    const url = await start({ enabled: true });
    const reply = await get(url, '/work', trigger('reset'));
    expect(reply.error).toBe('ECONNRESET');
    expect(reply.status).toBeUndefined();
  });

  it('cuts the body halfway: the client sees a response shorter than announced', async () => {
    const url = await start({ enabled: true });
    const reply = await get(url, '/work', trigger('cut-body'));
    expect(reply.status).toBe(200);
    expect(reply.error).toBeDefined();
    expect(reply.body!.length).toBeLessThan(BODY.length);
    expect(BODY.startsWith(reply.body!)).toBe(true);
  });

  it('trickles the body in pieces and delivers all of it', async () => {
    const url = await start({ enabled: true, rules: [{ fault: 'slow-body', delay: 150, chunks: 5 }] });
    const reply = await get(url, '/work', trigger('slow-body'));
    expect({ status: reply.status, body: reply.body, error: reply.error }).toEqual({ status: 200, body: BODY, error: undefined });
    expect(reply.pieces).toBeGreaterThanOrEqual(3);
    expect(reply.ms).toBeGreaterThanOrEqual(100);
  });

  it('keeps serving on the same app after each fault a request can carry', async () => {
    const url = await start({ enabled: true, rules: [{ fault: 'latency', delay: 20 }, { fault: 'slow-body', delay: 40, chunks: 2 }] });
    for (const fault of ['latency', 'error', 'throw', 'reject', 'reset', 'cut-body', 'slow-body']) {
      await get(url, '/work', trigger(fault));
      const after = await get(url, '/work');
      expect({ fault, status: after.status, body: after.body === BODY }).toEqual({ fault, status: 200, body: true });
    }
  });

  it('selects requests by path and method, and by probability without a trigger', async () => {
    const draws = [0.2, 0.9];
    const url = await start({
      enabled: true,
      triggers: [],
      random: () => draws.shift() ?? 0.99,
      rules: [
        { fault: 'error', name: 'api-down', path: '/api/*', status: 502 },
        { fault: 'error', name: 'sometimes', path: '/work', methods: ['GET'], status: 503, probability: 0.5 },
      ],
    });
    expect((await get(url, '/work')).status).toBe(503);
    expect((await get(url, '/work')).status).toBe(200);
    // The trigger names a rule, whose path does not match: nothing.
    expect((await get(url, '/work', trigger('api-down'))).status).toBe(200);
    const api = await get(url, '/api/orders', trigger('api-down'));
    expect({ status: api.status, injected: api.headers!['x-keel-chaos-injected'] }).toEqual({ status: 502, injected: 'api-down' });
    // triggers: [] — a fault without a rule cannot be triggered.
    expect((await get(url, '/work', trigger('reset'))).status).toBe(200);
  });

  it('logs and publishes each injection on keel:chaos:inject with the trace ID', async () => {
    const events: ChaosInjectEvent[] = [];
    const listener = (message: unknown) => events.push(message as ChaosInjectEvent);
    diagnosticsChannel.subscribe(INJECT_CHANNEL, listener);
    const logger = recordingLogger();
    try {
      const url = await start({ enabled: true, logger });
      const reply = await get(url, '/work', trigger('error'));
      expect(reply.status).toBe(500);
    } finally {
      diagnosticsChannel.unsubscribe(INJECT_CHANNEL, listener);
    }
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ fault: 'error', rule: 'error', cause: 'trigger' });
    expect(events[0]!.traceId).toMatch(/^[0-9a-f-]{32,36}$/);
    const line = logger.lines.find((entry) => entry.message === '@keel/chaos: injected a fault');
    expect(line).toMatchObject({ level: 'warn', fields: { fault: 'error', rule: 'error', method: 'GET', path: '/work', traceId: events[0]!.traceId } });
  });

  it('ignores malformed and oversized trigger headers', async () => {
    const url = await start({ enabled: true });
    for (const value of ['error; error', 'error; foo=bar', `error; secret=${'x'.repeat(300)}`, 'meteor', 'ERROR;;']) {
      const reply = await get(url, '/work', trigger(value));
      const injected = reply.headers!['x-keel-chaos-injected'];
      expect({ value, status: reply.status, injected }).toEqual(value === 'ERROR;;' ? { value, status: 500, injected: 'error' } : { value, status: 200, injected: undefined });
    }
  });

  describe('with a secret', () => {
    it('injects only when the trigger header carries the secret, and reveals nothing otherwise', async () => {
      const url = await start({ enabled: true, secret: SECRET, rules: [{ fault: 'error', probability: 1, path: '/always' }] });
      const plain = await get(url, '/work');
      for (const headers of [trigger('error'), trigger('error; secret=wrong-but-long-secret'), trigger(`error; secret=${SECRET}x`), trigger(`error; secret=${SECRET.slice(0, -1)}`)]) {
        const reply = await get(url, '/work', headers);
        expect({ status: reply.status, body: reply.body, headers: Object.keys(reply.headers!).sort() }).toEqual({ status: 200, body: BODY, headers: Object.keys(plain.headers!).sort() });
      }
      // Probability rules need the secret too.
      expect((await get(url, '/always')).status).toBe(404);
      const hit = await get(url, '/work', trigger(`error; secret=${SECRET}`));
      expect({ status: hit.status, injected: hit.headers!['x-keel-chaos-injected'] }).toEqual({ status: 500, injected: 'error' });
      expect((await get(url, '/always', trigger(`secret=${SECRET}`))).status).toBe(500);
    });
  });

  if (major === 4) {
    it('raises errors a duck-typed error handler recognises', () => {
      expect(isChaosFaultError({ code: 'ERR_KEEL_CHAOS_FAULT' })).toBe(true);
      expect(isChaosFaultError(new Error('x'))).toBe(false);
    });
  }
});
