import http from 'node:http';
import { Writable } from 'node:stream';
import request from 'supertest';
import winston from 'winston';
import { guard } from '@keel/async-guard';
import { errorHandler, notFound } from '@keel/error-handler';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';

/** A winston logger writing JSON lines into memory: the text is what stdout would get. */
function winstonToMemory(): { logger: winston.Logger; text(): string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  const logger = winston.createLogger({ level: 'info', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, text: () => text };
}

/** Stack frames, file paths and Node internals: none may reach a production body. */
const LEAK_PATTERNS: readonly RegExp[] = [/\bat [^\s()]+ \(/, /[\w.-]+\.(?:[cm]?js|ts):\d+/, /node:internal/, /node_modules/];

const throwing = (key: PropertyKey) => () => {
  throw new Error(`getter ${String(key)} throws`);
};

/** The thrown values the guard must carry to `next(err)` once, written out. */
const WRITTEN_OUT: ReadonlyArray<readonly [string, () => unknown]> = [
  ['a value whose status getter throws', () => Object.defineProperty({ message: 'HIDDEN status getter' }, 'status', { get: throwing('status'), enumerable: true })],
  [
    'a revoked Proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({ message: 'HIDDEN revoked' }, {});
      revoke();
      return proxy;
    },
  ],
  ['a value whose constructor getter throws', () => Object.defineProperty({}, 'constructor', { get: throwing('constructor') })],
  ['an Error whose status getter throws', () => Object.defineProperty(new Error('HIDDEN error status getter'), 'status', { get: throwing('status') })],
  ['an Error whose message and stack getters throw', () => Object.defineProperties(new Error('x'), { message: { get: throwing('message') }, stack: { get: throwing('stack') } })],
  [
    'a Proxy of an Error throwing on every trap',
    () => new Proxy(new Error('HIDDEN proxied'), { get: throwing('get'), has: throwing('has'), getPrototypeOf: throwing('getPrototypeOf'), ownKeys: throwing('ownKeys'), getOwnPropertyDescriptor: throwing('gopd') }),
  ],
];

/** A small deterministic generator, so a failing value can be rebuilt from its index. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_KEYS: PropertyKey[] = [
  'status', 'statusCode', 'message', 'name', 'stack', 'code', 'expose', 'headers', 'cause', 'constructor',
  'then', 'toString', 'toJSON', 'isBoom', 'output', 'type', 'response', 'isAxiosError', Symbol.toPrimitive,
];

const PRIMITIVES: readonly unknown[] = [undefined, null, false, true, 0, -0, NaN, Infinity, -1, 404, 500, '', 'HIDDEN plain string', 10n, Symbol('HIDDEN symbol'), () => 'fn'];

/**
 * Builds hostile value `index`: throwing getters, Proxies, cycles, huge strings,
 * every primitive, and credentials in nested `headers`, `config` and `auth`
 * fields (every credential contains `CRED-`, every internal detail `HIDDEN`).
 */
function hostileValue(index: number): unknown {
  const next = random(index * 7919 + 17);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const credential = `CRED-${index}-${Math.floor(next() * 1e9)}`;
  const withCredentials = (target: Record<string, unknown>): Record<string, unknown> => {
    const where = Math.floor(next() * 6);
    if (where === 0) target.headers = { authorization: `Bearer ${credential}`, 'x-api-key': credential, 'set-cookie': `sid=${credential}` };
    if (where === 1) target.config = { url: `https://svc.internal/v1?token=${credential}`, headers: { Authorization: `Basic ${credential}` }, auth: { username: 'svc', password: credential } };
    if (where === 2) target.request = { headers: { cookie: `sid=${credential}`, 'x-amz-security-token': credential }, apiKey: credential };
    if (where === 3) target.accessToken = credential;
    if (where === 4) target.options = { clientSecret: credential, nested: { deeper: { password: credential } } };
    if (where === 5) target.url = `/reset?token=${credential}`;
    return target;
  };
  const size = index % 100 === 0 ? 1_000_000 : Math.floor(next() * 20_000);
  const internal = `HIDDEN-${index} ${'x'.repeat(size)}`;

  switch (index % 8) {
    case 0:
      return PRIMITIVES[Math.floor(index / 8) % PRIMITIVES.length];
    case 1: {
      // An object or Error with a random set of getters that throw.
      const target = (next() < 0.5 ? new Error(internal) : { message: internal }) as unknown as Record<PropertyKey, unknown>;
      withCredentials(target as Record<string, unknown>);
      for (const key of HOSTILE_KEYS) if (next() < 0.35) Object.defineProperty(target, key, { get: throwing(key), enumerable: next() < 0.5, configurable: true });
      return target;
    }
    case 2: {
      // Proxies: revoked, throwing on every trap, or answering nonsense.
      const kind = Math.floor(next() * 3);
      if (kind === 0) {
        const { proxy, revoke } = Proxy.revocable(withCredentials({ message: internal }), {});
        revoke();
        return proxy;
      }
      if (kind === 1) return new Proxy(new Error(internal), { get: throwing('get'), getPrototypeOf: throwing('proto'), ownKeys: throwing('keys'), has: throwing('has'), getOwnPropertyDescriptor: throwing('gopd') });
      return new Proxy(withCredentials({}), { get: (_target, key) => (key === 'status' ? 'HIDDEN' : key === 'message' ? { toString: throwing('toString') } : pick([undefined, null, 1, NaN, internal])) });
    }
    case 3: {
      // Cycles: through fields, through cause, through headers.
      const a: Record<string, unknown> = withCredentials({ message: internal, status: pick([400, 500, 503, 99, '404']) });
      const b: Record<string, unknown> = { a, cause: a };
      a.cause = b;
      a.self = a;
      a.headers = a;
      return next() < 0.5 ? a : Object.assign(new Error(internal), { cause: a });
    }
    case 4:
      // Huge strings: as the value, as a message, as a header.
      return pick([internal, new Error(internal), withCredentials({ status: 500, message: internal }), { status: 400, headers: { 'x-big': internal } }]);
    case 5: {
      // An Error given a status by hand, with a downstream's headers and random expose values.
      return Object.assign(new Error(internal), withCredentials({
        status: pick([400, 401, 404, 422, 500, 502, 600, -1, 404.5, NaN]),
        expose: pick([false, 'yes', 1, undefined, null]),
        headers: { 'Set-Cookie': `sid=${credential}`, Location: 'https://evil.example', 'Retry-After': '5', 'Bad Name': 'x', 'X-Crlf': 'a\r\nInjected: 1' },
      }));
    }
    case 6:
      // Downstream client errors, with the downstream's status and credentials in their config.
      return Object.assign(new Error(internal), withCredentials({ name: pick(['AxiosError', 'HTTPError', 'ResponseError']), isAxiosError: next() < 0.5, code: pick(['ERR_BAD_REQUEST', 'UND_ERR_RESPONSE', 'ERR_NON_2XX_3XX_RESPONSE']), status: pick([401, 403, 404]), response: { status: 401, headers: { 'set-cookie': `sid=${credential}` } } }));
    default: {
      // Non-Error objects of every other shape: arrays, Dates, Maps, class instances, null prototypes.
      const bare = Object.create(null) as Record<string, unknown>;
      bare.message = internal;
      class Weird {
        get message(): string {
          throw new Error('HIDDEN weird');
        }
      }
      return pick<unknown>([[internal, withCredentials({})], new Date(NaN), new Map([[credential, credential]]), new Weird(), withCredentials(bare), Object.assign(() => undefined, withCredentials({ message: internal }))]);
    }
  }
}

const COUNT = 1000;
const BATCH = 20;

describeEachExpress('async-guard and errorHandler() over hostile thrown values', ({ express }) => {
  it.each(WRITTEN_OUT)('answers %s once, thrown or rejected, and never hangs', async (_name, make) => {
    const app = express();
    app.get('/sync', guard(() => {
      throw make();
    }));
    app.get('/async', guard(async () => {
      throw make();
    }));
    // A plain error handler that reads what Express's own handler reads: it must not throw on what it is given.
    app.use((err: { status?: unknown; message?: unknown }, _req: http.IncomingMessage, res: http.ServerResponse & { status(code: number): { json(body: unknown): void } }, _next: unknown) => {
      res.status(typeof err.status === 'number' ? err.status : 500).json({ message: typeof err.message === 'string' && err.message.startsWith('A handler') ? 'converted' : 'other' });
    });
    for (const path of ['/sync', '/async']) {
      const res = await request(app).get(path).timeout(5000);
      expect(res.status).toBe(500);
    }
    const keel = express();
    keel.get('/async', guard(async () => {
      throw make();
    }));
    keel.use(errorHandler({ logger: winstonToMemory().logger, env: 'production' }));
    const res = await request(keel).get('/async').timeout(5000);
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('HIDDEN');
  });

  it(`answers ${COUNT} generated hostile values once each, with no internals in any body and no credential in any log line`, async () => {
    const logs = winstonToMemory();
    const app = express();
    app.get('/v/:index', guard(async (req: http.IncomingMessage & { params: { index: string } }, _res: unknown, next: (value?: unknown) => void) => {
      const index = Number(req.params.index);
      const value = hostileValue(index);
      // Thrown, rejected, or handed to next(): all three ways reach the error handler.
      if (index % 3 === 0) throw value;
      if (index % 3 === 1) return Promise.reject(value);
      next(value);
      return undefined;
    }));
    app.use(notFound({ logger: logs.logger, env: 'production' }));
    app.use(errorHandler({ logger: logs.logger, env: 'production' }));

    const finished = new Map<string, number>();
    const { server, url } = await listen(app);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.on('finish', () => finished.set(req.url!, (finished.get(req.url!) ?? 0) + 1));
    });
    try {
      for (let start = 0; start < COUNT; start += BATCH) {
        const responses = await Promise.all(
          Array.from({ length: BATCH }, (_, offset) => start + offset).map(async (index) => ({ index, res: await request(url).get(`/v/${index}`).timeout(10_000) })),
        );
        for (const { index, res } of responses) {
          if (res.status < 400 || res.status > 599 || /HIDDEN|CRED-/.test(res.text) || LEAK_PATTERNS.some((pattern) => pattern.test(res.text))) {
            throw new Error(`value ${index}: answered ${res.status} with ${res.text.slice(0, 300)}`);
          }
          expect(res.headers['set-cookie']).toBeUndefined();
          expect(res.headers.location).toBeUndefined();
        }
      }
      expect(finished.size).toBe(COUNT);
      expect([...finished.values()].every((count) => count === 1)).toBe(true);
      const lines = logs.text().split('\n').filter((line) => line.length > 0);
      expect(lines).toHaveLength(COUNT);
      const leaked = lines.findIndex((line) => line.includes('CRED-'));
      if (leaked !== -1) throw new Error(`a log line holds a credential: ${lines[leaked]!.slice(0, 600)}`);
    } finally {
      await closeServer(server);
    }
  });
});
