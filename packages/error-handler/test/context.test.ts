import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import request from 'supertest';
import { getContext, runInRequestContext } from '@keel/lifecycle';
import { errorHandler } from '@keel/error-handler';
import { describeEachExpress } from '@keel/test-support';
import { captureLogger, withTraceId } from './helpers';

describeEachExpress('errorHandler() and the request context', ({ express }) => {
  it("answers an AbortError as the request's abort reason: a deadline gives 503 and its Retry-After", async () => {
    const capture = captureLogger();
    const app = express();
    app.use(withTraceId('trace-abort'));
    app.get('/aborted', () => {
      const deadline = Object.assign(new Error('deadline of 50 ms exceeded'), {
        code: 'ERR_KEEL_DEADLINE_EXCEEDED',
        status: 503,
        expose: false,
        headers: { 'Retry-After': '3' },
      });
      getContext()!.abort(deadline);
      // What a driver that wraps the signal's abort throws: no status, no cause.
      throw new DOMException('This operation was aborted', 'AbortError');
    });
    app.use(errorHandler({ logger: capture.logger }));
    const res = await request(app).get('/aborted');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('3');
    expect(JSON.parse(res.text)).toMatchObject({ code: 'ERR_KEEL_DEADLINE_EXCEEDED', traceId: 'trace-abort' });
    expect(capture.entries[0]!.fields.error).toMatchObject({ name: 'AbortError', message: 'This operation was aborted', kind: 'keel' });
  });

  it('answers a plain AbortError with no keel reason as a 500', async () => {
    const app = express();
    app.get('/aborted', () => {
      throw new DOMException('This operation was aborted', 'AbortError');
    });
    app.use(errorHandler({ logger: captureLogger().logger }));
    const res = await request(app).get('/aborted');
    expect(res.status).toBe(500);
  });

  it('uses the context attached to the request, not whatever context the error handler runs in', async () => {
    const app = express();
    app.use(withTraceId('trace-own'));
    app.get('/foreign', (_req, _res, next) => {
      // The error is reported from inside another request's context, as a pooled callback might do.
      const foreignReq = new IncomingMessage(new Socket());
      runInRequestContext(foreignReq, new ServerResponse(foreignReq), () => {
        getContext()!.traceId = 'trace-foreign';
        next(new Error('from a pool callback'));
      });
    });
    const capture = captureLogger();
    app.use(errorHandler({ logger: capture.logger }));
    const res = await request(app).get('/foreign');
    expect(JSON.parse(res.text).traceId).toBe('trace-own');
    expect(capture.entries[0]!.fields.traceId).toBe('trace-own');
  });

  it('reads the context without a keel middleware mounted before it, and then has no trace ID or duration', async () => {
    const capture = captureLogger();
    const app = express();
    app.get('/plain', () => {
      throw new Error('no context');
    });
    app.use(errorHandler({ logger: capture.logger }));
    await request(app).get('/plain').expect(500);
    expect(capture.entries[0]!.fields).not.toHaveProperty('traceId');
    expect(capture.entries[0]!.fields).not.toHaveProperty('durationMs');
  });
});
