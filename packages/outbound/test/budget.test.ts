import { Agent, request, type Dispatcher } from 'undici';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';
import { errorHandler } from '@keel/error-handler';
import { timeout } from '@keel/timeout';
import { CHANNELS, outbound, type BudgetRefusedMessage, type OutboundOptions } from '@keel/outbound';
import { quietLogger, record, scriptedServer } from './helpers';

const INCOMING = 200;

describeEachExpress('outbound() under a total outage of one dependency', ({ express }) => {
  let dispatcher: Dispatcher;
  let client: Agent;
  let dependency: Awaited<ReturnType<typeof scriptedServer>>;
  let refusals: ReturnType<typeof record<BudgetRefusedMessage>>;

  beforeEach(async () => {
    dependency = await scriptedServer([{ status: 503 }]);
    client = new Agent({ connections: INCOMING });
    refusals = record<BudgetRefusedMessage>(CHANNELS.budgetRefused);
  });

  afterEach(async () => {
    refusals.stop();
    await dispatcher.destroy().catch(() => undefined);
    await client.destroy();
    await dependency.close();
  });

  /** Sends INCOMING concurrent requests to an app whose route calls the failing dependency once each. */
  async function storm(options: OutboundOptions): Promise<number[]> {
    dispatcher = outbound({ baseDelay: 5, maxDelay: 20, ...options });
    const app = express();
    app.use(timeout({ duration: 5000, logger: quietLogger }));
    app.get('/work/:id', (req, res, next) => {
      request(`${dependency.url}/data`, { dispatcher, headers: { 'x-call': req.params.id } })
        .then(async (answer) => {
          await answer.body.dump();
          res.status(answer.statusCode === 503 ? 502 : 200).end();
        })
        .catch(next);
    });
    app.use(errorHandler({ logger: quietLogger }));
    const { server, url } = await listen(app);
    try {
      return await Promise.all(
        Array.from({ length: INCOMING }, async (_, id) => {
          const answer = await request(`${url}/work/${id}`, { dispatcher: client });
          await answer.body.dump();
          return answer.statusCode;
        }),
      );
    } finally {
      await closeServer(server);
    }
  }

  it('keeps attempts within 1.25 times the first attempts, counted at the dependency', async () => {
    const statuses = await storm({ breaker: false });
    expect(statuses).toHaveLength(INCOMING);
    expect(statuses.every((status) => status === 502)).toBe(true);
    const firstAttempts = new Set(dependency.seen.map((seen) => seen.headers['x-call'])).size;
    expect(firstAttempts).toBe(INCOMING);
    expect(dependency.seen.length).toBeGreaterThan(INCOMING);
    expect(dependency.seen.length).toBeLessThanOrEqual(1.25 * firstAttempts);
    // Every call wanted two retries: those the budget refused were published.
    expect(refusals.messages.length).toBeGreaterThan(0);
    expect(refusals.messages[0]).toMatchObject({ method: 'GET', path: '/data', reason: 503 });
  });

  it('with the breaker too, the dependency sees at most 1.25 times the incoming load, and calls the open circuit refused never reach it', async () => {
    const statuses = await storm({});
    expect(statuses).toHaveLength(INCOMING);
    expect(dependency.seen.length).toBeLessThanOrEqual(1.25 * INCOMING);
    // Calls refused by the open circuit never reached the dependency; error-handler answered them 503.
    expect(statuses.filter((status) => status === 503).length).toBe(INCOMING - new Set(dependency.seen.map((seen) => seen.headers['x-call'])).size);
  });
});
