import type { Server } from 'node:http';
import { getReceivedId, getRequestId, getTraceId, traceId, uninstallPropagation, type ReplacedIdEvent, type ReplaceReason } from '@keel/trace-id';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';
import { memoryLogger, rawGet, SPAN_ID, TRACE_ID } from './helpers';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const P = '00f067aa0ba902b7';
const TEN_KB = 'a'.repeat(10 * 1024);

/** Header lines a hostile or broken client can send, the fault each must be reported as, and the text that must never come back. */
const HOSTILE: ReadonlyArray<readonly [name: string, lines: ReadonlyArray<string | Buffer>, reason: ReplaceReason, forbidden: string | undefined]> = [
  ['an empty X-Request-ID', ['X-Request-ID: '], 'empty', undefined],
  ['a 10 KB X-Request-ID', [`X-Request-ID: ${TEN_KB}`], 'too-long', TEN_KB.slice(0, 200)],
  ['an X-Request-ID one over maxLength', [`X-Request-ID: ${'b'.repeat(129)}`], 'too-long', 'b'.repeat(129)],
  ['a UTF-8 X-Request-ID', [Buffer.concat([Buffer.from('X-Request-ID: caf'), Buffer.from('é☃', 'utf8')])], 'bad-charset', 'caf\u00c3'],
  ['a latin1 X-Request-ID', [Buffer.from('X-Request-ID: ren\xe9', 'latin1')], 'bad-charset', 'ren\u00e9'],
  ['double quotes', ['X-Request-ID: abc"},"level":"error'], 'bad-charset', 'abc"'],
  ['single quotes and markup', ["X-Request-ID: '><script>alert(1)</script>"], 'bad-charset', '<script>'],
  ['a tab inside', ['X-Request-ID: abc\tdef'], 'bad-charset', 'abc\tdef'],
  ['a space inside', ['X-Request-ID: abc def'], 'bad-charset', 'abc def'],
  ['two X-Request-ID headers (joined as "a, b")', ['X-Request-ID: first', 'X-Request-ID: second'], 'bad-charset', 'first'],
  ['a percent-encoded CRLF', ['X-Request-ID: abc%0d%0aSet-Cookie:x=1'], 'bad-charset', '%0d%0a'],
  ['a backslash escape', ['X-Request-ID: abc\\u0000'], 'bad-charset', '\\u0000'],
  // Each way W3C Trace Context says a traceparent is invalid.
  ['traceparent with uppercase hex', [`traceparent: 00-${T.toUpperCase()}-${P}-01`], 'malformed-traceparent', T.toUpperCase()],
  ['traceparent version ff', [`traceparent: ff-${T}-${P}-01`], 'malformed-traceparent', T],
  ['traceparent with an all-zero trace ID', [`traceparent: 00-${'0'.repeat(32)}-${P}-01`], 'malformed-traceparent', '0'.repeat(32)],
  ['traceparent with an all-zero parent ID', [`traceparent: 00-${T}-${'0'.repeat(16)}-01`], 'malformed-traceparent', T],
  ['version 00 traceparent one character short', [`traceparent: 00-${T}-${P}-1`], 'malformed-traceparent', T],
  ['version 00 traceparent one character long', [`traceparent: 00-${T}-${P}-011`], 'malformed-traceparent', T],
  ['version 00 traceparent with a suffix', [`traceparent: 00-${T}-${P}-01-extra`], 'malformed-traceparent', T],
  ['traceparent with a short trace ID', [`traceparent: 00-${T.slice(1)}-${P}-01`], 'malformed-traceparent', T.slice(1)],
  ['traceparent with a long parent ID', [`traceparent: 00-${T}-${P}a-01`], 'malformed-traceparent', T],
  ['traceparent with a non-hex character', [`traceparent: 00-${T.slice(0, 31)}g-${P}-01`], 'malformed-traceparent', T.slice(0, 31)],
  ['traceparent with non-hex flags', [`traceparent: 00-${T}-${P}-0z`], 'malformed-traceparent', T],
  ['traceparent with a non-hex version', [`traceparent: 0g-${T}-${P}-01`], 'malformed-traceparent', T],
  ['traceparent with an uppercase version', [`traceparent: 0A-${T}-${P}-01`], 'malformed-traceparent', T],
  ['traceparent with wrong separators', [`traceparent: 00_${T}_${P}_01`], 'malformed-traceparent', T],
  ['higher-version traceparent shorter than 55', [`traceparent: 01-${T}-${P}-0`], 'malformed-traceparent', T],
  ['higher-version traceparent not followed by a dash', [`traceparent: 01-${T}-${P}-01.what`], 'malformed-traceparent', T],
  ['two traceparent headers', [`traceparent: 00-${T}-${P}-01`, `traceparent: 00-${T}-${P}-01`], 'malformed-traceparent', T],
  ['an empty traceparent', ['traceparent: '], 'malformed-traceparent', undefined],
  ['a 10 KB traceparent', [`traceparent: 00-${T}-${P}-01${TEN_KB}`], 'malformed-traceparent', T],
];

