import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { closeServer, listen, type RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, listeningPort, startRecipeApp } from '../../test-support';

const APP = path.join(__dirname, 'app.js');

interface LogLine {
  level: string;
  message: string;
  traceId?: string;
  spanId?: string;
  requestId?: string;
  orderId?: string;
  service?: string;
  [key: string]: unknown;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

describe.each(EXPRESS_MAJORS)('recipe: trace IDs in winston logs and on fetch (app.js on Express %i)', (major) => {
  let app: RunningFixture;
  let base: string;
  let stock: Awaited<ReturnType<typeof listen>>;
  const received = new Map<string, IncomingHttpHeaders>();

  beforeAll(async () => {
    // The stock service: records the headers of each call, answers after a short, varying delay.
    stock = await listen((req, res) => {
      const id = decodeURIComponent(req.url!.split('/').pop()!);
      received.set(id, req.headers);
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ available: id.length }));
      }, Math.floor(Math.random() * 20));
    });
    app = startRecipeApp(APP, { express: major, env: { PORT: '0', STOCK_URL: stock.url } });
    base = `http://127.0.0.1:${await listeningPort(app)}`;
  });

  afterAll(async () => {
    app.kill('SIGKILL');
    await app.exited;
    await closeServer(stock.server);
  });

  /** The JSON lines the app has written so far about `orderId`. */
  async function logOf(orderId: string): Promise<LogLine[]> {
    await app.waitFor((line) => (line as LogLine | undefined)?.orderId === orderId && (line as LogLine).message === 'stock loaded');
    return stdoutLines().filter((line) => line.orderId === orderId);
  }

  let stdout = '';
  beforeAll(() => {
    app.child.stdout!.on('data', (chunk: Buffer | string) => (stdout += chunk.toString()));
  });
  function stdoutLines(): LogLine[] {
    return stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  }

  it('keeps a caller\'s X-Request-ID beside the trace ID: echoed, on every log line, and sent on the outbound fetch', async () => {
    const response = await fetch(`${base}/orders/o-1`, { headers: { 'x-request-id': 'order-7-req' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('order-7-req');
    const body = (await response.json()) as { traceId: string };
    expect(body).toEqual({ orderId: 'o-1', available: 3, traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });

    const lines = await logOf('o-1');
    expect(lines.map((line) => line.message)).toEqual(['loading order', 'stock loaded']);
    const spanId = lines[0]!.spanId!;
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    for (const line of lines) expect(line).toMatchObject({ traceId: body.traceId, requestId: 'order-7-req', spanId, service: 'orders', level: 'info' });

    const outbound = received.get('o-1')!;
    expect(outbound['x-request-id']).toBe('order-7-req');
    // traceparent carries the logged trace ID, names a span of the call's own (a child of the logged one) as the caller, and leaves sampling to the stock service.
    expect(outbound.traceparent).toMatch(TRACEPARENT);
    const [, trace, parent] = TRACEPARENT.exec(outbound.traceparent as string)!;
    expect(trace).toBe(body.traceId);
    expect(parent).not.toBe(spanId);
    expect((outbound.traceparent as string).endsWith('-01')).toBe(true);
  });

  it('continues a W3C trace: the trace ID from traceparent, a new span, the sampled flag kept', async () => {
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const response = await fetch(`${base}/orders/o-2`, { headers: { traceparent: incoming } });
    expect(response.status).toBe(200);
    const lines = await logOf('o-2');
    for (const line of lines) expect(line.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    const [, trace, parent] = TRACEPARENT.exec(received.get('o-2')!.traceparent as string)!;
    expect(trace).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(lines[0]!.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(lines[0]!.spanId).not.toBe('b7ad6b7169203331');
    expect(parent).not.toBe(lines[0]!.spanId);
    expect(parent).not.toBe('b7ad6b7169203331');
    expect((received.get('o-2')!.traceparent as string).endsWith('-01')).toBe(true);
  });

  it('replaces an invalid ID with a fresh one, and never logs or forwards the bad value', async () => {
    const response = await fetch(`${base}/orders/o-3`, { headers: { 'x-request-id': 'bad id with spaces' } });
    const fresh = response.headers.get('x-request-id')!;
    expect(fresh).toMatch(/^[0-9a-f]{32}$/);
    const lines = await logOf('o-3');
    for (const line of lines) expect(line.traceId).toBe(fresh);
    expect(received.get('o-3')!['x-request-id']).toBe(fresh);
    expect(stdout).not.toContain('bad id with spaces');
  });

  it('stamps each of many concurrent requests\' lines and calls with its own ID', async () => {
    const ids = Array.from({ length: 20 }, (_, index) => `c-${index}`);
    await Promise.all(ids.map((id) => fetch(`${base}/orders/${id}`, { headers: { 'x-request-id': `trace-${id}` } }).then((response) => response.text())));
    for (const id of ids) {
      const lines = await logOf(id);
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(line.requestId).toBe(`trace-${id}`);
      expect(new Set(lines.map((line) => line.traceId)).size).toBe(1);
      expect(received.get(id)!['x-request-id']).toBe(`trace-${id}`);
    }
  });

  it('puts the trace ID on the error line and in the problem body', async () => {
    const notFound = await fetch(`${base}/nowhere`, { headers: { 'x-request-id': 'nf-trace', accept: 'application/problem+json' } });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('x-request-id')).toBe('nf-trace');
    const body = (await notFound.json()) as { status: number; traceId: string };
    expect(body).toMatchObject({ status: 404, traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    await app.waitFor((line) => (line as LogLine | undefined)?.traceId === body.traceId && (line as LogLine).requestId === 'nf-trace' && (line as LogLine).level === 'warn');
  });
});
