import { join } from 'node:path';
import request from 'supertest';
import { getTraceId, traceId, uninstallPropagation, type TraceIdOptions } from '@keel/trace-id';
import { describeEachExpress, startFixture, type ExpressFactory, type RunningFixture } from '@keel/test-support';
import { TRACE_ID } from './helpers';

jest.setTimeout(30_000);

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

let downstream: RunningFixture;
let downstreamUrl: string;

beforeAll(async () => {
  downstream = startFixture(join(__dirname, 'fixtures', 'sampling-downstream.js'), { timeoutMs: 120_000 });
  const { listening } = (await downstream.waitFor((line) => typeof line === 'object' && line !== null && 'listening' in line, 20_000)) as { listening: number };
  downstreamUrl = `http://127.0.0.1:${listening}`;
});
afterAll(async () => {
  uninstallPropagation();
  downstream.kill('SIGKILL');
  await downstream.exited;
});

/** An app that calls the downstream with fetch and answers with its own trace ID and what the downstream's sampler did. */
function callingApp(express: ExpressFactory, options?: Partial<TraceIdOptions>) {
  const app = express();
  app.use(traceId(options));
  app.get('/', async (_req, res) => {
    const seen = (await (await fetch(downstreamUrl)).json()) as { traceId: string; recorded: boolean };
    res.json({ traceId: getTraceId(), downstream: seen });
  });
  return app;
}

describeEachExpress('sampling, against an OpenTelemetry ParentBased sampler downstream', ({ express }) => {
  it('lets the downstream record the traces this service starts, under the trace ID this service logs', async () => {
    const { body } = await request(callingApp(express)).get('/').expect(200);
    expect(body.traceId).toMatch(TRACE_ID);
    expect(body.downstream).toEqual({ traceId: body.traceId, recorded: true });
  });

  it("passes on a trusted caller's decision, sampled or not", async () => {
    const app = callingApp(express);
    const dropped = await request(app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-00`).expect(200);
    expect(dropped.body.downstream).toEqual({ traceId: TRACE, recorded: false });
    const kept = await request(app).get('/').set('traceparent', `00-${TRACE}-${PARENT}-01`).expect(200);
    expect(kept.body.downstream).toEqual({ traceId: TRACE, recorded: true });
  });

  it("ignores an untrusted client's not-sampled flag: the trace is this service's, and the downstream records it", async () => {
    const { body } = await request(callingApp(express, { trust: ['10.0.0.0/8'] })).get('/').set('traceparent', `00-${TRACE}-${PARENT}-00`).expect(200);
    expect(body.traceId).not.toBe(TRACE);
    expect(body.downstream).toEqual({ traceId: body.traceId, recorded: true });
  });

  it('asks the downstream to drop the traces it starts only when told to (sampled: false)', async () => {
    const { body } = await request(callingApp(express, { sampled: false })).get('/').expect(200);
    expect(body.downstream).toEqual({ traceId: body.traceId, recorded: false });
  });
});
