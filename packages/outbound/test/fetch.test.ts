import request from 'supertest';
import type { Dispatcher } from 'undici';
import { describeEachExpress } from '@keel/test-support';
import { errorHandler } from '@keel/error-handler';
import { timeout } from '@keel/timeout';
import { defaultDispatcher, fetch, outbound, isOutboundDeadlineError } from '@keel/outbound';
import { quietLogger, scriptedServer } from './helpers';

describe('fetch()', () => {
  let dependency: Awaited<ReturnType<typeof scriptedServer>>;
  let dispatcher: Dispatcher | undefined;

  afterEach(async () => {
    await dispatcher?.destroy().catch(() => undefined);
    dispatcher = undefined;
    await dependency.close();
  });

  it("is Node's fetch through the default dispatcher: it retries a 503", async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 200, body: 'ok' }]);
    const answer = await fetch(`${dependency.url}/`);
    expect(answer.status).toBe(200);
    expect(await answer.text()).toBe('partok');
    expect(dependency.seen).toHaveLength(2);
    expect(defaultDispatcher()).toBe(defaultDispatcher());
  });

  it('takes a dispatcher of its own, and throws keel errors as they are, not as "fetch failed"', async () => {
    dependency = await scriptedServer([{ hang: true }]);
    dispatcher = outbound({ timeout: 60 });
    const error = await fetch(`${dependency.url}/`, { dispatcher }).catch((caught: unknown) => caught);
    expect(isOutboundDeadlineError(error)).toBe(true);
    expect(error).toMatchObject({ status: 504 });
  });

  it('sends a string body again when it retries a POST with an Idempotency-Key', async () => {
    dependency = await scriptedServer([{ status: 503 }, { status: 201 }]);
    const answer = await fetch(`${dependency.url}/orders`, { method: 'POST', body: '{"n":2}', headers: { 'idempotency-key': 'k-2' } });
    await answer.arrayBuffer();
    expect(answer.status).toBe(201);
    expect(dependency.seen.map((seen) => seen.body)).toEqual(['{"n":2}', '{"n":2}']);
  });

  it('streams a response body through', async () => {
    dependency = await scriptedServer([{ status: 200, body: 'x'.repeat(100_000), bodyAfter: 10 }]);
    const answer = await fetch(`${dependency.url}/`);
    expect((await answer.text()).length).toBe(100_004);
  });

  it('sends request bodies and headers', async () => {
    dependency = await scriptedServer([{ status: 201 }]);
    const answer = await fetch(`${dependency.url}/orders`, { method: 'POST', body: JSON.stringify({ n: 1 }), headers: { 'content-type': 'application/json' } });
    await answer.arrayBuffer();
    expect(answer.status).toBe(201);
    expect(dependency.seen[0]).toMatchObject({ method: 'POST', body: '{"n":1}', headers: expect.objectContaining({ 'content-type': 'application/json' }) });
  });
});

describeEachExpress('fetch() inside a request', ({ express }) => {
  it("ends with the request's deadline: the error handler answers 504", async () => {
    const dependency = await scriptedServer([{ hang: true }]);
    try {
      const app = express();
      app.use(timeout({ duration: 150, logger: quietLogger }));
      app.get('/call', (_req, res, next) => {
        fetch(`${dependency.url}/`)
          .then((answer) => answer.text())
          .then((text) => res.send(text), next);
      });
      app.use(errorHandler({ logger: quietLogger }));
      const response = await request(app).get('/call');
      expect(response.status).toBe(504);
    } finally {
      await dependency.close();
    }
  });
});

afterAll(async () => {
  await defaultDispatcher().close();
});
