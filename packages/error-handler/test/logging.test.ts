import createError from 'http-errors';
import request from 'supertest';
import { errorHandler, notFound, type ErrorHandlerOptions } from '@keel/error-handler';
import { describeEachExpress, type ExpressFactory } from '@keel/test-support';
import { captureLogger, winstonToMemory, withTraceId } from './helpers';

function appWith(express: ExpressFactory, options: Partial<ErrorHandlerOptions>) {
  const app = express();
  app.use(withTraceId('trace-log'));
  app.get('/crlf', () => {
    throw new Error('first line\r\n{"level":"info","message":"forged line"}\r\nlast');
  });
  app.get('/chain', () => {
    const root = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' });
    const query = new Error('query failed', { cause: root });
    throw new Error('could not load order 42', { cause: query });
  });
  app.get('/client', () => {
    throw createError(422, 'quantity must be positive');
  });
  app.use(notFound(options));
  app.use(errorHandler(options));
  return app;
}

describeEachExpress('errorHandler() logging', ({ express }) => {
  it('writes exactly one JSON line through winston, even for a message with CR/LF', async () => {
    const sink = winstonToMemory();
    await request(appWith(express, { logger: sink.logger })).get('/crlf').expect(500);
    const text = sink.text();
    expect(text.split('\n').filter(Boolean)).toHaveLength(1);
    const [line] = sink.lines();
    expect(line).toMatchObject({
      level: 'error',
      message: 'GET /crlf 500',
      method: 'GET',
      path: '/crlf',
      status: 500,
      code: 'INTERNAL_SERVER_ERROR',
      traceId: 'trace-log',
      outcome: 'sent',
      error: { kind: 'error', name: 'Error', message: 'first line\r\n{"level":"info","message":"forged line"}\r\nlast' },
    });
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs).toBeGreaterThanOrEqual(0);
    expect(line.error.stack).toMatch(/^Error: first line/);
    expect(typeof line.timestamp).toBe('string');
  });

  it('logs the whole cause chain of a 5xx, with codes and stacks', async () => {
    const capture = captureLogger();
    await request(appWith(express, { logger: capture.logger })).get('/chain').expect(500);
    const [line] = capture.entries;
    expect(line!.fields.error.message).toBe('could not load order 42');
    expect(line!.fields.error.causes).toEqual([
      expect.objectContaining({ name: 'Error', message: 'query failed' }),
      expect.objectContaining({ name: 'Error', message: 'connect ECONNREFUSED 10.0.0.7:5432', code: 'ECONNREFUSED', stack: expect.stringContaining('ECONNREFUSED') }),
    ]);
  });

  it('logs 4xx at warn by default, without stack or causes', async () => {
    const capture = captureLogger();
    await request(appWith(express, { logger: capture.logger })).get('/client').expect(422);
    expect(capture.entries).toHaveLength(1);
    expect(capture.entries[0]).toMatchObject({ level: 'warn', fields: { status: 422, error: { message: 'quantity must be positive' } } });
    expect(capture.entries[0]!.fields.error).not.toHaveProperty('stack');
  });

  it('logs 4xx at info when clientErrorLevel is info, 404s from notFound() included', async () => {
    const capture = captureLogger();
    const app = appWith(express, { logger: capture.logger, clientErrorLevel: 'info' });
    await request(app).get('/client').expect(422);
    await request(app).get('/nowhere').expect(404);
    expect(capture.entries.map((entry) => [entry.level, entry.message])).toEqual([
      ['info', 'GET /client 422'],
      ['info', 'GET /nowhere 404'],
    ]);
  });

  it('never logs authorization, cookies or configured headers, nor the query string', async () => {
    const sink = winstonToMemory();
    await request(appWith(express, { logger: sink.logger, redactHeaders: ['X-Api-Key'] }))
      .get('/client?access_token=SECRET-QUERY')
      .set('Authorization', 'Bearer SECRET-TOKEN')
      .set('Proxy-Authorization', 'Basic SECRET-PROXY')
      .set('Cookie', 'sid=SECRET-COOKIE')
      .set('Set-Cookie', 'sid=SECRET-SET-COOKIE')
      .set('X-Api-Key', 'SECRET-KEY')
      .set('User-Agent', 'keel-test')
      .expect(422);
    expect(sink.text()).not.toContain('SECRET');
    const [line] = sink.lines();
    expect(line.path).toBe('/client');
    expect(line.headers).toMatchObject({
      authorization: '[REDACTED]',
      'proxy-authorization': '[REDACTED]',
      cookie: '[REDACTED]',
      'set-cookie': '[REDACTED]',
      'x-api-key': '[REDACTED]',
      'user-agent': 'keel-test',
    });
  });

  it('still answers when the logger throws', async () => {
    const broken = {
      error() {
        throw new Error('logger down');
      },
      warn() {
        throw new Error('logger down');
      },
      info() {
        throw new Error('logger down');
      },
    };
    const app = appWith(express, { logger: broken });
    await request(app).get('/chain').expect(500);
    await request(app).get('/client').expect(422);
  });

  it('accepts any object with error, warn and info, such as console', () => {
    expect(() => errorHandler({ logger: console })).not.toThrow();
  });
});
