import createError from 'http-errors';
import request from 'supertest';
import { Agent, interceptors, request as undiciRequest } from 'undici';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';
import { errorHandler, notFound } from '@keel/error-handler';
import { captureLogger, winstonToMemory } from './helpers';

/** Every header a service-to-service response may carry that must never reach the end user. */
const DOWNSTREAM_HEADERS = {
  'set-cookie': 'internal_session=SECRET-internal-cookie; Path=/; HttpOnly',
  location: 'https://auth.internal.example/login',
  'access-control-allow-origin': 'https://evil.example',
  'access-control-allow-credentials': 'true',
  'cache-control': 'public, max-age=86400',
  'strict-transport-security': 'max-age=0',
  server: 'payments-internal/4.2',
  'www-authenticate': 'Bearer realm="internal-payments"',
};

function expectNoDownstreamHeaders(headers: Record<string, unknown>): void {
  for (const name of ['set-cookie', 'location', 'access-control-allow-origin', 'access-control-allow-credentials', 'strict-transport-security', 'server', 'www-authenticate']) {
    expect(headers[name]).toBeUndefined();
  }
  expect(headers['cache-control']).toBe('no-store');
}

describeEachExpress('errorHandler() against a downstream service, a hostile client and a careless throw', ({ express }) => {
  describe('an error about a downstream response', () => {
    let downstream: Awaited<ReturnType<typeof listen>>;
    let dispatcher: ReturnType<Agent['compose']>;

    beforeAll(async () => {
      // An internal service that answers 401 to the service's own credentials, with everything a response can carry.
      downstream = await listen((_req, res) => {
        res.writeHead(401, { ...DOWNSTREAM_HEADERS, 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'SECRET service token expired for tenant 42' }));
      });
      dispatcher = new Agent().compose(interceptors.responseError());
    });
    afterAll(async () => {
      await dispatcher.close();
      await closeServer(downstream.server);
    });

    it('answers 502 for undici interceptors.responseError(), with none of the downstream headers, status or body, and logs the downstream status', async () => {
      const capture = captureLogger();
      const app = express();
      app.get('/checkout', async (_req, res, next) => {
        try {
          const { body } = await undiciRequest(`${downstream.url}/charge`, { dispatcher });
          res.send(await body.text());
        } catch (error) {
          next(error);
        }
      });
      app.use(errorHandler({ logger: capture.logger, env: 'production' }));

      const res = await request(app).get('/checkout');
      expect(res.status).toBe(502);
      expectNoDownstreamHeaders(res.headers);
      expect(res.body).toMatchObject({ status: 502, code: 'BAD_GATEWAY', detail: 'Bad Gateway' });
      expect(res.text).not.toMatch(/SECRET|tenant|401|internal/);
      const [line] = capture.take();
      expect(line!.fields.error).toMatchObject({ kind: 'downstream', downstreamStatus: 401 });
    });

    it.each([
      {
        client: 'axios',
        make: () =>
          Object.assign(new Error('Request failed with status code 401'), {
            name: 'AxiosError',
            isAxiosError: true,
            code: 'ERR_BAD_REQUEST',
            status: 401,
            config: { url: 'https://payments.internal/charge?api_key=SECRET-query-key', headers: { Authorization: 'Bearer SECRET-service-token' }, auth: { username: 'svc', password: 'SECRET-password' } },
            response: { status: 401, headers: DOWNSTREAM_HEADERS, data: { error: 'SECRET tenant 42' } },
          }),
        status: 502,
        downstreamStatus: 401,
      },
      {
        client: 'got',
        make: () => Object.assign(new Error('Response code 403 (Forbidden)'), { name: 'HTTPError', code: 'ERR_NON_2XX_3XX_RESPONSE', response: { statusCode: 403, headers: DOWNSTREAM_HEADERS } }),
        status: 502,
        downstreamStatus: 403,
      },
      {
        client: 'ky / fetch wrappers',
        make: () => Object.assign(new Error('Request failed with status code 404 Not Found'), { name: 'HTTPError', status: 404, headers: DOWNSTREAM_HEADERS, response: { status: 404 } }),
        status: 502,
        downstreamStatus: 404,
      },
      {
        client: 'undici ResponseStatusCodeError',
        make: () => Object.assign(new Error('Response status code 429: Too Many Requests'), { name: 'ResponseStatusCodeError', code: 'UND_ERR_RESPONSE_STATUS_CODE', status: 429, statusCode: 429, headers: DOWNSTREAM_HEADERS, body: 'SECRET' }),
        status: 502,
        downstreamStatus: 429,
      },
      {
        client: 'axios timeout',
        make: () => Object.assign(new Error('timeout of 1000ms exceeded'), { name: 'AxiosError', isAxiosError: true, code: 'ECONNABORTED', config: { url: 'https://payments.internal/charge' } }),
        status: 504,
        downstreamStatus: undefined,
      },
    ])('answers $status for an error from $client, never its status, headers or credentials', async ({ make, status, downstreamStatus }) => {
      const logs = winstonToMemory();
      const app = express();
      app.get('/checkout', () => {
        throw make();
      });
      app.use(errorHandler({ logger: logs.logger, env: 'production' }));
      const res = await request(app).get('/checkout');
      expect(res.status).toBe(status);
      expectNoDownstreamHeaders(res.headers);
      expect(res.text).not.toMatch(/SECRET|tenant|internal/);
      const [line] = logs.lines();
      expect(line.error.downstreamStatus).toBe(downstreamStatus);
      expect(logs.text()).not.toContain('SECRET');
    });
  });

  it("lets only allow-listed headers of an error's own through, and more with errorHeaders", async () => {
    const app = express();
    app.get('/limited', () => {
      throw createError(429, 'Slow down', { headers: { ...DOWNSTREAM_HEADERS, 'Retry-After': '30', 'RateLimit-Remaining': '0', 'X-Debug-Host': 'db-7.internal' } });
    });
    app.use(errorHandler({ logger: captureLogger().logger, env: 'production' }));
    const res = await request(app).get('/limited');
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('30');
    expect(res.headers['ratelimit-remaining']).toBe('0');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="internal-payments"');
    expect(res.headers['x-debug-host']).toBeUndefined();
    for (const name of ['set-cookie', 'location', 'access-control-allow-origin', 'strict-transport-security', 'server']) expect(res.headers[name]).toBeUndefined();

    const extended = express();
    extended.get('/limited', () => {
      throw createError(429, 'Slow down', { headers: { 'X-Debug-Host': 'edge-1', Location: '/elsewhere' } });
    });
    extended.use(errorHandler({ logger: captureLogger().logger, errorHeaders: ['X-Debug-Host'] }));
    const allowed = await request(extended).get('/limited');
    expect(allowed.headers['x-debug-host']).toBe('edge-1');
    expect(allowed.headers.location).toBeUndefined();
    expect(() => errorHandler({ errorHeaders: ['Content-Type'] })).toThrow(/errorHeaders/);
  });

  it('hides a 4xx message unless the error says expose: true (a database error given status 400)', async () => {
    const app = express();
    app.get('/search', () => {
      // What `Object.assign(dbError, { status: 400 })` makes of a driver's error.
      throw Object.assign(new Error('syntax error at or near "DROP" in SELECT * FROM users WHERE name = \'x\'; DROP TABLE users'), { status: 400, code: '42601' });
    });
    app.get('/validated', () => {
      throw createError(400, 'name is required');
    });
    app.use(errorHandler({ logger: captureLogger().logger, env: 'production' }));
    const hidden = await request(app).get('/search');
    expect(hidden.status).toBe(400);
    expect(hidden.body).toMatchObject({ detail: 'Bad Request', code: 'BAD_REQUEST' });
    expect(hidden.text).not.toMatch(/SELECT|DROP|42601/);
    expect((await request(app).get('/validated')).body).toMatchObject({ detail: 'name is required' });
  });

  it("redacts credential headers and the Referer's query string from a scanner's 404 line", async () => {
    const logs = winstonToMemory();
    const app = express();
    app.use(notFound({ logger: logs.logger }));
    app.use(errorHandler({ logger: logs.logger }));
    const credentials = {
      'X-Api-Key': 'SECRET-api-key',
      'X-Auth-Token': 'SECRET-auth-token',
      'X-CSRF-Token': 'SECRET-csrf',
      'X-Amz-Security-Token': 'SECRET-amz',
      'X-Amzn-Oidc-Accesstoken': 'SECRET-oidc',
      'Cf-Access-Jwt-Assertion': 'SECRET.jwt.value',
      'X-Forwarded-Client-Cert': 'Hash=SECRET-cert;Subject="CN=svc"',
      'X-Session-Id': 'SECRET-session',
      'X-Client-Secret': 'SECRET-client-secret',
      Authorization: 'Bearer SECRET-bearer',
      Cookie: 'sid=SECRET-cookie',
      Referer: 'https://app.example.com/reset?token=SECRET-reset-token',
    };
    await request(app).get('/.env?access_token=SECRET-query').set(credentials).expect(404);
    const text = logs.text();
    expect(text).not.toContain('SECRET');
    const [line] = logs.lines();
    expect(line.path).toBe('/.env');
    expect(line.headers.referer).toBe('https://app.example.com/reset');
    for (const name of Object.keys(credentials).filter((header) => header !== 'Referer')) expect(line.headers[name.toLowerCase()]).toBe('[REDACTED]');
  });

  it('logs a thrown plain object through the same redaction: nested headers, config and auth', async () => {
    const logs = winstonToMemory();
    const app = express();
    app.get('/sync', () => {
      throw {
        message: undefined,
        request: { url: 'https://billing.internal/v1/charge?key=SECRET-url-key', headers: { authorization: 'Basic SECRET-basic', 'x-api-key': 'SECRET-key' } },
        config: { auth: { user: 'svc', pass: 'SECRET-pass' }, apiKey: 'SECRET-api', clientSecret: 'SECRET-client' },
        accessToken: 'SECRET-access-token',
      };
    });
    app.use(errorHandler({ logger: logs.logger }));
    await request(app).get('/sync').expect(500);
    expect(logs.text()).not.toContain('SECRET');
    const [line] = logs.lines();
    expect(line.error.message).toContain('"authorization":"[REDACTED]"');
    expect(line.error.message).toContain('https://billing.internal/v1/charge');
  });

  it('refuses an errorHeaders entry an error may never set', () => {
    expect(() => errorHandler({ errorHeaders: ['Transfer-Encoding'] })).toThrow(/@keel\/error-handler: option "errorHeaders"/);
  });
});
