import request from 'supertest';
import { request as undiciRequest, type Dispatcher } from 'undici';
import { describeEachExpress } from '@keel/test-support';
import { errorHandler } from '@keel/error-handler';
import { getSpanId, parseTraceparent, traceId } from '@keel/trace-id';
import { timeout } from '@keel/timeout';
import { CHANNELS, fetch as outboundFetch, outbound, type AttemptMessage, type OutboundOptions } from '@keel/outbound';
import { quietLogger, record, scriptedServer, type Step } from './helpers';

const FAST: OutboundOptions = { baseDelay: 5, maxDelay: 10, random: () => 0.5, breaker: false };
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

describeEachExpress('outbound() with trace-id, timeout and error-handler', ({ express }) => {
  let dispatcher: Dispatcher;
  let dependency: Awaited<ReturnType<typeof scriptedServer>>;

  afterEach(async () => {
    await dispatcher.destroy().catch(() => undefined);
    await dependency.close();
  });

  async function appCalling(script: readonly Step[], options: OutboundOptions = FAST) {
    dependency = await scriptedServer(script);
    dispatcher = outbound(options);
    const app = express();
    app.use(traceId());
    app.use(timeout({ duration: 2000, logger: quietLogger }));
    app.get('/call', (_req, res, next) => {
      undiciRequest(`${dependency.url}/data?token=secret`, { dispatcher })
        .then(async (answer) => res.status(answer.statusCode).send(await answer.body.text()))
        .catch(next);
    });
    app.get('/fetch', (_req, res, next) => {
      outboundFetch(`${dependency.url}/data`, { dispatcher })
        .then(async (answer) => res.status(answer.status).set('x-span-id', getSpanId()).send(await answer.text()))
        .catch(next);
    });
    app.use(errorHandler({ logger: quietLogger }));
    return app;
  }

  it("stamps every attempt, retries included, with the request's trace", async () => {
    const attempts = record<AttemptMessage>(CHANNELS.attempt);
    try {
      const app = await appCalling([{ status: 503 }, { reset: 'before-headers' }, { status: 200, body: 'ok' }]);
      const response = await request(app).get('/call').set('traceparent', `00-${TRACE_ID}-00f067aa0ba902b7-01`);
      expect(response.status).toBe(200);
      expect(dependency.seen).toHaveLength(3);
      for (const seen of dependency.seen) expect(seen.headers.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
      expect(attempts.messages.map((message) => [message.attempt, message.traceId, message.path])).toEqual([
        [1, TRACE_ID, '/data'],
        [2, TRACE_ID, '/data'],
        [3, TRACE_ID, '/data'],
      ]);
    } finally {
      attempts.stop();
    }
  });

  it("gives each attempt of outbound's fetch the request's trace and sampled flag, and a parent-id of its own", async () => {
    const app = await appCalling([{ status: 503 }, { status: 503 }, { status: 200, body: 'ok' }]);
    // Not sampled: with the default options keel sends that flag only when the caller did.
    const response = await request(app).get('/fetch').set('traceparent', `00-${TRACE_ID}-${CALLER_SPAN}-00`);
    expect(response.status).toBe(200);
    expect(dependency.seen.map((seen) => seen.method)).toEqual(['GET', 'GET', 'GET']);
    const traceparents = dependency.seen.map((seen) => parseTraceparent(seen.headers.traceparent));
    expect(traceparents).toEqual(Array.from({ length: 3 }, () => expect.objectContaining({ traceId: TRACE_ID, sampled: false })));
    const parents = traceparents.map((traceparent) => traceparent!.parentId);
    const serverSpan = response.headers['x-span-id'];
    expect(serverSpan).toMatch(/^[0-9a-f]{16}$/);
    // Three attempts, three client spans, none of them this service's span or the caller's.
    expect(new Set([...parents, serverSpan, CALLER_SPAN]).size).toBe(5);
  });

  it('answers a downstream timeout with a 504', async () => {
    const app = await appCalling([{ headersAfter: 500 }], { ...FAST, headersTimeout: 30, attempts: 2 });
    const response = await request(app).get('/call').set('accept', 'application/problem+json');
    expect(response.status).toBe(504);
    expect(JSON.parse(response.text)).toMatchObject({ status: 504 });
    // The message names no host.
    expect(response.text).not.toContain('127.0.0.1');
  });

  it('answers an open circuit with a 503 and Retry-After', async () => {
    const app = await appCalling([{ status: 503 }], { ...FAST, attempts: 1, breaker: { minimumCalls: 1, cooldown: 3000 } });
    expect((await request(app).get('/call')).status).toBe(503);
    const response = await request(app).get('/call').set('accept', 'application/problem+json');
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('3');
    expect(dependency.seen).toHaveLength(1);
  });
});
