import { performance } from 'node:perf_hooks';
import { request, type Dispatcher } from 'undici';
import { CHANNELS, outbound, isCircuitOpenError, type BreakerMessage, type OutboundOptions, type ResultMessage } from '@keel/outbound';
import { record, scriptedServer, type Step } from './helpers';

const BREAKER: OutboundOptions = { attempts: 1, breaker: { minimumCalls: 4, threshold: 0.5, window: 10_000, cooldown: 100 } };

describe('outbound() circuit breaker', () => {
  let dispatcher: Dispatcher;
  let dependency: Awaited<ReturnType<typeof scriptedServer>>;
  let changes: ReturnType<typeof record<BreakerMessage>>;
  let results: ReturnType<typeof record<ResultMessage>>;

  beforeEach(() => {
    changes = record<BreakerMessage>(CHANNELS.breaker);
    results = record<ResultMessage>(CHANNELS.result);
  });

  afterEach(async () => {
    changes.stop();
    results.stop();
    await dispatcher.destroy().catch(() => undefined);
    await dependency.close();
  });

  async function call(): Promise<number | Error> {
    try {
      const answer = await request(`${dependency.url}/`, { dispatcher });
      await answer.body.dump();
      return answer.statusCode;
    } catch (error) {
      return error as Error;
    }
  }

  async function setUp(script: readonly Step[], options: OutboundOptions = BREAKER) {
    dependency = await scriptedServer(script);
    dispatcher = outbound(options);
  }

  it('opens, fails fast, half-opens after its cooldown and closes on a successful trial', async () => {
    await setUp([{ status: 503 }, { status: 503 }, { status: 500 }, { status: 503 }, { status: 200, headersAfter: 40 }, { status: 200 }]);
    for (let i = 0; i < 4; i++) await call();
    expect(dependency.seen).toHaveLength(4);
    expect(changes.messages).toEqual([expect.objectContaining({ origin: dependency.url, state: 'open', previous: 'closed', failures: 4, calls: 4 })]);

    const startedAt = performance.now();
    const refused = await Promise.all([call(), call(), call()]);
    // No connection, no wait: only a busy machine's own delays (the dependency would take no time either, but is not asked).
    expect(performance.now() - startedAt).toBeLessThan(500);
    for (const error of refused) {
      expect(isCircuitOpenError(error)).toBe(true);
      expect(error).toMatchObject({ status: 503, statusCode: 503, expose: true, headers: { 'Retry-After': '1' }, origin: dependency.url, attempts: 0 });
    }
    expect(dependency.seen).toHaveLength(4);
    expect(results.messages.filter((message) => message.outcome === 'circuit-open')).toHaveLength(3);

    await new Promise((resolve) => setTimeout(resolve, 120));
    // One trial goes through; a call made while it runs is still refused.
    const [trial, during] = await Promise.all([call(), call()]);
    expect(trial).toBe(200);
    expect(isCircuitOpenError(during)).toBe(true);
    expect(changes.messages.map((message) => message.state)).toEqual(['open', 'half-open', 'closed']);
    expect(dependency.seen).toHaveLength(5);

    expect(await call()).toBe(200);
    expect(dependency.seen).toHaveLength(6);
  });

  it('opens again for another cooldown when the trial fails', async () => {
    await setUp([{ status: 503 }]);
    for (let i = 0; i < 4; i++) await call();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await call()).toBe(503);
    expect(changes.messages.map((message) => message.state)).toEqual(['open', 'half-open', 'open']);
    expect(isCircuitOpenError(await call())).toBe(true);
    expect(dependency.seen).toHaveLength(5);
  });

  it('stays closed below the threshold or the minimum of calls', async () => {
    await setUp([{ status: 503 }, { status: 200 }, { status: 200 }, { status: 200 }, { status: 503 }, { status: 200 }]);
    for (let i = 0; i < 6; i++) await call();
    expect(changes.messages).toEqual([]);
    expect(dependency.seen).toHaveLength(6);
  });

  it('stops retrying a dependency once its circuit opens', async () => {
    await setUp([{ status: 503 }], { baseDelay: 1, maxDelay: 2, breaker: { minimumCalls: 2, threshold: 0.5, cooldown: 10_000 } });
    // First call: attempt 1 fails (1 of 1), its retry fails (2 of 2): the circuit opens, the third attempt is not made.
    expect(await call()).toBe(503);
    expect(dependency.seen).toHaveLength(2);
    expect(changes.messages).toEqual([expect.objectContaining({ state: 'open', failures: 2, calls: 2 })]);
  });

  it('keeps one circuit per origin', async () => {
    await setUp([{ status: 503 }]);
    const healthy = await scriptedServer([{ status: 200 }]);
    try {
      for (let i = 0; i < 4; i++) await call();
      const answer = await request(`${healthy.url}/`, { dispatcher });
      await answer.body.dump();
      expect(answer.statusCode).toBe(200);
    } finally {
      await healthy.close();
    }
  });
});
