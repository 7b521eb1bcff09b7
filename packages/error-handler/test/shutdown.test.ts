import http from 'node:http';
import createError from 'http-errors';
import request from 'supertest';
import { createLifecycle, ShuttingDownError } from '@keel/lifecycle';
import { errorHandler, notFound } from '@keel/error-handler';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';
import { captureLogger } from './helpers';

function quietLifecycle() {
  return createLifecycle({ signals: [], exit: false, preStopDelay: 0, shutdownTimeout: 2000, logger: captureLogger().logger });
}

/** Status and Connection header of one request on a keep-alive agent. */
async function connectionOf(url: string, agent: http.Agent): Promise<{ status: number; connection: string | undefined }> {
  const res = await request(url).get('/fails').agent(agent);
  return { status: res.status, connection: res.headers.connection };
}

describeEachExpress('errorHandler() during shutdown', ({ express }) => {
  function appFor(lifecycle?: ReturnType<typeof quietLifecycle>) {
    const app = express();
    app.get('/fails', () => {
      throw createError(400, 'Bad input');
    });
    app.get('/shutting-down', () => {
      throw new ShuttingDownError();
    });
    const options = { logger: captureLogger().logger, ...(lifecycle ? { lifecycle } : {}) };
    app.use(notFound(options));
    app.use(errorHandler(options));
    return app;
  }

  it('adds Connection: close to error responses once the lifecycle is draining', async () => {
    const lifecycle = quietLifecycle();
    const { server, url } = await listen(appFor(lifecycle));
    const agent = new http.Agent({ keepAlive: true });
    try {
      expect(await connectionOf(url, agent)).toEqual({ status: 400, connection: 'keep-alive' });
      const done = lifecycle.shutdown('test');
      expect(lifecycle.isShuttingDown).toBe(true);
      expect(await connectionOf(url, agent)).toEqual({ status: 400, connection: 'close' });
      const missing = await request(url).get('/nowhere').agent(agent);
      expect(missing.status).toBe(404);
      expect(missing.headers.connection).toBe('close');
      const shutting = await request(url).get('/shutting-down').agent(agent);
      expect(shutting.status).toBe(503);
      expect(shutting.headers.connection).toBe('close');
      expect(shutting.headers['retry-after']).toBe('1');
      expect(JSON.parse(shutting.text).code).toBe('ERR_KEEL_SHUTTING_DOWN');
      await done;
    } finally {
      agent.destroy();
      lifecycle.dispose();
      await closeServer(server);
    }
  });
});
