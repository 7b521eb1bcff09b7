import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { checkId, getSpanId, getTraceId, newSpanId, newW3cTraceId, parseTraceparent, toW3cTraceId, traceId, uninstallPropagation } from '@keel/trace-id';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';
import { SPAN_ID, UUID } from './helpers';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const P = '00f067aa0ba902b7';

afterAll(() => uninstallPropagation());

describe('ID generation', () => {
  it.each([
    ['span IDs', newSpanId, SPAN_ID],
    ['W3C trace IDs', newW3cTraceId, /^[0-9a-f]{32}$/],
  ])('makes 100,000 unique, well-formed %s', (_name, generate, shape) => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(generate());
    expect(seen.size).toBe(100_000);
    for (const id of seen) {
      if (!shape.test(id) || /^0+$/.test(id)) throw new Error(`bad id ${id}`);
    }
  }, 30_000);
});

describeEachExpress('traceId() IDs', ({ express }) => {
  it.each(['uuid', 'w3c'] as const)('gives 1,000 concurrent requests unique trace and span IDs (generator %s)', async (generator) => {
    const app = express();
    app.use(traceId({ generator, propagate: false }));
    app.get('/', (_req, res) => res.json({ traceId: getTraceId(), spanId: getSpanId() }));
    const { server, url } = await listen(app);
    try {
      const bodies: Array<{ traceId: string; spanId: string }> = [];
      for (let batch = 0; batch < 10; batch++) {
        bodies.push(...(await Promise.all(Array.from({ length: 100 }, async () => (await fetch(url)).json() as Promise<{ traceId: string; spanId: string }>))));
      }
      expect(new Set(bodies.map((body) => body.traceId)).size).toBe(1000);
      expect(new Set(bodies.map((body) => body.spanId)).size).toBe(1000);
      for (const body of bodies) expect(body.traceId).toMatch(generator === 'uuid' ? UUID : /^[0-9a-f]{32}$/);
    } finally {
      await closeServer(server);
    }
  }, 60_000);
});

describe('traceId() ID generation', () => {
  it.each(['uuid', 'w3c'] as const)('makes 100,000 unique trace and span IDs through the middleware (generator %s)', (generator) => {
    // 100,000 HTTP requests would take minutes: the middleware runs here on real request and response objects without a socket.
    const middleware = traceId({ generator, propagate: false, responseHeader: false });
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    const socket = new Socket();
    const record = (): void => {
      traceIds.add(getTraceId()!);
      spanIds.add(getSpanId()!);
    };
    for (let i = 0; i < 100_000; i++) {
      const req = new IncomingMessage(socket);
      const res = new ServerResponse(req);
      middleware(req, res, record);
      res.emit('close');
    }
    expect(traceIds.size).toBe(100_000);
    expect(spanIds.size).toBe(100_000);
    for (const id of traceIds) if (!(generator === 'uuid' ? UUID : /^[0-9a-f]{32}$/).test(id)) throw new Error(`bad id ${id}`);
  }, 60_000);
});

describe('parseTraceparent()', () => {
  it('parses a version 00 header', () => {
    expect(parseTraceparent(`00-${T}-${P}-01`)).toEqual({ version: '00', traceId: T, parentId: P, flags: 1, sampled: true });
    expect(parseTraceparent(`00-${T}-${P}-00`)).toMatchObject({ sampled: false });
    expect(parseTraceparent(`00-${T}-${P}-02`)).toMatchObject({ flags: 2, sampled: false });
  });

  it('tolerates higher versions: longer, if a dash follows the first 55 characters', () => {
    expect(parseTraceparent(`01-${T}-${P}-01`)).toMatchObject({ version: '01', traceId: T });
    expect(parseTraceparent(`fe-${T}-${P}-01-more-fields`)).toMatchObject({ version: 'fe', parentId: P });
    expect(parseTraceparent(`fe-${T}-${P}-01more`)).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    [`ff-${T}-${P}-01`, 'version ff'],
    [`00-${T.toUpperCase()}-${P}-01`, 'uppercase'],
    [`00-${T}-${P.toUpperCase()}-01`, 'uppercase parent'],
    [`00-${T}-${P}-0A`, 'uppercase flags'],
    [`00-${'0'.repeat(32)}-${P}-01`, 'zero trace'],
    [`00-${T}-${'0'.repeat(16)}-01`, 'zero parent'],
    [`00-${T}-${P}-01-`, 'version 00 longer'],
    [`00-${T}-${P}-1`, 'short'],
    [`00-${T}-${P}-01, 00-${T}-${P}-01`, 'joined duplicates'],
    [`00 ${T} ${P} 01`, 'spaces'],
    [`00-${T}-${P}-\t1`, 'tab'],
    [`xx-${T}-${P}-01`, 'bad version'],
  ])('rejects %j (%s)', (value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('rejects non-strings', () => {
    expect(parseTraceparent(undefined)).toBeUndefined();
    expect(parseTraceparent([`00-${T}-${P}-01`])).toBeUndefined();
  });
});

describe('toW3cTraceId()', () => {
  it('keeps a W3C trace ID, strips a UUID and hashes anything else the same way every time', () => {
    expect(toW3cTraceId(T)).toBe(T);
    expect(toW3cTraceId('0AF76519-16CD-43DD-8448-EB211C80319C')).toBe('0af7651916cd43dd8448eb211c80319c');
    const hashed = toW3cTraceId('req-42');
    expect(hashed).toMatch(/^[0-9a-f]{32}$/);
    expect(toW3cTraceId('req-43')).not.toBe(hashed);
    expect(toW3cTraceId('req-42')).toBe(hashed);
    expect(toW3cTraceId('0'.repeat(32))).toMatch(/^[0-9a-f]{32}$/);
    expect(toW3cTraceId('0'.repeat(32))).not.toBe('0'.repeat(32));
  });
});

describe('checkId()', () => {
  it('accepts letters, digits and -_.:+=/ up to maxLength, and nothing else', () => {
    expect(checkId('aZ09-_.:+=/', 11)).toBeUndefined();
    expect(checkId('', 10)).toBe('empty');
    expect(checkId('abc', 2)).toBe('too-long');
    for (const bad of [' ', '\t', ',', '"', "'", '<', '\\', '\u0000', '\u007f', 'é', '☃', '%', ';', '\n']) {
      expect(checkId(`a${bad}b`, 10)).toBe('bad-charset');
    }
  });
});
