import createError from 'http-errors';
import request from 'supertest';
import { errorHandler, type ErrorHandlerOptions } from '@keel/error-handler';
import { describeEachExpress, type ExpressFactory } from '@keel/test-support';
import { captureLogger, withTraceId } from './helpers';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

function appWith(express: ExpressFactory, options: Partial<ErrorHandlerOptions> = {}, traceId?: string) {
  const app = express();
  if (traceId !== undefined) app.use(withTraceId(traceId));
  app.get('/orders/:id', (req) => {
    throw createError(404, `Order ${req.params.id} does not exist`);
  });
  app.get('/broken', () => {
    throw new Error('connect ECONNREFUSED 10.0.0.7:5432');
  });
  app.get('/xss', () => {
    throw createError(400, '<script>alert("x")</script> & \'quotes\'\r\nline two');
  });
  app.get('/stale-headers', (_req, res) => {
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('ETag', '"abc"');
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.setHeader('Access-Control-Allow-Origin', 'https://app.example.com');
    res.setHeader('Vary', 'Origin');
    throw new Error('failed after setting headers');
  });
  app.get('/cacheable-error', () => {
    throw createError(429, 'Slow down', { headers: { 'Cache-Control': 'max-age=10', 'Retry-After': '10' } });
  });
  app.get('/trace-header-set', (_req, res) => {
    res.setHeader('X-Request-ID', 'set-by-trace-id');
    throw createError(409, 'Conflict here');
  });
  app.get('/long', () => {
    throw createError(400, 'y'.repeat(100));
  });
  app.use(errorHandler({ logger: captureLogger().logger, env: 'production', ...options }));
  return app;
}

