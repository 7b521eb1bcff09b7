import { Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Agent, request, type Dispatcher } from 'undici';
import {
  CHANNELS,
  outbound,
  outboundInterceptor,
  isOutboundBodyTimeoutError,
  isOutboundConnectTimeoutError,
  isOutboundDeadlineError,
  isOutboundHeadersTimeoutError,
  type OutboundOptions,
  type RetryMessage,
} from '@keel/outbound';
import { record, scriptedServer, waitFor } from './helpers';

// Small waits, deterministic jitter (half the ceiling), no breaker unless a test asks.
const FAST: OutboundOptions = { baseDelay: 10, maxDelay: 40, random: () => 0.5, breaker: false };

describe('outbound() retries', () => {
  let dispatcher: Dispatcher;
  let dependency: Awaited<ReturnType<typeof scriptedServer>> | undefined;
  let retries: ReturnType<typeof record<RetryMessage>>;

  beforeEach(() => {
    retries = record<RetryMessage>(CHANNELS.retry);
  });

  afterEach(async () => {
    retries.stop();
    await dispatcher?.destroy().catch(() => undefined);
    await dependency?.close();
    dependency = undefined;
  });

  async function call(path: string, options: Partial<Dispatcher.RequestOptions> = {}) {
    const response = await request(`${dependency!.url}${path}`, { dispatcher, ...options });
    return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
  }

  it('retries a 503 with Retry-After in seconds after the wait it asks for', async () => {
    dependency = await scriptedServer([{ status: 503, headers: { 'retry-after': '1' } }, { status: 200, body: 'ok' }]);
    dispatcher = outbound(FAST);
    const answer = await call('/a');
    expect(answer).toMatchObject({ status: 200, body: 'partok' });
    expect(dependency.seen).toHaveLength(2);
    expect(dependency.seen[1]!.at - dependency.seen[0]!.at).toBeGreaterThanOrEqual(950);
    expect(retries.messages).toEqual([expect.objectContaining({ attempt: 2, delayMs: 1000, reason: 503, retryAfterMs: 1000, method: 'GET', path: '/a' })]);
  });

  it('retries a 503 with Retry-After as an HTTP-date', async () => {
    // HTTP-dates have whole seconds: a date just passed means "now".
    const past = new Date(Date.now() - 2000).toUTCString();
    dependency = await scriptedServer([{ status: 503, headers: { 'retry-after': past } }, { status: 200, body: 'ok' }]);
    dispatcher = outbound(FAST);
    expect(await call('/')).toMatchObject({ status: 200 });
    expect(retries.messages).toEqual([expect.objectContaining({ reason: 503, retryAfterMs: 0, delayMs: 0 })]);
  });

  it('fails at once with the wait when a Retry-After date does not fit the budget', async () => {
    const later = new Date(Date.now() + 5000).toUTCString();
    dependency = await scriptedServer([{ status: 503, headers: { 'retry-after': later } }]);
    dispatcher = outbound({ ...FAST, timeout: 1000 });
    const startedAt = performance.now();
    const error = await call('/').catch((caught: unknown) => caught);
    expect(performance.now() - startedAt).toBeLessThan(500);
    expect(isOutboundDeadlineError(error)).toBe(true);
    expect(error).toMatchObject({ status: 504, attempts: 1, budget: 1000 });
    expect((error as { retryAfter: number }).retryAfter).toBeGreaterThan(3000);
    expect(dependency.seen).toHaveLength(1);
  });

  it('retries a 429 with backoff and gives the last answer when attempts run out', async () => {
    dependency = await scriptedServer([{ status: 429, body: 'slow down' }]);
    dispatcher = outbound(FAST);
    const answer = await call('/');
    expect(answer).toMatchObject({ status: 429, body: 'partslow down' });
    expect(dependency.seen).toHaveLength(3);
    // Full jitter, drawn at half: half of 10 ms, then half of 20 ms.
    expect(retries.messages.map((message) => message.delayMs)).toEqual([5, 10]);
  });

  it('retries 502 and 504 but not 500', async () => {
    dependency = await scriptedServer([{ status: 502 }, { status: 504 }, { status: 200 }]);
    dispatcher = outbound(FAST);
    expect(await call('/')).toMatchObject({ status: 200 });
    expect(retries.messages.map((message) => message.reason)).toEqual([502, 504]);
    await dependency.close();

    dependency = await scriptedServer([{ status: 500 }, { status: 200 }]);
    expect(await call('/')).toMatchObject({ status: 500 });
    expect(dependency.seen).toHaveLength(1);
  });

  it('retries a connection reset before the headers', async () => {
    dependency = await scriptedServer([{ reset: 'before-headers' }, { status: 200, body: 'ok' }]);
    dispatcher = outbound(FAST);
    expect(await call('/')).toMatchObject({ status: 200, body: 'partok' });
    expect(dependency.seen).toHaveLength(2);
    expect(typeof retries.messages[0]!.reason).toBe('string');
  });

  it('never retries a reset after the headers: the response has started', async () => {
    dependency = await scriptedServer([{ reset: 'after-headers' }, { status: 200 }]);
    dispatcher = outbound(FAST);
    const error = await call('/').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(dependency.seen).toHaveLength(1);
    expect(retries.messages).toHaveLength(0);
  });

  it('retries slow headers and fails with a headers timeout when every attempt is slow', async () => {
    dependency = await scriptedServer([{ headersAfter: 300 }]);
    dispatcher = outbound({ ...FAST, headersTimeout: 60 });
    const error = await call('/').catch((caught: unknown) => caught);
    expect(isOutboundHeadersTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ status: 504, code: 'ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT', attempts: 3, expose: true });
    expect(dependency.seen).toHaveLength(3);
    expect(retries.messages.map((message) => message.reason)).toEqual(['ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT', 'ERR_KEEL_OUTBOUND_HEADERS_TIMEOUT']);
  });

  it('fails a stalled body with a body timeout, without retrying', async () => {
    dependency = await scriptedServer([{ bodyAfter: 400 }]);
    dispatcher = outbound({ ...FAST, bodyTimeout: 60 });
    const error = await call('/').catch((caught: unknown) => caught);
    expect(isOutboundBodyTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ status: 504, code: 'ERR_KEEL_OUTBOUND_BODY_TIMEOUT' });
    expect(dependency.seen).toHaveLength(1);
  });

  it('fails with a connect timeout when no connection comes', async () => {
    // A name whose lookup never answers keeps the socket connecting: no packet leaves the machine.
    const agent = new Agent({ connect: { lookup: () => undefined } as never });
    dispatcher = outbound({ ...FAST, dispatcher: agent, connectTimeout: 50, attempts: 2 });
    const startedAt = performance.now();
    const error = await request('http://dependency.invalid:9/', { dispatcher }).catch((caught: unknown) => caught);
    expect(isOutboundConnectTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ status: 504, attempts: 2, origin: 'http://dependency.invalid:9' });
    expect(performance.now() - startedAt).toBeLessThan(600);
    expect(retries.messages).toEqual([expect.objectContaining({ reason: 'ERR_KEEL_OUTBOUND_CONNECT_TIMEOUT' })]);
    await agent.destroy();
  });

  it('does not retry a POST without an Idempotency-Key', async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 200 }]);
    dispatcher = outbound(FAST);
    expect(await call('/orders', { method: 'POST', body: '{"n":1}' })).toMatchObject({ status: 503 });
    expect(dependency.seen).toHaveLength(1);
  });

  it('retries a POST with an Idempotency-Key, replaying the same body and key', async () => {
    dependency = await scriptedServer([{ reset: 'before-headers' }, { status: 503 }, { status: 201, body: 'made' }]);
    dispatcher = outbound(FAST);
    const answer = await call('/orders', { method: 'POST', body: '{"n":1}', headers: { 'idempotency-key': 'order-7' } });
    expect(answer).toMatchObject({ status: 201, body: 'partmade' });
    expect(dependency.seen.map((seen) => [seen.body, seen.headers['idempotency-key']])).toEqual([
      ['{"n":1}', 'order-7'],
      ['{"n":1}', 'order-7'],
      ['{"n":1}', 'order-7'],
    ]);
  });

  it('never replays a streamed body, even with an Idempotency-Key', async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 200 }]);
    dispatcher = outbound(FAST);
    const body = Readable.from(['{"n"', ':1}']);
    expect(await call('/orders', { method: 'PUT', body, headers: { 'idempotency-key': 'k' } })).toMatchObject({ status: 503 });
    expect(dependency.seen).toHaveLength(1);
    expect(dependency.seen[0]!.body).toBe('{"n":1}');
  });

  it('replays a streamed body when the call gives replayBody, a function that makes it again', async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 200 }]);
    dispatcher = outbound(FAST);
    const makeBody = () => Readable.from(['{"n"', ':1}']);
    const options = { method: 'PUT', body: makeBody(), replayBody: makeBody } as Partial<Dispatcher.RequestOptions>;
    expect(await call('/orders', options)).toMatchObject({ status: 200 });
    expect(dependency.seen.map((seen) => seen.body)).toEqual(['{"n":1}', '{"n":1}']);
  });

  it('makes one attempt when attempts is 1', async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 200 }]);
    dispatcher = outbound({ ...FAST, attempts: 1 });
    expect(await call('/')).toMatchObject({ status: 503 });
    expect(dependency.seen).toHaveLength(1);
  });

  it('bounds the whole call by its timeout outside a request', async () => {
    dependency = await scriptedServer([{ hang: true }]);
    dispatcher = outbound({ ...FAST, timeout: 120 });
    const startedAt = performance.now();
    const error = await call('/').catch((caught: unknown) => caught);
    const took = performance.now() - startedAt;
    expect(isOutboundDeadlineError(error)).toBe(true);
    expect(error).toMatchObject({ status: 504, budget: 120, attempts: 1 });
    expect(took).toBeGreaterThanOrEqual(110);
    expect(took).toBeLessThan(600);
    await waitFor(() => dependency!.seen.every((seen) => seen.abandoned));
  });

  it('works as an interceptor composed onto a dispatcher of your own', async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 200, body: 'ok', headers: { 'x-kind': 'a' } }]);
    dispatcher = new Agent().compose(outboundInterceptor(FAST));
    const answer = await call('/');
    expect(answer).toMatchObject({ status: 200, body: 'partok', headers: expect.objectContaining({ 'x-kind': 'a' }) });
    expect(dependency.seen).toHaveLength(2);
  });

  it('keeps connections to the dependency alive across retried responses', async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 200 }]);
    dispatcher = outbound(FAST);
    let connections = 0;
    dependency.server.on('connection', () => connections++);
    expect(await call('/')).toMatchObject({ status: 200 });
    expect(connections).toBe(1);
  });
});
