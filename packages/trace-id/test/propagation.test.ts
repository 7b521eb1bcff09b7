import http, { type Server } from 'node:http';
import request from 'supertest';
import { Agent, Pool, fetch as undiciFetch, request as undiciRequest } from 'undici';
import {
  getRequestId,
  getSpanId,
  getTraceId,
  installPropagation,
  isPropagationInstalled,
  parseTraceparent,
  toW3cTraceId,
  traceHeaders,
  traceId,
  uninstallPropagation,
  type TraceIdOptions,
} from '@keel/trace-id';
import { closeServer, describeEachExpress, listen, type ExpressFactory } from '@keel/test-support';
import { SPAN_ID } from './helpers';

// Child processes, real sockets and thousands of log lines: slow on a busy machine.
jest.setTimeout(30_000);

/** What the downstream server saw on one request: every header line as sent. */
interface Seen {
  readonly path: string;
  readonly raw: readonly string[];
}

function valuesOf(seen: Seen, name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < seen.raw.length; i += 2) if (seen.raw[i]!.toLowerCase() === name) values.push(seen.raw[i + 1]!);
  return values;
}

let downstream: Server;
let downstreamUrl: string;
const seen = new Map<string, Seen>();

beforeAll(async () => {
  ({ server: downstream, url: downstreamUrl } = await listen((req, res) => {
    seen.set(req.url!, { path: req.url!, raw: req.rawHeaders });
    // A little latency, so pooled calls queue behind each other.
    setTimeout(() => res.end('ok'), 2);
  }));
});
afterAll(async () => {
  uninstallPropagation();
  await closeServer(downstream);
});

/** Calls the downstream server with `client` from inside a traced request and answers with the request's IDs. */
function appCalling(express: ExpressFactory, client: (url: string) => Promise<unknown>, options?: Partial<TraceIdOptions>) {
  const app = express();
  app.use(traceId(options));
  app.get('/:tag', async (req, res) => {
    await client(`${downstreamUrl}/${req.params.tag}`);
    res.json({ traceId: getTraceId(), spanId: getSpanId(), requestId: getRequestId() ?? null });
  });
  return app;
}

async function viaFetch(url: string): Promise<void> {
  await (await fetch(url)).text();
}

/**
 * Checks the downstream got one traceparent of the request's trace and flags,
 * whose parent is a span of the call's own (not this service's span), and the
 * request ID, else the trace ID. Returns that parent-id.
 */
function expectStamped(tag: string, body: { traceId: string; spanId: string; requestId?: string | null }, sampled = '01'): string {
  const record = seen.get(`/${tag}`)!;
  expect(record).toBeDefined();
  const traceparents = valuesOf(record, 'traceparent');
  expect(traceparents).toEqual([expect.stringMatching(new RegExp(`^00-${toW3cTraceId(body.traceId)}-[0-9a-f]{16}-${sampled}$`))]);
  const parentId = parseTraceparent(traceparents[0])!.parentId;
  expect(parentId).toMatch(SPAN_ID);
  expect(parentId).not.toBe(body.spanId);
  expect(valuesOf(record, 'x-request-id')).toEqual([body.requestId ?? body.traceId]);
  return parentId;
}

let counter = 0;
const tag = (name: string): string => `${name}-${++counter}`;

