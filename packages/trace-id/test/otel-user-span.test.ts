import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { getParentId, getSpanId, getTraceId, isSampled, traceId, uninstallPropagation, type TraceIdOptions } from '@keel/trace-id';
import { describeEachExpress, type ExpressFactory } from '@keel/test-support';
import { TRACE_ID } from './helpers';

// No instrumentation patches anything here: the app starts its own span, as
// code does that traces with the API alone. (The SDK's HTTP and Express
// instrumentations run in child processes: see otel.test.ts.)
const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager().enable();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

beforeAll(() => {
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  uninstallPropagation();
  await provider.shutdown();
  trace.disable();
  context.disable();
});

/** An app whose first middleware runs the rest of the request in a span of its own. */
function spannedApp(express: ExpressFactory, options?: Partial<TraceIdOptions>) {
  const tracer = trace.getTracer('app');
  const app = express();
  app.use((_req, res, next) => {
    tracer.startActiveSpan('handle request', (span) => {
      res.on('finish', () => span.end());
      res.setHeader('x-span', `${span.spanContext().traceId}/${span.spanContext().spanId}`);
      next();
    });
  });
  app.use(traceId({ propagate: false, ...options }));
  app.get('/', async (_req, res) => {
    await new Promise((resolve) => setImmediate(resolve));
    res.json({ traceId: getTraceId(), spanId: getSpanId(), parentId: getParentId() ?? null, sampled: isSampled() });
  });
  return app;
}

describeEachExpress('traceId() inside a span the app started with the OpenTelemetry API', ({ express }) => {
  it("adopts the span's trace ID, span ID and sampled flag", async () => {
    const res = await request(spannedApp(express)).get('/').expect(200);
    const [trace, span] = (res.headers['x-span'] as string).split('/');
    expect(res.body).toEqual({ traceId: trace, spanId: span, parentId: null, sampled: true });
    expect(res.headers['x-request-id']).toBe(trace);
  });

  it('makes its own trace with openTelemetry: false', async () => {
    const res = await request(spannedApp(express, { openTelemetry: false })).get('/').expect(200);
    const [trace] = (res.headers['x-span'] as string).split('/');
    expect(res.body.traceId).toMatch(TRACE_ID);
    expect(res.body.traceId).not.toBe(trace);
  });
});