describeEachExpress('errorHandler() response formats', ({ express }) => {
  const app = appWith(express, {}, TRACE_ID);

  it('answers application/problem+json by default, with the trace ID', async () => {
    const res = await request(app).get('/orders/42');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(JSON.parse(res.text)).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'Order 42 does not exist',
      instance: '/orders/42',
      code: 'NOT_FOUND',
      traceId: TRACE_ID,
    });
  });

  it('answers application/json when asked for it', async () => {
    const res = await request(app).get('/orders/42').set('Accept', 'application/json');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.text)).toEqual({ error: { status: 404, code: 'NOT_FOUND', message: 'Order 42 does not exist', traceId: TRACE_ID } });
  });

  it('answers text/html to a browser, every value escaped', async () => {
    const res = await request(app).get('/xss').set('Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toBe(
      [
        '<!DOCTYPE html>',
        '<html lang="en">',
        '<head>',
        '<meta charset="utf-8">',
        '<title>400 Bad Request</title>',
        '</head>',
        '<body>',
        '<h1>400 Bad Request</h1>',
        '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;',
        'line two</p>',
        '<p>Code: <code>BAD_REQUEST</code></p>',
        `<p>Trace ID: <code>${TRACE_ID}</code></p>`,
        '</body>',
        '</html>',
        '',
      ].join('\n'),
    );
    expect(res.text).not.toContain('<script>');
    expect(res.text).not.toContain('\r');
  });

  it('answers text/plain when asked for it', async () => {
    const res = await request(app).get('/orders/42').set('Accept', 'text/plain');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe(`404 Not Found\nOrder 42 does not exist\ncode: NOT_FOUND\ntraceId: ${TRACE_ID}\n`);
  });

  it('answers a 5xx with the reason phrase in every format', async () => {
    for (const accept of ['application/problem+json', 'application/json', 'text/html', 'text/plain']) {
      const res = await request(app).get('/broken').set('Accept', accept);
      expect(res.status).toBe(500);
      expect(res.text).toContain('Internal Server Error');
      expect(res.text).not.toContain('ECONNREFUSED');
      expect(res.text).not.toContain('10.0.0.7');
    }
  });

  it.each([
    ['no Accept header', undefined, 'application/problem+json'],
    ['*/*', '*/*', 'application/problem+json'],
    ['application/problem+json', 'application/problem+json', 'application/problem+json'],
    ['application/json', 'application/json', 'application/json'],
    ["axios' default", 'application/json, text/plain, */*', 'application/json'],
    ['a browser', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8', 'text/html'],
    ['text/plain', 'text/plain', 'text/plain'],
    ['text/*', 'text/*', 'text/html'],
    ['application/*', 'application/*', 'application/problem+json'],
    ['a higher quality for text', 'application/json;q=0.5, text/plain', 'text/plain'],
    ['html refused with q=0', 'text/html;q=0, */*;q=0.1', 'application/problem+json'],
    ['only an unknown type', 'image/png', 'application/problem+json'],
    ['everything refused', 'application/json;q=0, text/html;q=0, text/plain;q=0, application/problem+json;q=0', 'application/problem+json'],
    ['a malformed header', ';;;,,,garbage', 'application/problem+json'],
    ['an 8 KB header', `${'x/y, '.repeat(1600)}text/plain`, 'application/problem+json'],
  ])('negotiates %s', async (_label, accept, expected) => {
    const req = request(app).get('/orders/1');
    if (accept !== undefined) req.set('Accept', accept);
    const res = await req;
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe(`${expected}; charset=utf-8`);
  });

  it('offers only the configured formats, the first as fallback', async () => {
    const jsonOnly = appWith(express, { formats: ['json', 'text'] });
    const html = await request(jsonOnly).get('/orders/1').set('Accept', 'text/html');
    expect(html.headers['content-type']).toBe('application/json; charset=utf-8');
    const text = await request(jsonOnly).get('/orders/1').set('Accept', 'text/plain');
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('sets nosniff, a restrictive CSP, no-store and Vary: Accept on every error body', async () => {
    const res = await request(app).get('/orders/1');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.vary).toBe('Accept');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
  });

  it('drops headers describing the failed body, keeps the others, and never lets the error be cached', async () => {
    const res = await request(app).get('/stale-headers');
    expect(res.status).toBe(500);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(res.headers.vary).toBe('Origin, Accept');
    expect(JSON.parse(res.text).title).toBe('Internal Server Error');
  });

  it("answers no-store whatever Cache-Control the error carries, and keeps its Retry-After", async () => {
    const res = await request(app).get('/cacheable-error');
    expect(res.status).toBe(429);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['retry-after']).toBe('10');
  });

  it('answers HEAD with the headers and no body', async () => {
    const get = await request(app).get('/orders/1');
    const head = await request(app).head('/orders/1');
    expect(head.status).toBe(404);
    expect(head.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.text ?? '').toBe('');
  });

  it('puts the trace ID in X-Request-ID unless it is already set', async () => {
    const fresh = await request(app).get('/orders/1');
    expect(fresh.headers['x-request-id']).toBe(TRACE_ID);
    const preset = await request(app).get('/trace-header-set');
    expect(preset.status).toBe(409);
    expect(preset.headers['x-request-id']).toBe('set-by-trace-id');
    expect(JSON.parse(preset.text).traceId).toBe(TRACE_ID);
  });

  it('uses the configured trace header, or none', async () => {
    const custom = await request(appWith(express, { traceHeader: 'trace-id' }, TRACE_ID)).get('/orders/1');
    expect(custom.headers['trace-id']).toBe(TRACE_ID);
    expect(custom.headers['x-request-id']).toBeUndefined();
    const none = await request(appWith(express, { traceHeader: false }, TRACE_ID)).get('/orders/1');
    expect(none.headers['x-request-id']).toBeUndefined();
    expect(JSON.parse(none.text).traceId).toBe(TRACE_ID);
  });

  it('has no traceId member and no trace header without a trace ID', async () => {
    const res = await request(appWith(express)).get('/orders/1');
    expect(JSON.parse(res.text)).not.toHaveProperty('traceId');
    expect(res.headers['x-request-id']).toBeUndefined();
  });

  it('builds the problem type from typeBaseUrl and the code', async () => {
    const res = await request(appWith(express, { typeBaseUrl: 'https://errors.example.com/problems/' })).get('/orders/1');
    expect(JSON.parse(res.text).type).toBe('https://errors.example.com/problems/not-found');
  });

  it('cuts a message longer than maxDetailLength', async () => {
    const res = await request(appWith(express, { maxDetailLength: 20 })).get('/long');
    expect(JSON.parse(res.text).detail).toBe(`${'y'.repeat(20)}…`);
  });

  it('leaves the query string out of instance', async () => {
    const res = await request(app).get('/orders/7?token=abc');
    expect(JSON.parse(res.text).instance).toBe('/orders/7');
    expect(res.text).not.toContain('token');
  });
});