describeEachExpress('outbound propagation', ({ express }) => {
  beforeEach(() => installPropagation());

  it('stamps global fetch with traceparent (a client span of its own as parent) and X-Request-ID', async () => {
    const t = tag('fetch');
    const res = await request(appCalling(express, viaFetch)).get(`/${t}`).set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01').expect(200);
    expect(res.body.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(expectStamped(t, res.body, '01')).not.toBe('00f067aa0ba902b7');
    const u = tag('not-sampled');
    const dropped = await request(appCalling(express, viaFetch)).get(`/${u}`).set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00').expect(200);
    expectStamped(u, dropped.body, '00');
  });

  it('gives each call of a request the same trace and a parent-id of its own', async () => {
    const [a, b] = [tag('first-call'), tag('second-call')];
    const app = express();
    app.use(traceId());
    app.get('/', async (_req, res) => {
      await viaFetch(`${downstreamUrl}/${a}`);
      await viaFetch(`${downstreamUrl}/${b}`);
      res.json({ traceId: getTraceId(), spanId: getSpanId(), requestId: getRequestId() ?? null });
    });
    const body = (await request(app).get('/').set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01').expect(200)).body;
    expect(body.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    const parents = [expectStamped(a, body), expectStamped(b, body)];
    expect(new Set([...parents, body.spanId, '00f067aa0ba902b7']).size).toBe(4);
  });

  it("stamps undici's request() and fetch()", async () => {
    const a = tag('undici-request');
    const app = appCalling(express, async (url) => {
      const response = await undiciRequest(url);
      await response.body.text();
    });
    const fromEdge = (await request(app).get(`/${a}`).set('X-Request-ID', 'from-edge').expect(200)).body;
    expect(fromEdge.requestId).toBe('from-edge');
    expectStamped(a, fromEdge);
    const b = tag('undici-fetch');
    const fetchApp = appCalling(express, async (url) => (await undiciFetch(url)).text());
    expectStamped(b, (await request(fetchApp).get(`/${b}`).expect(200)).body);
  });

  it('stamps each call of a saturated undici Pool with the ID of the request that made it', async () => {
    const pool = new Pool(downstreamUrl, { connections: 1 });
    try {
      const app = express();
      app.use(traceId());
      app.get('/:tag', async (req, res) => {
        const response = await pool.request({ path: `/${req.params.tag}`, method: 'GET' });
        await response.body.text();
        res.json({ traceId: getTraceId(), spanId: getSpanId() });
      });
      const tags = Array.from({ length: 20 }, () => tag('pool'));
      const bodies = await Promise.all(tags.map((t) => request(app).get(`/${t}`).expect(200).then((res) => res.body as { traceId: string; spanId: string })));
      tags.forEach((t, i) => expectStamped(t, bodies[i]!));
    } finally {
      await pool.close();
    }
  });

  it('leaves headers the caller set alone, and never sends one twice', async () => {
    const t = tag('own');
    const app = appCalling(express, async (url) => (await fetch(url, { headers: { TraceParent: '00-11111111111111111111111111111111-2222222222222222-01', 'X-Request-ID': 'mine' } })).text());
    // A second middleware instance must not subscribe a second time.
    traceId();
    installPropagation();
    await request(app).get(`/${t}`).expect(200);
    expect(valuesOf(seen.get(`/${t}`)!, 'traceparent')).toEqual(['00-11111111111111111111111111111111-2222222222222222-01']);
    expect(valuesOf(seen.get(`/${t}`)!, 'x-request-id')).toEqual(['mine']);
    const u = tag('twice');
    const body = (await request(appCalling(express, viaFetch)).get(`/${u}`).expect(200)).body;
    expectStamped(u, body);
  });

  it('adds nothing to calls made outside a request', async () => {
    const t = tag('outside');
    await viaFetch(`${downstreamUrl}/${t}`);
    const response = await undiciRequest(`${downstreamUrl}/${t}-u`);
    await response.body.text();
    expect(valuesOf(seen.get(`/${t}`)!, 'traceparent')).toEqual([]);
    expect(valuesOf(seen.get(`/${t}-u`)!, 'x-request-id')).toEqual([]);
  });

  it('stamps nothing with propagate: false, while traceHeaders() still works', async () => {
    uninstallPropagation();
    const t = tag('off');
    let helper: Record<string, string> = {};
    const app = appCalling(express, async (url) => {
      helper = traceHeaders();
      await viaFetch(url);
    }, { propagate: false });
    expect(isPropagationInstalled()).toBe(false);
    const body = (await request(app).get(`/${t}`).expect(200)).body;
    expect(valuesOf(seen.get(`/${t}`)!, 'traceparent')).toEqual([]);
    expect(helper).toEqual({ traceparent: expect.stringMatching(new RegExp(`^00-${body.traceId}-[0-9a-f]{16}-01$`)), 'x-request-id': body.traceId });
    expect(helper.traceparent).not.toContain(body.spanId);

    // Another app in the process propagates; this one's requests still do not.
    installPropagation();
    const u = tag('off-still');
    await request(app).get(`/${u}`).expect(200);
    expect(valuesOf(seen.get(`/${u}`)!, 'traceparent')).toEqual([]);
  });

  it('stops stamping after uninstallPropagation()', async () => {
    const app = appCalling(express, viaFetch);
    uninstallPropagation();
    const t = tag('uninstalled');
    await request(app).get(`/${t}`).expect(200);
    expect(valuesOf(seen.get(`/${t}`)!, 'traceparent')).toEqual([]);
  });

  it('sends the ID in the configured header, or traceparent alone', async () => {
    const t = tag('custom-header');
    const body = (await request(appCalling(express, viaFetch, { propagateHeader: 'X-Correlation-ID' })).get(`/${t}`).expect(200)).body;
    expect(valuesOf(seen.get(`/${t}`)!, 'x-correlation-id')).toEqual([body.traceId]);
    expect(valuesOf(seen.get(`/${t}`)!, 'x-request-id')).toEqual([]);
    const u = tag('no-header');
    await request(appCalling(express, viaFetch, { propagateHeader: false })).get(`/${u}`).expect(200);
    expect(valuesOf(seen.get(`/${u}`)!, 'traceparent')).toHaveLength(1);
    expect(valuesOf(seen.get(`/${u}`)!, 'x-request-id')).toEqual([]);
  });

  it('sends trace headers only to the origins propagateTo allows', async () => {
    const allowed = new URL(downstreamUrl).origin;
    const t = tag('allowed');
    const body = (await request(appCalling(express, viaFetch, { propagateTo: (origin) => origin === allowed })).get(`/${t}`).expect(200)).body;
    expectStamped(t, body);
    const u = tag('denied');
    await request(appCalling(express, viaFetch, { propagateTo: (origin) => origin === 'https://api.example.com' })).get(`/${u}`).expect(200);
    expect(valuesOf(seen.get(`/${u}`)!, 'traceparent')).toEqual([]);
  });

  it('gives http.request the same headers through traceHeaders()', async () => {
    const t = tag('http');
    const app = appCalling(express, (url) => new Promise<void>((resolve, reject) => {
      http.get(url, { headers: traceHeaders() }, (response) => response.resume().on('end', resolve)).on('error', reject);
    }));
    const body = (await request(app).get(`/${t}`).set('X-Request-ID', 'abc-123').expect(200)).body;
    expect(body.requestId).toBe('abc-123');
    expectStamped(t, body);
  });

  it('keeps working when an undici Agent dispatches through interceptors', async () => {
    const agent = new Agent().compose((dispatch) => (options, handler) => dispatch(options, handler));
    try {
      const t = tag('composed');
      const app = appCalling(express, async (url) => (await undiciRequest(url, { dispatcher: agent })).body.text());
      expectStamped(t, (await request(app).get(`/${t}`).expect(200)).body);
    } finally {
      await agent.close();
    }
  });
});
