import request from 'supertest';
import type { NextFunction, Request, Response } from 'express';
import { closeServer, deferred, describeEachExpress, listen } from '@keel/test-support';
import { createLifecycle } from '@keel/lifecycle';
import { getSignal, timeout } from '@keel/timeout';
import { captureLogger, rawGet } from './helpers';

// A password-reset link: its token in the query string is a credential.
const RESET_URL = '/reset?token=SECRET-reset-7f3a&email=ada%40example.com';

function jsonErrors(err: { status?: number }, _req: Request, res: Response, _next: NextFunction): void {
  res.status(err.status ?? 500).json({ failed: true });
}

describeEachExpress('timeout() log lines', ({ express }) => {
  function lateWriteApp(options: Parameters<typeof timeout>[0], lateDone: () => void) {
    const app = express();
    app.use(timeout(options));
    app.get('/reset', (_req, res) => {
      setTimeout(() => {
        res.send('late');
        lateDone();
      }, 100);
    });
    app.use(jsonErrors);
    return app;
  }

  it('logs a late write with the path only, never the query string, through a logger given as an option', async () => {
    const logger = captureLogger();
    const done = deferred();
    const app = lateWriteApp({ duration: 40, logger }, done.resolve);
    expect((await request(app).get(RESET_URL)).status).toBe(503);
    await done.promise;
    const late = logger.lines.filter((line) => line.message.includes('late write'));
    expect(late).toHaveLength(1);
    expect(late[0]!.fields).toMatchObject({ method: 'GET', url: '/reset' });
    expect(JSON.stringify(logger.lines)).not.toMatch(/SECRET|token=|ada/);
  });

  it('logs a late write with the path only through the lifecycle logger', async () => {
    const lifecycleLogger = captureLogger();
    const lifecycle = createLifecycle({ signals: [], logger: lifecycleLogger });
    const done = deferred();
    const app = lateWriteApp({ duration: 40, lifecycle }, done.resolve);
    expect((await request(app).get(RESET_URL)).status).toBe(503);
    await done.promise;
    const late = lifecycleLogger.lines.filter((line) => line.message.includes('late write'));
    expect(late[0]!.fields).toMatchObject({ url: '/reset' });
    expect(JSON.stringify(lifecycleLogger.lines)).not.toMatch(/SECRET|token=|ada/);
    lifecycle.dispose();
  });

  it('logs a stream cut at its deadline with the path only', async () => {
    const logger = captureLogger();
    const aborted = deferred();
    const app = express();
    app.use(timeout({ duration: 40, grace: 20, logger }));
    app.get('/export', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial;');
      getSignal()!.addEventListener('abort', () => aborted.resolve());
    });
    const { server, url } = await listen(app);
    try {
      const response = await rawGet(`${url}/export?api_key=SECRET-export-key`);
      expect(response.complete).toBe(false);
      await aborted.promise;
      const cut = logger.lines.filter((line) => line.message.includes('still streaming'));
      expect(cut).toHaveLength(1);
      expect(cut[0]!.fields).toMatchObject({ url: '/export' });
      expect(JSON.stringify(logger.lines)).not.toMatch(/SECRET|api_key/);
    } finally {
      await closeServer(server);
    }
  });
});
