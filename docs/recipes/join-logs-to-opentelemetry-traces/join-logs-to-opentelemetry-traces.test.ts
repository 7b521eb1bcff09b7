import fs from 'node:fs';
import path from 'node:path';
import { closeServer, listen, type RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, listeningPort, startRecipeApp } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
// On Express 4 the same app.js runs, with Express's instrumentation also hooked under the alias Express 4 is installed as.
const APP_ON_EXPRESS4 = path.join(__dirname, 'fixtures', 'express4.js');
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const SERVER = 1;
const CLIENT = 2;

interface Span {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
}
interface Line {
  message?: string;
  orderId?: string;
  traceId?: string;
  spanId?: string;
  requestId?: string;
  span?: Span;
}

/** Every value of a header, one per header line as the stock service received them. */
function values(rawHeaders: readonly string[], name: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) found.push(rawHeaders[i + 1]!);
  return found;
}

describe.each(EXPRESS_MAJORS)("recipe: join keel's logs to OpenTelemetry traces (app.js on Express %i)", (major) => {
  let app: RunningFixture;
  let base: string;
  let stock: Awaited<ReturnType<typeof listen>>;
  const calls = new Map<string, string[]>();
  const lines: Line[] = [];

  beforeAll(async () => {
    stock = await listen((req, res) => {
      calls.set(req.url!, req.rawHeaders);
      res.setHeader('content-type', 'application/json');
      res.end('{"available":2}');
    });
    // A short export delay, so the test need not wait the BatchSpanProcessor's default 5 s.
    app = startRecipeApp(major === 4 ? APP_ON_EXPRESS4 : APP, { express: major, env: { PORT: '0', STOCK_URL: stock.url, OTEL_BSP_SCHEDULE_DELAY: '20' } });
    let pending = '';
    app.child.stdout!.on('data', (chunk: Buffer | string) => {
      pending += chunk.toString();
      for (let newline = pending.indexOf('\n'); newline !== -1; newline = pending.indexOf('\n')) {
        const text = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (text.startsWith('{')) lines.push(JSON.parse(text) as Line);
      }
    });
    base = `http://127.0.0.1:${await listeningPort(app, 20_000)}`;
  });

  afterAll(async () => {
    app.kill('SIGTERM');
    await app.exited;
    await closeServer(stock.server);
  });

  /** The spans of a trace, once its server span is exported. */
  async function spansOf(traceId: string): Promise<Span[]> {
    await app.waitFor((line) => (line as Line | null)?.span?.traceId === traceId && (line as Line).span!.kind === SERVER);
    return lines.flatMap((line) => (line.span?.traceId === traceId ? [line.span] : []));
  }

  async function logOf(orderId: string): Promise<Line[]> {
    await app.waitFor((line) => (line as Line | null)?.orderId === orderId && (line as Line).message === 'stock loaded');
    return lines.filter((line) => line.orderId === orderId);
  }

  it('loads tracing.js before anything else, so the instrumentations patch http and express when they are required', () => {
    const code = fs.readFileSync(APP, 'utf8').split('\n').filter((line) => line.includes('require('));
    expect(code[0]).toContain("require('./tracing')");
    expect(fs.existsSync(path.join(__dirname, 'tracing.js'))).toBe(true);
  });

  it('names one trace ID in the response header, every log line, the exported spans and the one traceparent sent on', async () => {
    const response = await fetch(`${base}/orders/o-1`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { traceId: string };
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(response.headers.get('x-request-id')).toBe(body.traceId);

    // The route's span ends after the server span's batch may have gone out: wait for it too.
    await app.waitFor((line) => (line as Line | null)?.span?.traceId === body.traceId && (line as Line).span!.name.startsWith('request handler'));
    const spans = await spansOf(body.traceId);
    const server = spans.filter((span) => span.kind === SERVER);
    expect(server).toHaveLength(1);
    expect(spans.some((span) => span.name.startsWith('request handler'))).toBe(true);

    const log = await logOf('o-1');
    expect(log.map((line) => line.message)).toEqual(['loading order', 'stock loaded']);
    // The log lines name the server span: in a tracing UI, the request's own span in this service.
    for (const line of log) expect(line).toMatchObject({ traceId: body.traceId, spanId: server[0]!.spanId });

    const traceparents = values(calls.get('/stock/o-1')!, 'traceparent');
    expect(traceparents).toHaveLength(1);
    const [, trace, parent] = traceparents[0]!.split('-');
    expect(trace).toBe(body.traceId);
    expect(spans.find((span) => span.kind === CLIENT)?.spanId).toBe(parent);
  });

  it("continues a caller's trace, and keeps its X-Request-ID as requestId beside it", async () => {
    const response = await fetch(`${base}/orders/o-2`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': 'lb-42' } });
    expect(((await response.json()) as { traceId: string }).traceId).toBe(TRACE);
    expect(response.headers.get('x-request-id')).toBe('lb-42');
    const server = (await spansOf(TRACE)).find((span) => span.kind === SERVER && span.parentSpanId === PARENT)!;
    expect(server).toBeDefined();
    for (const line of await logOf('o-2')) expect(line).toMatchObject({ traceId: TRACE, spanId: server.spanId, requestId: 'lb-42' });
    expect(values(calls.get('/stock/o-2')!, 'x-request-id')).toEqual(['lb-42']);
  });
});
