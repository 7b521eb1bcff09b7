import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import request from 'supertest';
import winston from 'winston';
// winston's own base class for transports (a dependency of winston).
import Transport from 'winston-transport';
import { createLifecycle, isInvalidOptionError, type Logger } from '@keel/lifecycle';
import {
  endLogger,
  flushOnShutdown,
  FLUSH_DEFAULTS,
  FORMAT_DEFAULTS,
  getSpanId,
  getTraceId,
  isLogFlushTimeoutError,
  traceFormat,
  traceMeta,
  traceId,
} from '@keel/trace-id';
import { describeEachExpress } from '@keel/test-support';

// Child processes, real sockets and thousands of log lines: slow on a busy machine.
jest.setTimeout(30_000);

type Line = Record<string | symbol, unknown>;

/** A transport that takes `latencyMs` per line, as a remote or congested sink does: winston buffers behind it. */
class SlowTransport extends Transport {
  readonly received: Line[] = [];
  constructor(private readonly latencyMs: number) {
    super();
  }
  override log(info: Line, callback: () => void): void {
    this.received.push(info);
    setTimeout(callback, this.latencyMs);
  }
}

/** A transport that never finishes a write. */
class StuckTransport extends Transport {
  override log(_info: Line, _callback: () => void): void {}
}

/** A transport that collects what reaches it, at once. */
class ArrayTransport extends Transport {
  readonly received: Line[] = [];
  override log(info: Line, callback: () => void): void {
    this.received.push(info);
    callback();
  }
}

const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined };
const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-trace-id-'));
  dirs.push(dir);
  return join(dir, 'app.log');
}
function fileLines(file: string): Line[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Line);
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeEachExpress('traceFormat()', ({ express }) => {
  it('writes traceId, spanId and requestId on lines logged inside a request, and nothing outside', async () => {
    const sink = new ArrayTransport();
    const logger = winston.createLogger({ format: winston.format.combine(traceFormat(), winston.format.json()), transports: [sink] });
    const app = express();
    app.use(traceId({ propagate: false }));
    app.get('/', async (_req, res) => {
      logger.info('before await');
      await delay(1);
      logger.warn('after await', { route: '/' });
      res.json({ traceId: getTraceId(), spanId: getSpanId() });
    });
    const { body } = await request(app).get('/').set('X-Request-ID', 'abc-1').expect(200);
    logger.info('outside');
    expect(sink.received.map((line) => [line.message, line.traceId, line.spanId, line.requestId])).toEqual([
      ['before await', body.traceId, body.spanId, 'abc-1'],
      ['after await', body.traceId, body.spanId, 'abc-1'],
      ['outside', undefined, undefined, undefined],
    ]);
    expect(Object.keys(sink.received[2]!)).not.toContain('traceId');
  });

  it('uses the configured keys and leaves a field the line already has', async () => {
    const sink = new ArrayTransport();
    const logger = winston.createLogger({ format: traceFormat({ traceIdKey: 'trace.id', spanIdKey: false, requestIdKey: 'request.id' }), transports: [sink] });
    const app = express();
    app.use(traceId({ propagate: false }));
    app.get('/', (_req, res) => {
      logger.info('one');
      logger.info('two', { 'trace.id': 'job-9' });
      res.end();
    });
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    await request(app).get('/').set('X-Request-ID', 'abc-2').set('traceparent', `00-${trace}-00f067aa0ba902b7-01`).expect(200);
    expect(sink.received.map((line) => [line['trace.id'], line['request.id'], 'spanId' in line, 'requestId' in line])).toEqual([
      [trace, 'abc-2', false, false],
      ['job-9', 'abc-2', false, false],
    ]);
  });

  it('stamps every line with its own request under back-pressure when the logger has traceMeta()', async () => {
    const sink = new SlowTransport(1);
    const logger = winston.createLogger({
      defaultMeta: traceMeta({ service: 'api' }),
      format: winston.format.combine(traceFormat(), winston.format.json()),
      transports: [sink],
    });
    const app = express();
    app.use(traceId({ propagate: false }));
    app.get('/:n', async (req, res) => {
      for (let line = 0; line < 10; line++) {
        logger.info('step', { n: req.params.n, line });
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
    });
    await Promise.all(Array.from({ length: 100 }, (_, n) => request(app).get(`/${n}`).set('X-Request-ID', `req-${n}`).expect(200)));
    await endLogger(logger);
    expect(sink.received).toHaveLength(1000);
    const wrong = sink.received.filter((line) => line.requestId !== `req-${String(line.n)}` || typeof line.traceId !== 'string');
    expect(wrong).toEqual([]);
    expect(sink.received[0]).toMatchObject({ service: 'api' });
  });
});

describe('traceMeta()', () => {
  it('copies the base metadata and adds no visible field', () => {
    const base = { service: 'api' };
    const meta = traceMeta(base);
    expect(Object.keys(meta)).toEqual(['service']);
    expect(JSON.stringify(meta)).toBe('{"service":"api"}');
    expect(meta).not.toBe(base);
  });

  it('has the documented format and flush defaults', () => {
    expect(FORMAT_DEFAULTS).toEqual({ traceIdKey: 'traceId', spanIdKey: 'spanId', requestIdKey: 'requestId', receivedIdKey: 'receivedId' });
    expect(FLUSH_DEFAULTS).toEqual({ lifecycle: undefined, name: 'flush-logs', timeout: undefined });
  });

  it('rejects bad format options at once', () => {
    expect(() => traceFormat({ traceIdKey: '' })).toThrow(expect.objectContaining({ code: 'ERR_KEEL_INVALID_OPTION', option: 'traceIdKey' }));
    expect(() => traceFormat({ colour: true } as never)).toThrow(expect.objectContaining({ code: 'ERR_KEEL_INVALID_OPTION' }));
  });
});

describe('endLogger()', () => {
  it('resolves once a File transport has written every line logged before it', async () => {
    const file = tempFile();
    const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.File({ filename: file })] });
    for (let i = 0; i < 5000; i++) logger.info('line', { i, pad: 'x'.repeat(100) });
    await endLogger(logger);
    const lines = fileLines(file);
    expect(lines).toHaveLength(5000);
    expect(lines.map((line) => line.i)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('hands every buffered line to a slow transport before ending it', async () => {
    const sink = new SlowTransport(0);
    const errors: unknown[] = [];
    const logger = winston.createLogger({ transports: [sink] });
    logger.on('error', (error) => errors.push(error));
    for (let i = 0; i < 500; i++) logger.info(`line ${i}`);
    await endLogger(logger);
    expect(sink.received).toHaveLength(500);
    expect(errors).toEqual([]);
  });

  it('returns the same wait when called twice, and drops lines logged after it without crashing', async () => {
    const sink = new ArrayTransport();
    const logger = winston.createLogger({ transports: [sink] });
    logger.info('kept');
    const first = endLogger(logger);
    expect(endLogger(logger)).toBe(first);
    await first;
    logger.info('too late');
    await delay(5);
    expect(sink.received.map((line) => line.message)).toEqual(['kept']);
  });

  it('rejects with LogFlushTimeoutError when a transport never finishes, on its timeout or signal', async () => {
    const logger = winston.createLogger({ transports: [new StuckTransport()] });
    logger.info('never written');
    const startedAt = Date.now();
    const error = await endLogger(logger, { timeout: 30 }).catch((caught: unknown) => caught);
    expect(isLogFlushTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ status: 500, expose: false, code: 'ERR_KEEL_LOG_FLUSH_TIMEOUT' });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(25);
    const controller = new AbortController();
    const aborted = endLogger(logger, { signal: controller.signal }).catch((caught: unknown) => caught);
    controller.abort(new Error('hook timed out'));
    expect(await aborted).toMatchObject({ code: 'ERR_KEEL_LOG_FLUSH_TIMEOUT', cause: expect.objectContaining({ message: 'hook timed out' }) });
  });

  it('rejects what is not a logger, and a bad timeout', async () => {
    await expect(endLogger({} as never)).rejects.toMatchObject({ code: 'ERR_KEEL_INVALID_OPTION', option: 'logger' });
    const logger = winston.createLogger({ transports: [new ArrayTransport()] });
    await expect(endLogger(logger, { timeout: -1 })).rejects.toMatchObject({ code: 'ERR_KEEL_INVALID_OPTION', option: 'timeout' });
  });
});

