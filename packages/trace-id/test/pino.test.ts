import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import pino from 'pino';
import pinoHttp from 'pino-http';
import request from 'supertest';
import { FORMAT_DEFAULTS, getSpanId, getTraceId, traceFields, traceId, traceMixin, uninstallPropagation } from '@keel/trace-id';
import { describeEachExpress } from '@keel/test-support';
import { SPAN_ID, TRACE_ID } from './helpers';

afterAll(() => uninstallPropagation());

/** A stream that collects what pino writes, one parsed JSON object per line. */
function sink(): { stream: Writable; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { stream, lines };
}

describeEachExpress('traceMixin() with pino', ({ express }) => {
  it('puts traceId, spanId and requestId on every line logged inside a request, and nothing outside', async () => {
    const { stream, lines } = sink();
    const logger = pino({ mixin: traceMixin(), base: undefined }, stream);
    const app = express();
    app.use(traceId({ propagate: false }));
    app.get('/:n', async (req, res) => {
      logger.info({ n: req.params.n }, 'before await');
      await delay(Number(req.params.n) % 5);
      logger.warn({ n: req.params.n }, 'after await');
      res.json({ traceId: getTraceId(), spanId: getSpanId() });
    });
    const bodies = await Promise.all(Array.from({ length: 20 }, (_, n) => request(app).get(`/${n}`).set('X-Request-ID', `pino-${n}`).expect(200).then((res) => res.body as { traceId: string; spanId: string })));
    logger.info('outside');
    expect(lines).toHaveLength(41);
    bodies.forEach((body, n) => {
      expect(body.traceId).toMatch(TRACE_ID);
      expect(body.spanId).toMatch(SPAN_ID);
      const mine = lines.filter((line) => line.n === String(n));
      expect(mine.map((line) => line.msg)).toEqual(['before await', 'after await']);
      for (const line of mine) expect(line).toMatchObject({ traceId: body.traceId, spanId: body.spanId, requestId: `pino-${n}` });
    });
    const outside = lines.find((line) => line.msg === 'outside')!;
    expect(Object.keys(outside).sort()).toEqual(['level', 'msg', 'time']);
  });

  it("keeps a field the line already has, logs an untrusted client's ID as receivedId, and uses the configured keys", async () => {
    const { stream, lines } = sink();
    const logger = pino({ mixin: traceMixin({ traceIdKey: 'trace_id', spanIdKey: 'span_id' }), base: undefined }, stream);
    const app = express();
    app.use(traceId({ propagate: false, trust: false }));
    app.get('/', (_req, res) => {
      logger.info('one');
      logger.info({ trace_id: 'job-9' }, 'two');
      res.json({ traceId: getTraceId() });
    });
    const { body } = await request(app).get('/').set('X-Request-ID', 'client-1').expect(200);
    expect(lines.map((line) => [line.msg, line.trace_id, line.receivedId, 'requestId' in line, 'traceId' in line])).toEqual([
      ['one', body.traceId, 'client-1', false, false],
      ['two', 'job-9', 'client-1', false, false],
    ]);
    expect(lines[0]!.span_id).toMatch(SPAN_ID);
  });

  it("stamps pino-http's request line, through the mixin or through customProps and traceFields()", async () => {
    const mixed = sink();
    const withMixin = express();
    // Mounted before traceId(): it logs when the response finishes, inside the request context.
    withMixin.use(pinoHttp({ logger: pino({ mixin: traceMixin(), base: undefined }, mixed.stream) }));
    withMixin.use(traceId({ propagate: false }));
    withMixin.get('/', (_req, res) => res.json({ traceId: getTraceId() }));
    const first = await request(withMixin).get('/').set('X-Request-ID', 'http-1').expect(200);
    const completed = mixed.lines.find((line) => line.msg === 'request completed');
    expect(completed).toMatchObject({ traceId: first.body.traceId, requestId: 'http-1', spanId: expect.stringMatching(SPAN_ID) });

    const props = sink();
    const withProps = express();
    withProps.use(traceId({ propagate: false }));
    withProps.use(pinoHttp({ logger: pino({ base: undefined }, props.stream), customProps: (req) => traceFields(req) }));
    withProps.get('/', (_req, res) => res.json({ traceId: getTraceId() }));
    const second = await request(withProps).get('/').set('X-Request-ID', 'http-2').expect(200);
    expect(props.lines.find((line) => line.msg === 'request completed')).toMatchObject({ traceId: second.body.traceId, requestId: 'http-2' });
  });
});

describe('traceMixin() options', () => {
  it('shares the winston format defaults and rejects bad keys at once', () => {
    expect(FORMAT_DEFAULTS).toEqual({ traceIdKey: 'traceId', spanIdKey: 'spanId', requestIdKey: 'requestId', receivedIdKey: 'receivedId' });
    expect(() => traceMixin({ traceIdKey: '' })).toThrow(expect.objectContaining({ code: 'ERR_KEEL_INVALID_OPTION', option: 'traceIdKey' }));
    expect(() => traceMixin({ level: 'info' } as never)).toThrow(expect.objectContaining({ code: 'ERR_KEEL_INVALID_OPTION' }));
    expect(traceFields()).toEqual({});
  });
});