afterAll(() => uninstallPropagation());

describeEachExpress('traceId() with hostile input', ({ express }) => {
  let server: Server;
  let port: number;
  const replaced: ReplacedIdEvent[] = [];
  const log = memoryLogger();

  beforeAll(async () => {
    const app = express();
    app.use(traceId({ onReplace: (event) => replaced.push(event) }));
    app.get('/', (_req, res) => {
      log.logger.info('handled', { route: '/' });
      res.json({ traceId: getTraceId(), requestId: getRequestId() ?? null, receivedId: getReceivedId() ?? null });
    });
    ({ server, port } = await listen(app));
  });
  afterAll(() => closeServer(server));

  it.each(HOSTILE)('replaces %s, never echoing or logging it', async (_name, lines, reason, forbidden) => {
    replaced.length = 0;
    const before = log.raw.length;
    const res = await rawGet(port, '/', lines);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { traceId: string; requestId: string | null; receivedId: string | null };
    expect(body.traceId).toMatch(TRACE_ID);
    expect(body.receivedId).toBeNull();
    expect(body.requestId).toBeNull();
    expect(res.headers['x-request-id']).toEqual([body.traceId]);
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toMatchObject({ reason, received: undefined, traceId: body.traceId });
    const written = log.raw.slice(before);
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0]!)).toMatchObject({ message: 'handled', traceId: body.traceId, spanId: expect.stringMatching(SPAN_ID) });
    expect(Object.keys(JSON.parse(written[0]!) as object).sort()).toEqual(['level', 'message', 'route', 'spanId', 'traceId']);
    if (forbidden !== undefined) {
      for (const values of Object.values(res.headers)) for (const value of values) expect(value).not.toContain(forbidden);
      expect(written[0]).not.toContain(forbidden);
    }
  });

  it.each([
    ['a higher-version traceparent longer than 55, followed by a dash', `traceparent: cc-${T}-${P}-01-what-the-future-holds`, { traceId: T }],
    ['a higher-version traceparent of exactly 55', `traceparent: 01-${T}-${P}-03`, { traceId: T }],
    ['an X-Request-ID of exactly maxLength', `X-Request-ID: ${'c'.repeat(128)}`, { requestId: 'c'.repeat(128) }],
    ['an X-Request-ID with surrounding whitespace (trimmed by the HTTP parser)', 'X-Request-ID: \t  abc-1 \t', { requestId: 'abc-1' }],
    ['an X-Request-ID of every allowed character', 'X-Request-ID: AZaz09-_.:+=/', { requestId: 'AZaz09-_.:+=/' }],
  ])('accepts %s', async (_name, line, expected: { traceId?: string; requestId?: string }) => {
    replaced.length = 0;
    const res = await rawGet(port, '/', [line]);
    expect(JSON.parse(res.body)).toMatchObject(expected);
    expect(res.headers['x-request-id']).toEqual([expected.requestId ?? expected.traceId]);
    expect(replaced).toHaveLength(0);
  });
});