describe('flushOnShutdown()', () => {
  it("ends the logger in the lifecycle's flush phase, after the other hooks logged", async () => {
    const file = tempFile();
    const logger = winston.createLogger({ format: winston.format.json(), transports: [new winston.transports.File({ filename: file })] });
    // The lifecycle logs to the same logger: its report after the flush phase must not crash.
    const lifecycle = createLifecycle({ signals: [], exit: false, preStopDelay: 0, logger });
    try {
      flushOnShutdown(logger, { lifecycle });
      lifecycle.onShutdown('close-db', async () => {
        await delay(2);
        for (let i = 0; i < 1000; i++) logger.info('closing', { i });
      });
      const report = await lifecycle.shutdown('test');
      expect(report.exitCode).toBe(0);
      expect(report.phases.find((phase) => phase.phase === 'flush')!.hooks).toEqual([expect.objectContaining({ name: 'flush-logs', outcome: 'ok' })]);
      const lines = fileLines(file);
      expect(lines.filter((line) => line.message === 'closing')).toHaveLength(1000);
      expect(lines.some((line) => line.message === 'shutdown started')).toBe(true);
    } finally {
      lifecycle.dispose();
    }
  });

  it('reports a stuck logger as a timed-out hook and returns an unregister function', async () => {
    const logger = winston.createLogger({ transports: [new StuckTransport()] });
    logger.info('stuck');
    const lifecycle = createLifecycle({ signals: [], exit: false, preStopDelay: 0, logger: quiet, shutdownTimeout: 2000 });
    try {
      const unregister = flushOnShutdown(logger, { lifecycle, name: 'flush-winston', timeout: 30 });
      const other = winston.createLogger({ transports: [new ArrayTransport()] });
      flushOnShutdown(other, { lifecycle, name: 'flush-other' })();
      expect(typeof unregister).toBe('function');
      const report = await lifecycle.shutdown('test');
      const hooks = report.phases.find((phase) => phase.phase === 'flush')!.hooks;
      expect(hooks).toEqual([expect.objectContaining({ name: 'flush-winston', outcome: 'timeout' })]);
      expect(report.exitCode).toBe(1);
    } finally {
      lifecycle.dispose();
    }
  });

  it('rejects bad arguments at once', () => {
    const logger = winston.createLogger({ transports: [new ArrayTransport()] });
    for (const call of [
      () => flushOnShutdown({} as never, { lifecycle: createLifecycle({ signals: [] }) }),
      () => flushOnShutdown(logger, { lifecycle: {} as never }),
      () => flushOnShutdown(logger, { lifecycle: createLifecycle({ signals: [] }), name: '' }),
      () => flushOnShutdown(logger, { lifecycle: createLifecycle({ signals: [] }), timeout: 'soon' }),
    ]) {
      let error: unknown;
      try {
        call();
      } catch (caught) {
        error = caught;
      }
      expect(isInvalidOptionError(error)).toBe(true);
    }
  });
});
