import request from 'supertest';
import type { NextFunction, Request, Response } from 'express';
import { deferred, describeEachExpress } from '@keel/test-support';
import { errorHandler } from '@keel/error-handler';
import { timeout, withDeadline, type LateWrite } from '@keel/timeout';
import { captureLogger } from './helpers';

describeEachExpress('timeout() with @keel/error-handler', ({ express }) => {
  function appWith(route: (req: Request, res: Response, next: NextFunction) => void, lateWrites: LateWrite[] = []) {
    const app = express();
    app.use(timeout({ duration: 80, logger: captureLogger(), onLateWrite: (lateWrite) => lateWrites.push(lateWrite) }));
    app.get('/route', route);
    app.use(errorHandler({ logger: captureLogger() }));
    return app;
  }

  it('answers the deadline with a problem+json 503 and Retry-After, and drops the late write', async () => {
    const lateWrites: LateWrite[] = [];
    const lateDone = deferred();
    const app = appWith((_req, res) => {
      setTimeout(() => {
        res.json({ late: true });
        lateDone.resolve();
      }, 150);
    }, lateWrites);
    const response = await request(app).get('/route').set('accept', 'application/problem+json');
    expect(response.status).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['retry-after']).toBe('1');
    expect(JSON.parse(response.text)).toMatchObject({ status: 503, code: 'ERR_KEEL_DEADLINE_EXCEEDED' });
    await lateDone.promise;
    expect(lateWrites).toHaveLength(1);
  });

  it('answers a child deadline with a problem+json 504', async () => {
    const app = appWith((_req, res, next) => {
      withDeadline(20, (signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))))
        .then(() => res.send('unexpected'))
        .catch(next);
    });
    const response = await request(app).get('/route').set('accept', 'application/problem+json');
    expect(response.status).toBe(504);
    expect(JSON.parse(response.text)).toMatchObject({ status: 504, code: 'ERR_KEEL_DOWNSTREAM_TIMEOUT' });
  });
});
