import request from 'supertest';
import { errorHandler, isRouteNotFoundError, notFound, RouteNotFoundError } from '@keel/error-handler';
import { describeEachExpress } from '@keel/test-support';
import { captureLogger, withTraceId } from './helpers';

describeEachExpress('notFound()', ({ express }) => {
  const capture = captureLogger();
  const app = express();
  app.use(withTraceId('trace-404'));
  app.get('/exists', (_req, res) => {
    res.send('here');
  });
  app.use(notFound({ logger: capture.logger, env: 'production' }));
  app.use(errorHandler({ logger: capture.logger, env: 'production' }));
  beforeEach(() => capture.take());

  it('answers unmatched routes with a problem+json 404 and logs one line', async () => {
    const res = await request(app).get('/missing/page?q=<b>');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(res.text)).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'Cannot GET /missing/page',
      instance: '/missing/page',
      code: 'ERR_KEEL_ROUTE_NOT_FOUND',
      traceId: 'trace-404',
    });
    const lines = capture.take();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', message: 'GET /missing/page 404', fields: { status: 404, code: 'ERR_KEEL_ROUTE_NOT_FOUND', traceId: 'trace-404' } });
  });

  it('answers in the negotiated format, escaping the path in HTML', async () => {
    const html = await request(app).post('/<img src=x onerror=alert(1)>').set('Accept', 'text/html');
    expect(html.status).toBe(404);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.text).not.toContain('<img');
    const text = await request(app).delete('/gone').set('Accept', 'text/plain');
    expect(text.text).toBe('404 Not Found\nCannot DELETE /gone\ncode: ERR_KEEL_ROUTE_NOT_FOUND\ntraceId: trace-404\n');
    const json = await request(app).get('/gone').set('Accept', 'application/json');
    expect(JSON.parse(json.text)).toEqual({ error: { status: 404, code: 'ERR_KEEL_ROUTE_NOT_FOUND', message: 'Cannot GET /gone', traceId: 'trace-404' } });
  });

  it('lets matched routes through', async () => {
    await request(app).get('/exists').expect(200, 'here');
    expect(capture.take()).toHaveLength(0);
  });

  it('answers HEAD without a body', async () => {
    const res = await request(app).head('/missing');
    expect(res.status).toBe(404);
    expect(res.text ?? '').toBe('');
  });

  it('works without errorHandler() and without any other keel middleware', async () => {
    const bare = express();
    bare.use(notFound({ logger: captureLogger().logger }));
    const res = await request(bare).get('/x');
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).not.toHaveProperty('traceId');
  });

  it('exports its error in http-errors shape with a duck-typed guard', () => {
    const error = new RouteNotFoundError('Cannot GET /x');
    expect(error).toMatchObject({ status: 404, statusCode: 404, expose: true, code: 'ERR_KEEL_ROUTE_NOT_FOUND', name: 'RouteNotFoundError' });
    expect(isRouteNotFoundError(error)).toBe(true);
    expect(isRouteNotFoundError({ code: 'ERR_KEEL_ROUTE_NOT_FOUND' })).toBe(true);
    expect(isRouteNotFoundError(new Error('x'))).toBe(false);
    expect(isRouteNotFoundError(null)).toBe(false);
  });
});
