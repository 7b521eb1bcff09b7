import type { Server } from 'node:http';
import { join } from 'node:path';
import { closeServer, describeEachExpress, listen, startFixture, type RunningFixture } from '@keel/test-support';
import { SPAN_ID, TRACE_ID } from './helpers';

// Child processes that load the OpenTelemetry SDK: slow to start on a busy machine.
jest.setTimeout(30_000);

// The fixtures load the built package (dist/): run `npm run build` first.
const FIXTURE = join(__dirname, 'fixtures', 'otel-app.js');
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const SERVER = 1;
const CLIENT = 2;

interface ExportedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  sampled: boolean;
}

interface LogLine {
  message?: string;
  orderId?: string;
  traceId?: string;
  spanId?: string;
  requestId?: string;
}

/** Every value of a header, one per header line as the downstream received them. */
function values(rawHeaders: readonly string[], name: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) found.push(rawHeaders[i + 1]!);
  return found;
}

let downstream: Server;
let downstreamUrl: string;
const calls = new Map<string, string[]>();

beforeAll(async () => {
  ({ server: downstream, url: downstreamUrl } = await listen((req, res) => {
    calls.set(req.url!, req.rawHeaders);
    res.end('{"available":1}');
  }));
});
afterAll(() => closeServer(downstream));

describeEachExpress('traceId() under the OpenTelemetry Node SDK', ({ major }) => {
  describe.each(['otel-first', 'undici-late', 'no-undici'])('(%s)', (mode) => {
    let app: RunningFixture;
    let base: string;

    beforeAll(async () => {
      const env: NodeJS.ProcessEnv = { MODE: mode, DOWNSTREAM_URL: downstreamUrl, EXPRESS_PACKAGE: major === 4 ? 'express4' : 'express' };
      app = startFixture(FIXTURE, { env, timeoutMs: 60_000 });
      const { listening } = (await app.waitFor((line) => typeof line === 'object' && line !== null && 'listening' in line, 20_000)) as { listening: number };
      base = `http://127.0.0.1:${listening}`;
    });
    afterAll(async () => {
      app.kill('SIGKILL');
      await app.exited;
    });

    /** The spans of `traceId`, once the server span of the request has ended. */
    async function spansOf(traceId: string): Promise<ExportedSpan[]> {
      for (let attempt = 0; attempt < 200; attempt++) {
        const spans = (await (await fetch(`${base}/__spans`)).json()) as ExportedSpan[];
        const mine = spans.filter((span) => span.traceId === traceId);
        if (mine.some((span) => span.kind === SERVER)) return mine;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no server span of trace ${traceId} was exported`);
    }

    async function linesOf(orderId: string): Promise<LogLine[]> {
      await app.waitFor((line) => (line as LogLine | null)?.orderId === orderId && (line as LogLine).message === 'stock loaded');
      return collected.filter((line) => line.orderId === orderId);
    }
    const collected: LogLine[] = [];
    beforeAll(() => {
      let pending = '';
      app.child.stdout!.on('data', (chunk: Buffer | string) => {
        pending += chunk.toString();
        let newline = pending.indexOf('\n');
        while (newline !== -1) {
          const text = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (text.startsWith('{')) collected.push(JSON.parse(text) as LogLine);
          newline = pending.indexOf('\n');
        }
      });
    });

    it('names one trace-id in the response header, every winston line, the exported spans and the one outbound traceparent', async () => {
      const orderId = `fresh-${mode}`;
      const response = await fetch(`${base}/orders/${orderId}`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { traceId: string; spanId: string; requestId: string | null };
      expect(body.traceId).toMatch(TRACE_ID);
      expect(body.spanId).toMatch(SPAN_ID);
      expect(body.requestId).toBeNull();
      expect(response.headers.get('x-request-id')).toBe(body.traceId);

      const lines = await linesOf(orderId);
      expect(lines.map((line) => line.message)).toEqual(['loading order', 'stock loaded']);
      for (const line of lines) expect(line).toMatchObject({ traceId: body.traceId, spanId: body.spanId });

      // keel adopted OpenTelemetry's trace, and the server span's ID as the request's span.
      const spans = await spansOf(body.traceId);
      const servers = spans.filter((span) => span.kind === SERVER);
      expect(servers).toHaveLength(1);
      expect(servers[0]!.spanId).toBe(body.spanId);
      expect(servers[0]!.parentSpanId).toBeUndefined();
      // The Express instrumentation traced the route on this major too.
      expect(spans.some((span) => span.name.startsWith('request handler'))).toBe(true);

      const outbound = calls.get(`/stock/${orderId}`)!;
      const traceparents = values(outbound, 'traceparent');
      expect(traceparents).toHaveLength(1);
      const [, trace, parent, flags] = traceparents[0]!.split('-');
      expect(trace).toBe(body.traceId);
      expect(flags).toBe('01');
      if (mode === 'no-undici') {
        // No undici instrumentation: keel stamps fetch itself, with OpenTelemetry's exported server span as the parent.
        expect(parent).toBe(body.spanId);
        expect(servers.some((span) => span.spanId === parent)).toBe(true);
      } else {
        const client = spans.find((span) => span.kind === CLIENT);
        expect(client).toBeDefined();
        expect(parent).toBe(client!.spanId);
      }
      expect(values(outbound, 'x-request-id')).toEqual([body.traceId]);
    });

    it('continues a trusted traceparent and keeps X-Request-ID as the request ID, logged, echoed and sent on', async () => {
      const orderId = `continued-${mode}`;
      const response = await fetch(`${base}/orders/${orderId}`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': 'edge-7' } });
      const body = (await response.json()) as { traceId: string; spanId: string; requestId: string | null };
      expect(body).toMatchObject({ traceId: TRACE, requestId: 'edge-7' });
      expect(response.headers.get('x-request-id')).toBe('edge-7');
      for (const line of await linesOf(orderId)) expect(line).toMatchObject({ traceId: TRACE, spanId: body.spanId, requestId: 'edge-7' });
      const server = (await spansOf(TRACE)).find((span) => span.kind === SERVER && span.spanId === body.spanId);
      expect(server).toMatchObject({ parentSpanId: PARENT, sampled: true });
      const outbound = calls.get(`/stock/${orderId}`)!;
      expect(values(outbound, 'traceparent').map((value) => value.split('-')[1])).toEqual([TRACE]);
      expect(values(outbound, 'x-request-id')).toEqual(['edge-7']);
    });
  });
});
