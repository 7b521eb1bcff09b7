import request from 'supertest';
import { guardApp } from '@keel/async-guard';
import { errorHandler } from '@keel/error-handler';
import { timeout } from '@keel/timeout';
import { describeEachExpress } from '@keel/test-support';
import { captureLogger } from './helpers';

jest.setTimeout(30_000);

describeEachExpress('timeout() on an app wrapped by guardApp()', ({ express }) => {
  it('answers a handler that never answers with 503 at the deadline', async () => {
    const app = guardApp(express());
    app.use(timeout({ duration: 50, logger: captureLogger() }));
    app.get('/hang', async () => {
      // Ignores its signal and never answers.
    });
    app.use(errorHandler({ logger: captureLogger() }));
    const response = await request(app).get('/hang');
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
  });
});
