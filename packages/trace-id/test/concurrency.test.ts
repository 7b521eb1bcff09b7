import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, Pool, request as undiciRequest } from 'undici';
import { getRequestId, getSpanId, getTraceId, parseTraceparent, traceHeaders, traceId, uninstallPropagation } from '@keel/trace-id';
import { closeServer, describeEachExpress } from '@keel/test-support';
import { memoryLogger, SPAN_ID, TRACE_ID } from './helpers';

const REQUESTS = 1000;
const CLIENTS = ['fetch', 'undici', 'pool', 'http'] as const;

/** What the downstream server received on one call. */
interface Received {
  readonly traceparent: string | string[] | undefined;
  readonly requestId: string | string[] | undefined;
}

afterAll(() => uninstallPropagation());

/** Like `listen()` from test-support, with a backlog that takes 1,000 connects at once (no SYN retries of a second). */
async function listenWide(handler: http.RequestListener): Promise<{ server: Server; url: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, resolve);
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describeEachExpress(`traceId() under ${REQUESTS} concurrent requests`, ({ express }) => {
  let downstream: Server;
  let downstreamUrl: string;
  const received = new Map<string, Received>();
  let pool: Pool;
  let undiciAgent: Agent;
  let httpAgent: http.Agent;

  beforeAll(async () => {
    ({ server: downstream, url: downstreamUrl } = await listenWide((req, res) => {
      received.set(req.url!, { traceparent: req.headers.traceparent, requestId: req.headers['x-request-id'] });
      setImmediate(() => res.end('ok'));
    }));
    // Few connections for many requests: calls queue in the pool and are sent from other requests' callbacks.
    pool = new Pool(downstreamUrl, { connections: 8 });
    // Bounded like production clients; Node's global fetch opens as many connections as it needs.
    undiciAgent = new Agent({ connections: 50 });
    httpAgent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  });
  afterAll(async () => {
    await pool.close();
    await undiciAgent.close();
    httpAgent.destroy();
    await closeServer(downstream);
  });

  it('logs and propagates each request’s own ID, through fetch, undici, a saturated pool and http.request', async () => {
    received.clear();
    const { logger, lines } = memoryLogger();
    const app = express();
    app.use(traceId());
    app.get('/work/:n', (req, res, next) => {
      work(req.params.n!).then((body) => res.json(body), next);
    });
    const work = async (n: string): Promise<{ traceId?: string; spanId?: string; requestId?: string }> => {
      logger.info('start', { n });
      await new Promise((resolve) => setImmediate(resolve));
      await (await fetch(`${downstreamUrl}/fetch/${n}`)).text();
      logger.info('fetched', { n });
      await (await undiciRequest(`${downstreamUrl}/undici/${n}`, { dispatcher: undiciAgent })).body.text();
      await (await pool.request({ path: `/pool/${n}`, method: 'GET' })).body.text();
      await new Promise<void>((resolve, reject) => {
        http.get(`${downstreamUrl}/http/${n}`, { agent: httpAgent, headers: traceHeaders() }, (response) => response.resume().on('end', resolve)).on('error', reject);
      });
      logger.info('done', { n });
      return { traceId: getTraceId(), spanId: getSpanId(), requestId: getRequestId() };
    };
    const { server, url } = await listenWide(app);
    const client = new Agent({ connections: REQUESTS });
    try {
      // A third of the requests bring an ID, a third a traceparent, a third nothing.
      const incoming = (n: number): Record<string, string> =>
        n % 3 === 0 ? { 'x-request-id': `client-${n}` } : n % 3 === 1 ? { traceparent: `00-${(n + 1).toString(16).padStart(32, 'a')}-${(n + 1).toString(16).padStart(16, 'b')}-01` } : {};
      const answers = await Promise.all(
        Array.from({ length: REQUESTS }, async (_, n) => {
          const response = await undiciRequest(`${url}/work/${n}`, { dispatcher: client, headers: incoming(n) });
          if (response.statusCode !== 200) throw new Error(`request ${n}: status ${response.statusCode}: ${await response.body.text()}`);
          const body = (await response.body.json()) as { traceId: string; spanId: string; requestId?: string };
          return { n, header: response.headers['x-request-id'], ...body };
        }),
      );

      const traceIds = new Set<string>();
      for (const { n, header, traceId: id, spanId, requestId } of answers) {
        traceIds.add(id);
        expect(header).toBe(requestId ?? id);
        expect(requestId).toBe(n % 3 === 0 ? `client-${n}` : undefined);
        if (n % 3 === 1) expect(id).toBe((n + 1).toString(16).padStart(32, 'a'));
        else expect(id).toMatch(TRACE_ID);
        const parentSpan = n % 3 === 1 ? (n + 1).toString(16).padStart(16, 'b') : undefined;
        // Each call is a client span of its own: a parent-id neither this service's span nor the caller's, none shared.
        const parents = new Set<string>();
        for (const via of CLIENTS) {
          const call = received.get(`/${via}/${n}`);
          const parsed = parseTraceparent(call?.traceparent);
          if (call?.requestId !== (requestId ?? id) || parsed?.traceId !== id || !SPAN_ID.test(parsed.parentId) || parsed.parentId === spanId || parsed.parentId === parentSpan || parents.has(parsed.parentId)) {
            throw new Error(`request ${n} via ${via}: expected ${id} and a parent of its own under ${spanId}, downstream got ${JSON.stringify(call)}`);
          }
          parents.add(parsed.parentId);
        }
        const logged = lines.filter((line) => line.n === String(n));
        expect(logged.map((line) => line.message)).toEqual(['start', 'fetched', 'done']);
        for (const line of logged) {
          if (line.traceId !== id || line.spanId !== spanId || line.requestId !== requestId) throw new Error(`request ${n}: logged ${JSON.stringify(line)}, expected ${id}/${spanId}`);
        }
      }
      expect(traceIds.size).toBe(REQUESTS);
      expect(received.size).toBe(REQUESTS * CLIENTS.length);
      expect(lines).toHaveLength(REQUESTS * 3);
    } finally {
      await client.close();
      await closeServer(server);
    }
  }, 120_000);
});
