import { STATUS_CODES } from 'node:http';
import Boom from '@hapi/boom';
import createError from 'http-errors';
import request from 'supertest';
import { ShuttingDownError } from '@keel/lifecycle';
import { errorHandler } from '@keel/error-handler';
import { describeEachExpress } from '@keel/test-support';
import { captureLogger, LEAK_PATTERNS } from './helpers';

/** One thrown value and everything the client and the log must show for it. */
interface Row {
  readonly name: string;
  /** Builds the value afresh for each request. */
  readonly make: () => unknown;
  /** `direct` for values Express cannot carry through `next()` (falsy ones). */
  readonly via?: 'throw' | 'direct';
  /** A request body that makes body-parser fail, instead of a route that throws. */
  readonly post?: string;
  readonly status: number;
  readonly code: string;
  /** The detail a client sees; omitted when the message is hidden (detail is then the title). */
  readonly detail?: string | RegExp;
  readonly kind: string;
  /** Response headers expected (`undefined`: must be absent). */
  readonly headers?: Readonly<Record<string, string | RegExp | undefined>>;
  /** What the log line's `error.message` must be or match. */
  readonly logMessage?: string | RegExp;
}

const TEN_MB = 10 * 1024 * 1024;

function withGetters<T extends object>(target: T, keys: string[]): T {
  for (const key of keys) {
    Object.defineProperty(target, key, {
      get() {
        throw new Error(`getter ${key} throws`);
      },
      enumerable: true,
    });
  }
  return target;
}

const THROWING_KEYS = ['status', 'statusCode', 'message', 'code', 'stack', 'expose', 'headers', 'isBoom', 'name', 'cause', 'type', 'output'];

const deadline = (): Error =>
  Object.assign(new Error('SECRET deadline of 5000 ms exceeded'), {
    code: 'ERR_KEEL_DEADLINE_EXCEEDED',
    status: 503,
    statusCode: 503,
    expose: false,
    headers: { 'Retry-After': '2' },
  });

