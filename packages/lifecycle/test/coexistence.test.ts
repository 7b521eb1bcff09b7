import { join } from 'node:path';
import { describeEachExpress, runFixture } from '@keel/test-support';

// Child processes that load the OpenTelemetry SDK: slow to start on a busy machine.
jest.setTimeout(60_000);

// The fixture loads the built packages (dist/): run `npm run build` first.
const FIXTURE = join(__dirname, 'fixtures', 'otel-coexistence.js');
const SERVER = 1;

interface Result {
  parents: Record<string, [traceId: string, parentSpanId: string]>;
  seen: Record<string, Record<string, { traceId: string | null; otelTraceId: string | null }>>;
  spans: Array<{ name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string }>;
}

describeEachExpress('the request context beside the OpenTelemetry Node SDK', ({ major }) => {
  it.each(['otel-first', 'keel-first'])('keeps OpenTelemetry spans parented and keel contexts their IDs (%s)', async (order) => {
    const run = await runFixture(FIXTURE, { env: { ORDER: order, EXPRESS_PACKAGE: major === 4 ? 'express4' : 'express' }, timeoutMs: 45_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = run.lines.find((line): line is Result => typeof line === 'object' && line !== null && 'spans' in line)!;
    for (const [id, [traceId, parentSpanId]] of Object.entries(result.parents)) {
      const spans = result.spans.filter((span) => span.traceId === traceId);
      const server = spans.filter((span) => span.kind === SERVER);
      // OpenTelemetry's server span continues the caller's trace, and every span of the request hangs under it.
      expect(server).toHaveLength(1);
      expect(server[0]!.parentSpanId).toBe(parentSpanId);
      expect(spans.filter((span) => span !== server[0] && span.parentSpanId !== server[0]!.spanId)).toEqual([]);
      expect(spans.map((span) => span.name)).toEqual(expect.arrayContaining(['middleware - traceIdMiddleware', 'middleware - timeoutMiddleware']));
      // keel's context names the same trace in the handler, after a body read from the socket, in a timer and a 'finish' listener.
      const seen = result.seen[id]!;
      expect(Object.keys(seen)).toEqual(expect.arrayContaining(['handler', 'after body', 'finish']));
      for (const where of Object.values(seen)) expect(where).toEqual({ traceId, otelTraceId: traceId });
    }
  });
});
