import http from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { createNamespace, destroyNamespace } from 'cls-hooked';
import { createLifecycle, getContext, useClsHooked, type Lifecycle } from '@keel/lifecycle';
import { timeout, getSignal } from '@keel/timeout';
import { traceId } from '@keel/trace-id';
import { closeServer, describeEachExpress, listen } from '@keel/test-support';
import { captureLogger } from './helpers';

// Real sockets on a shared, loaded machine: generous limits, never tight ones.
jest.setTimeout(60_000);

const REQUESTS = 40;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** GETs `path` with its own `traceparent`-free request ID header; resolves with the status, never rejects. */
function get(url: string, path: string, id: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`${url}${path}`, { agent: false, headers: { 'x-request-id': id } }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(-1));
  });
}

let bridgedNamespace: ReturnType<typeof createNamespace> | undefined;

/** What each request saw of itself in the callbacks keel runs for it. */
type Sightings = Map<string, Record<string, string | undefined>>;

function record(seen: Sightings, id: string, where: string): void {
  const entry = seen.get(id) ?? {};
  // The request ID the client sent, which trace-id keeps beside the trace ID.
  entry[where] = getContext()?.requestId;
  const bridged = bridgedNamespace?.active ? ((bridgedNamespace as unknown as { get(key: string): unknown }).get('keel') as { requestId?: string } | undefined) : undefined;
  if (bridgedNamespace !== undefined) entry[`${where} (namespace)`] = bridged?.requestId;
  seen.set(id, entry);
}

// With the cls-hooked bridge installed, the namespace must name the same request as the store.
const backends = [
  ['AsyncLocalStorage', false],
  ['the cls-hooked bridge', true],
] as const;

describe.each(backends)('with %s', (_name, bridged) => {
  let uninstall: (() => void) | undefined;
  let namespace: ReturnType<typeof createNamespace> | undefined;
  beforeAll(() => {
    if (!bridged) return;
    namespace = createNamespace('keel-isolation-test');
    bridgedNamespace = namespace;
    uninstall = useClsHooked(namespace);
  });
  afterAll(() => {
    uninstall?.();
    bridgedNamespace = undefined;
    if (bridged) destroyNamespace('keel-isolation-test');
  });

describeEachExpress('timeout() callbacks run in their own request', ({ express }) => {
  let lifecycles: Lifecycle[] = [];
  afterEach(() => {
    for (const lifecycle of lifecycles) lifecycle.dispose();
    lifecycles = [];
  });

  function app(seen: Sightings, duration: number, lifecycle?: Lifecycle) {
    const app = express();
    // Trusted here: the test client is on loopback and names each request.
    app.use(traceId({ trust: true, headers: ['x-request-id'] }));
    app.use(timeout({ duration, logger: captureLogger(), ...(lifecycle === undefined ? {} : { lifecycle }) }));
    app.get('/hang/:id', (req, _res) => {
      const id = req.params.id!;
      record(seen, id, 'handler');
      getSignal()!.addEventListener('abort', () => record(seen, id, 'abort'));
      // Never answers: the deadline (or the shutdown) does.
    });
    app.use((error: { status?: number }, req: Request, res: Response, _next: NextFunction) => {
      record(seen, String(req.params.id ?? req.path.split('/').pop()), 'error middleware');
      res.status(error.status ?? 500).json({ requestId: getContext()?.requestId });
    });
    return app;
  }

  it(`runs the deadline's abort listener and error middleware of each of ${REQUESTS} staggered requests as that request`, async () => {
    const seen: Sightings = new Map();
    const { server, url } = await listen(app(seen, 150));
    try {
      const statuses: Array<Promise<number>> = [];
      for (let i = 0; i < REQUESTS; i++) {
        statuses.push(get(url, `/hang/request-${i}`, `request-${i}`));
        await sleep(7);
      }
      expect(await Promise.all(statuses)).toEqual(Array(REQUESTS).fill(503));
      const wrong = [...seen].filter(([id, where]) => Object.values(where).some((traceId) => traceId !== id));
      expect(wrong).toEqual([]);
      expect([...seen.values()].every((where) => Object.keys(where).length === (bridged ? 6 : 3))).toBe(true);
    } finally {
      await closeServer(server);
    }
  });

  it('aborts each request at shutdown as that request, even when the shutdown began inside another', async () => {
    const seen: Sightings = new Map();
    const lifecycle = createLifecycle({ signals: [], exit: false, shutdownTimeout: 2000, preStopDelay: 0, logger: captureLogger() });
    lifecycles.push(lifecycle);
    const application = app(seen, 10_000, lifecycle);
    const { server, url } = await listen(application);
    try {
      const statuses = ['a', 'b', 'c'].map((id) => get(url, `/hang/${id}`, id));
      while (seen.size < 3) await sleep(5);
      // Started from inside request 'a': its context must not leak into the others' aborts.
      const a = [...seen.keys()][0]!;
      await new Promise<void>((resolve) => {
        http.get(`${url}/hang/${a}-starter`, { agent: false, headers: { 'x-request-id': `${a}-starter` } }).on('error', () => undefined);
        const wait = setInterval(() => {
          if (!seen.has(`${a}-starter`)) return;
          clearInterval(wait);
          resolve();
        }, 5);
      });
      const starter = [...seen.keys()].find((id) => id.endsWith('-starter'))!;
      expect(starter).toBeDefined();
      // shutdown() called in the starter request's async context.
      const contextOfStarter = seen.get(starter)!.handler;
      expect(contextOfStarter).toBe(starter);
      void lifecycle.shutdown('test');
      expect(await Promise.all(statuses)).toEqual([503, 503, 503]);
      const wrong = [...seen].filter(([id, where]) => Object.values(where).some((traceId) => traceId !== id));
      expect(wrong).toEqual([]);
    } finally {
      await closeServer(server);
    }
  });
});
});