const rows: Row[] = [
  // http-errors
  { name: 'http-errors 404', make: () => createError(404, 'Order 42 does not exist'), status: 404, code: 'NOT_FOUND', detail: 'Order 42 does not exist', kind: 'http' },
  { name: 'http-errors 400 with expose: false', make: () => createError(400, 'SECRET validation internals', { expose: false }), status: 400, code: 'BAD_REQUEST', kind: 'http' },
  { name: 'http-errors 500', make: () => createError(500, 'SECRET db down'), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'http', logMessage: 'SECRET db down' },
  {
    name: 'http-errors 503 with Retry-After',
    make: () => createError(503, 'SECRET maintenance', { headers: { 'Retry-After': '120' } }),
    status: 503,
    code: 'SERVICE_UNAVAILABLE',
    kind: 'http',
    headers: { 'retry-after': '120' },
  },
  {
    name: 'http-errors 401 with WWW-Authenticate, hop-by-hop and invalid headers',
    make: () =>
      createError(401, 'Token expired', {
        headers: {
          'WWW-Authenticate': 'Bearer',
          Connection: 'close',
          'Transfer-Encoding': 'gzip',
          'Content-Type': 'text/evil',
          'X-Ok': 'yes',
          'Bad Name': 'x',
          'X-Crlf': 'a\r\nInjected: 1',
        },
      }),
    status: 401,
    code: 'UNAUTHORIZED',
    detail: 'Token expired',
    kind: 'http',
    headers: { 'www-authenticate': 'Bearer', 'x-ok': undefined, 'transfer-encoding': undefined, injected: undefined, 'x-crlf': undefined, 'bad name': undefined },
  },
  { name: 'an expose: true 500', make: () => createError(500, 'SECRET exposed on purpose', { expose: true }), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'http' },
  // Boom
  { name: 'Boom 404', make: () => Boom.notFound('Widget 7 is gone'), status: 404, code: 'NOT_FOUND', detail: 'Widget 7 is gone', kind: 'boom' },
  { name: 'Boom 500', make: () => Boom.badImplementation('SECRET kaboom'), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'boom', logMessage: 'SECRET kaboom' },
  { name: 'Boom 503 (Boom itself leaks it)', make: () => Boom.serverUnavailable('SECRET db-7.internal refused'), status: 503, code: 'SERVICE_UNAVAILABLE', kind: 'boom' },
  { name: 'Boom 504', make: () => Boom.gatewayTimeout('SECRET upstream 10.0.0.7'), status: 504, code: 'GATEWAY_TIMEOUT', kind: 'boom' },
  { name: 'Boom 401 with its WWW-Authenticate', make: () => Boom.unauthorized('Bad token', 'Bearer'), status: 401, code: 'UNAUTHORIZED', detail: 'Bad token', kind: 'boom', headers: { 'www-authenticate': /^Bearer/ } },
  // objects with a status
  {
    name: 'a plain object with status, message, code and expose: true',
    make: () => ({ status: 422, message: 'name is required', code: 'VALIDATION_FAILED', expose: true }),
    status: 422,
    code: 'VALIDATION_FAILED',
    detail: 'name is required',
    kind: 'http',
  },
  {
    name: 'a plain object with status, message and code, without expose (hidden)',
    make: () => ({ status: 422, message: 'SECRET column "ssn" violates constraint', code: 'VALIDATION_FAILED' }),
    status: 422,
    code: 'UNPROCESSABLE_ENTITY',
    kind: 'http',
  },
  {
    name: 'a database error given status 400 by Object.assign (hidden)',
    make: () => Object.assign(new Error('SECRET syntax error at or near "DROP" in SELECT * FROM users WHERE id = 1'), { status: 400, code: '42601' }),
    status: 400,
    code: 'BAD_REQUEST',
    kind: 'http',
  },
  { name: 'an Error with statusCode and expose', make: () => Object.assign(new Error('Slow down'), { statusCode: 429, expose: true }), status: 429, code: 'TOO_MANY_REQUESTS', detail: 'Slow down', kind: 'http' },
  { name: 'status 404 beside statusCode 500', make: () => Object.assign(new Error('Gone fishing'), { status: 404, statusCode: 500, expose: true }), status: 404, code: 'NOT_FOUND', detail: 'Gone fishing', kind: 'http' },
  {
    name: 'an Error subclass with status 409 and a safe code',
    make: () => {
      class ConflictError extends Error {
        status = 409;
        expose = true;
        code = 'ORDER_CONFLICT';
      }
      return new ConflictError('Order 9 was changed meanwhile');
    },
    status: 409,
    code: 'ORDER_CONFLICT',
    detail: 'Order 9 was changed meanwhile',
    kind: 'http',
  },
  { name: 'a 400 with an unsafe code', make: () => ({ status: 400, message: 'Bad input', code: 'has spaces <b>', expose: true }), status: 400, code: 'BAD_REQUEST', detail: 'Bad input', kind: 'http' },
  { name: 'a 400 with expose: "yes" (not true: hidden)', make: () => Object.assign(new Error('SECRET missing field'), { status: 400, expose: 'yes' }), status: 400, code: 'BAD_REQUEST', kind: 'http' },
  { name: 'a 400 whose message is not a string', make: () => ({ status: 400, message: { text: 'SECRET object message' } }), status: 400, code: 'BAD_REQUEST', kind: 'http' },
  { name: 'status 499 (no reason phrase)', make: () => Object.assign(new Error('Client closed'), { status: 499, expose: true }), status: 499, code: 'HTTP_499', detail: 'Client closed', kind: 'http' },
  // hostile statuses
  {
    name: 'status 99 (its headers ignored too)',
    make: () => Object.assign(new Error('SECRET ninety-nine'), { status: 99, headers: { 'X-From-Error': 'yes' } }),
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'error',
    headers: { 'x-from-error': undefined },
  },
  { name: 'status 600', make: () => Object.assign(new Error('SECRET six hundred'), { status: 600 }), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'error' },
  { name: 'status "500" (a string)', make: () => ({ status: '500', message: 'SECRET string status' }), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error' },
  { name: 'status "404" (a string)', make: () => Object.assign(new Error('SECRET string 404'), { status: '404' }), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'error' },
  { name: 'status NaN', make: () => Object.assign(new Error('SECRET nan'), { status: NaN, statusCode: NaN }), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'error' },
  { name: 'status 404.5', make: () => Object.assign(new Error('SECRET fraction'), { status: 404.5 }), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'error' },
  // body-parser, for real
  { name: 'body-parser: invalid JSON', make: () => undefined, post: '{"a":', status: 400, code: 'ENTITY_PARSE_FAILED', detail: /JSON/, kind: 'body-parser' },
  { name: 'body-parser: body over the limit', make: () => undefined, post: JSON.stringify({ a: 'x'.repeat(200) }), status: 413, code: 'ENTITY_TOO_LARGE', detail: 'request entity too large', kind: 'body-parser' },
  // keel's own errors
  { name: 'keel deadline error', make: deadline, status: 503, code: 'ERR_KEEL_DEADLINE_EXCEEDED', kind: 'keel', headers: { 'retry-after': '2' } },
  {
    name: 'keel deadline code without a status',
    make: () => Object.assign(new Error('SECRET deadline'), { code: 'ERR_KEEL_DEADLINE_EXCEEDED' }),
    status: 503,
    code: 'ERR_KEEL_DEADLINE_EXCEEDED',
    kind: 'keel',
    headers: { 'retry-after': '1' },
  },
  { name: 'ShuttingDownError of @keel/lifecycle', make: () => new ShuttingDownError(), status: 503, code: 'ERR_KEEL_SHUTTING_DOWN', kind: 'keel', headers: { 'retry-after': '1' } },
  {
    name: 'keel downstream timeout',
    make: () => Object.assign(new Error('SECRET payments timed out'), { code: 'ERR_KEEL_DOWNSTREAM_TIMEOUT', status: 504, statusCode: 504, expose: false }),
    status: 504,
    code: 'ERR_KEEL_DOWNSTREAM_TIMEOUT',
    kind: 'keel',
  },
  {
    name: 'an AbortError caused by a deadline',
    make: () => Object.assign(new Error('SECRET operation aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: deadline() }),
    status: 503,
    code: 'ERR_KEEL_DEADLINE_EXCEEDED',
    kind: 'keel',
    headers: { 'retry-after': '2' },
    logMessage: 'SECRET operation aborted',
  },
  {
    name: 'a TimeoutError (AbortSignal.timeout)',
    make: () => new DOMException('SECRET The operation was aborted due to timeout', 'TimeoutError'),
    status: 504,
    code: 'GATEWAY_TIMEOUT',
    kind: 'downstream-timeout',
  },
  {
    name: 'fetch failed on a connect timeout',
    make: () => new TypeError('fetch failed', { cause: Object.assign(new Error('SECRET connect timeout 10.1.2.3:5432'), { code: 'UND_ERR_CONNECT_TIMEOUT' }) }),
    status: 504,
    code: 'GATEWAY_TIMEOUT',
    kind: 'downstream-timeout',
  },
  // plain Errors
  { name: 'a plain Error', make: () => new Error('SECRET plain bug'), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'error', logMessage: 'SECRET plain bug' },
  {
    name: 'a real TypeError',
    make: () => {
      try {
        return (null as any).missing;
      } catch (error) {
        return error;
      }
    },
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'error',
    logMessage: /Cannot read properties of null/,
  },
  {
    name: 'an Error with a cause chain that loops',
    make: () => {
      const inner = new Error('SECRET innermost');
      const middle = new Error('SECRET middle', { cause: inner });
      const outer = new Error('SECRET outer', { cause: middle });
      (inner as Error & { cause?: unknown }).cause = outer;
      return outer;
    },
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'error',
    logMessage: 'SECRET outer',
  },
  // non-Errors
  { name: 'a string', make: () => 'SECRET just a string', status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: 'SECRET just a string' },
  { name: 'the number 42', make: () => 42, status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: '42' },
  { name: 'the number 404 (not a status)', make: () => 404, status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: '404' },
  { name: 'null', make: () => null, via: 'direct', status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: 'null' },
  { name: 'undefined', make: () => undefined, via: 'direct', status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: 'undefined' },
  { name: 'false', make: () => false, via: 'direct', status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: 'false' },
  { name: 'a symbol', make: () => Symbol('SECRET sym'), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: 'Symbol(SECRET sym)' },
  { name: 'a bigint', make: () => 10n, status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: '10' },
  { name: 'an array', make: () => ['SECRET', 1], status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'non-error', logMessage: '["SECRET",1]' },
  {
    name: 'a plain object without a message',
    make: () => ({ token: 'SECRET token', nested: { deep: true } }),
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'non-error',
    logMessage: '{"token":"[REDACTED]","nested":{"deep":true}}',
  },
  {
    name: 'a circular object without a message',
    make: () => {
      const loop: Record<string, unknown> = { id: 'SECRET loop' };
      loop.self = loop;
      return loop;
    },
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'non-error',
    logMessage: '{"id":"SECRET loop","self":"[Circular]"}',
  },
  {
    name: 'a circular http error',
    make: () => {
      const error = createError(400, 'Loop in input') as Error & { self?: unknown };
      error.self = error;
      return error;
    },
    status: 400,
    code: 'BAD_REQUEST',
    detail: 'Loop in input',
    kind: 'http',
  },
  {
    name: 'an object whose getters all throw',
    make: () => withGetters({}, THROWING_KEYS),
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'non-error',
    logMessage: /^\{("\w+":"\[unreadable\]",?){12}\}$/,
  },
  { name: 'an Error whose getters all throw', make: () => withGetters(new Error('SECRET hidden'), THROWING_KEYS), status: 500, code: 'INTERNAL_SERVER_ERROR', kind: 'error' },
  {
    name: 'a Proxy that throws on every trap',
    make: () => {
      const trap = (): never => {
        throw new Error('trap');
      };
      return new Proxy(new Error('SECRET proxied'), { get: trap, has: trap, getPrototypeOf: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
    },
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'non-error',
  },
  {
    name: 'a revoked Proxy',
    make: () => {
      const { proxy, revoke } = Proxy.revocable({ message: 'SECRET revoked' }, {});
      revoke();
      return proxy;
    },
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'non-error',
  },
  {
    name: 'an Error whose toString throws',
    make: () =>
      Object.assign(new Error('SECRET to-string'), {
        toString() {
          throw new Error('toString throws');
        },
        [Symbol.toPrimitive]() {
          throw new Error('toPrimitive throws');
        },
      }),
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'error',
    logMessage: 'SECRET to-string',
  },
  {
    name: 'an object whose toString throws',
    make: () => ({
      toString() {
        throw new Error('toString throws');
      },
    }),
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'non-error',
  },
  // hostile messages
  {
    name: 'a 10 MB message on a 400',
    make: () => createError(400, 'A'.repeat(TEN_MB)),
    status: 400,
    code: 'BAD_REQUEST',
    detail: `${'A'.repeat(1024)}…`,
    kind: 'http',
    logMessage: /^A{8192}… \[\d+ more characters\]$/,
  },
  {
    name: 'a 10 MB message on a 500',
    make: () => new Error(`SECRET ${'B'.repeat(TEN_MB)}`),
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'error',
    logMessage: /^SECRET B{8185}… \[\d+ more characters\]$/,
  },
  {
    name: 'HTML and CRLF in a 400 message',
    make: () => createError(400, '<script>alert(1)</script>\r\nSet-Cookie: pwned=1'),
    status: 400,
    code: 'BAD_REQUEST',
    detail: '<script>alert(1)</script>\nSet-Cookie: pwned=1',
    kind: 'http',
    headers: { 'set-cookie': undefined },
    logMessage: '<script>alert(1)</script>\r\nSet-Cookie: pwned=1',
  },
  {
    name: 'HTML and CRLF in a 500 message',
    make: () => new Error('SECRET <img src=x onerror=alert(1)>\r\nX-Injected: 1'),
    status: 500,
    code: 'INTERNAL_SERVER_ERROR',
    kind: 'error',
    headers: { 'x-injected': undefined },
  },
];

const MODES = [
  { label: 'production', options: { env: 'production' } },
  { label: 'development', options: { env: 'development' } },
  { label: 'development with debug', options: { env: 'development', debug: true } },
] as const;

const OTHER_FORMATS = ['application/json', 'text/html', 'text/plain'];

function expectHeaders(headers: Record<string, string | string[] | undefined>, expected: Row['headers']): void {
  for (const [name, value] of Object.entries(expected ?? {})) {
    if (value === undefined) expect(headers[name]).toBeUndefined();
    else if (value instanceof RegExp) expect(headers[name]).toMatch(value);
    else expect(headers[name]).toBe(value);
  }
}

describeEachExpress('errorHandler() over every kind of thrown value', ({ express }) => {
  it.each(MODES)('has at least 30 rows for $label', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  describe.each(MODES)('in $label mode', ({ label, options }) => {
    const capture = captureLogger();
    const handler = errorHandler({ ...options, logger: capture.logger });
    const app = express();
    const production = label === 'production';
    const debug = label === 'development with debug';

    app.post('/t/:index', express.json({ limit: '100b' }), (_req, res) => {
      res.json({ parsed: true });
    });
    app.get('/t/:index', (req, res, next) => {
      const row = rows[Number(req.params.index)]!;
      const value = row.make();
      if (row.via === 'direct') {
        handler(value, req, res, next);
        return;
      }
      throw value;
    });
    app.use(handler);

    it.each(rows.map((row, index) => ({ ...row, index })))('answers $name', async (row) => {
      const path = `/t/${row.index}`;
      const call = () => (row.post !== undefined ? request(app).post(path).set('Content-Type', 'application/json').send(row.post) : request(app).get(path));
      capture.take();
      const res = await call();
      const title = STATUS_CODES[row.status] ?? 'Client Error';

      expect(res.status).toBe(row.status);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
      expectHeaders(res.headers, row.headers);

      const body = JSON.parse(res.text);
      expect(body).toMatchObject({ type: 'about:blank', title, status: row.status, instance: path, code: row.code });
      if (row.detail instanceof RegExp) {
        expect(body.detail).toMatch(row.detail);
        expect(body.detail).not.toBe(title);
      } else {
        expect(body.detail).toBe(row.detail ?? title);
      }
      expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'instance', 'status', 'title', 'type', ...(debug ? ['debug'] : [])].sort());

      const lines = capture.take();
      expect(lines).toHaveLength(1);
      const [line] = lines;
      expect(line!.level).toBe(row.status >= 500 ? 'error' : row.status === 499 ? 'info' : 'warn');
      expect(line!.message).toBe(`${row.post !== undefined ? 'POST' : 'GET'} ${path} ${row.status}`);
      expect(line!.fields).toMatchObject({ method: row.post !== undefined ? 'POST' : 'GET', path, status: row.status, code: row.code, outcome: 'sent' });
      expect(line!.fields.error.kind).toBe(row.kind);
      if (row.logMessage instanceof RegExp) expect(line!.fields.error.message).toMatch(row.logMessage);
      else if (row.logMessage !== undefined) expect(line!.fields.error.message).toBe(row.logMessage);
      expect(line!.fields.error.message.length).toBeLessThan(8300);
      if (row.status >= 500 && row.kind !== 'non-error' && row.name !== 'an Error whose getters all throw') {
        expect(typeof line!.fields.error.stack).toBe('string');
      }
      if (row.status < 500) expect(line!.fields.error.stack).toBeUndefined();

      if (debug) {
        expect(body.debug.message).toBe(line!.fields.error.message);
        if (typeof line!.fields.error.stack === 'string') expect(body.debug.stack).toBe(line!.fields.error.stack);
      } else {
        // Without debug, no body in any format may carry a secret, a stack frame or a path.
        const texts = [res.text];
        for (const accept of OTHER_FORMATS) {
          const other = await call().set('Accept', accept);
          expect(other.status).toBe(row.status);
          expect(other.headers['content-type']).toBe(`${accept}; charset=utf-8`);
          texts.push(other.text);
        }
        capture.take();
        for (const text of texts) {
          expect(text).not.toContain('SECRET');
          for (const pattern of LEAK_PATTERNS) expect(text).not.toMatch(pattern);
          expect(text.length).toBeLessThan(4096);
        }
        if (production) expect(body.debug).toBeUndefined();
      }
    });
  });
});
