import createError from 'http-errors';
import request from 'supertest';
import { errorHandler, notFound, type ErrorReport } from '@keel/error-handler';
import { describeEachExpress } from '@keel/test-support';
import { captureLogger, withTraceId } from './helpers';

describeEachExpress('errorHandler() onError hook', ({ express }) => {
  function appWith(onError: (error: unknown, report: ErrorReport) => unknown) {
    const capture = captureLogger();
    const app = express();
    app.use(withTraceId('trace-on-error'));
    app.get('/fails', () => {
      throw createError(502, 'upstream said no');
    });
    app.get('/ok', (_req, res) => {
      res.send('ok');
    });
    app.use(notFound({ logger: capture.logger, onError }));
    app.use(errorHandler({ logger: capture.logger, onError }));
    return { app, capture };
  }

  it('is called once, after the response is sent, with the thrown value and a report', async () => {
    const calls: Array<{ error: unknown; report: ErrorReport; ended: boolean | undefined }> = [];
    const { app } = appWith((error, report) => {
      const res = (report.req as unknown as { res?: { writableEnded?: boolean } }).res;
      calls.push({ error, report, ended: res?.writableEnded });
    });
    const res = await request(app).get('/fails');
    expect(res.status).toBe(502);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect((call!.error as Error).message).toBe('upstream said no');
    expect(call!.ended).toBe(true);
    expect(call!.report).toMatchObject({ status: 502, code: 'BAD_GATEWAY', traceId: 'trace-on-error', outcome: 'sent' });
    expect(call!.report.error.message).toBe('upstream said no');
    expect(Object.isFrozen(call!.report)).toBe(true);
  });

  it("is called for notFound()'s 404s too", async () => {
    const codes: string[] = [];
    const { app } = appWith((_error, report) => {
      codes.push(report.code);
    });
    await request(app).get('/missing').expect(404);
    expect(codes).toEqual(['ERR_KEEL_ROUTE_NOT_FOUND']);
  });

  it('cannot change the response: its attempts fail and the client gets the error response', async () => {
    const attempts: string[] = [];
    const { app, capture } = appWith((_error, report) => {
      const res = (report.req as unknown as { res: import('express').Response }).res;
      try {
        res.setHeader('X-Hijack', '1');
      } catch (error) {
        attempts.push((error as NodeJS.ErrnoException).code ?? 'threw');
      }
      res.status(200).send('hijacked');
    });
    const res = await request(app).get('/fails');
    expect(res.status).toBe(502);
    expect(res.headers['x-hijack']).toBeUndefined();
    expect(res.text).not.toContain('hijacked');
    expect(attempts).toEqual(['ERR_HTTP_HEADERS_SENT']);
    expect(capture.entries.map((entry) => entry.message)).toEqual(['GET /fails 502', 'onError hook failed']);
    await request(app).get('/ok').expect(200, 'ok');
  });

  it('survives a hook that writes to the ended response: the late write is logged, not a crash', async () => {
    const { app, capture } = appWith((_error, report) => {
      (report.req as unknown as { res: import('node:http').ServerResponse }).res.write('extra');
    });
    const res = await request(app).get('/fails');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text).code).toBe('BAD_GATEWAY');
    await request(app).get('/ok').expect(200, 'ok');
    expect(capture.entries.map((entry) => [entry.level, entry.message])).toEqual([
      ['error', 'GET /fails 502'],
      ['warn', 'write after the error response ignored'],
    ]);
  });

  it('survives a hook that throws', async () => {
    const { app, capture } = appWith(() => {
      throw new Error('reporter down');
    });
    const res = await request(app).get('/fails');
    expect(res.status).toBe(502);
    expect(JSON.parse(res.text).code).toBe('BAD_GATEWAY');
    const failure = capture.entries.find((entry) => entry.message === 'onError hook failed');
    expect(failure).toMatchObject({ level: 'warn', fields: { traceId: 'trace-on-error', error: { message: 'reporter down' } } });
    await request(app).get('/ok').expect(200, 'ok');
  });

  it('survives a hook that rejects, and one that throws a non-Error', async () => {
    let settle!: () => void;
    const logged = new Promise<void>((resolve) => (settle = resolve));
    const capture = captureLogger();
    const watched = {
      ...capture.logger,
      warn: (message: string, fields?: Record<string, unknown>) => {
        capture.logger.warn(message, fields);
        settle();
      },
    };
    const app = express();
    app.get('/rejects', () => {
      throw new Error('boom');
    });
    app.use(errorHandler({ logger: watched, onError: () => Promise.reject(new Error('async reporter down')) }));
    await request(app).get('/rejects').expect(500);
    await logged;
    expect(capture.entries.at(-1)).toMatchObject({ level: 'warn', message: 'onError hook failed', fields: { error: { message: 'async reporter down' } } });

    const { app: app2, capture: capture2 } = appWith(() => {
      throw 'a string from the hook';
    });
    await request(app2).get('/fails').expect(502);
    expect(capture2.entries.at(-1)).toMatchObject({ message: 'onError hook failed', fields: { error: { message: 'a string from the hook' } } });
  });
});
