import http from 'node:http';
import path from 'node:path';
import { closeServer, listen, type RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, freePort, listeningPort, startRecipeApp, waitForPort } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
const BEFORE = path.join(__dirname, 'before.js');

interface Line {
  level?: string;
  message?: string;
  traceId?: string;
  requestId?: string;
  orderId?: string;
  report?: { exitCode: number; phases: Array<{ phase: string; hooks: Array<{ name: string; outcome: string }> }> };
}

/** The inventory service: item 404 is missing; each call waits `delayMs`; records the headers it got. */
async function inventory() {
  let delayMs = 0;
  const headers: http.IncomingHttpHeaders[] = [];
  const server = await listen((req, res) => {
    headers.push(req.headers);
    setTimeout(() => {
      if (req.url!.endsWith('/404')) {
        res.statusCode = 404;
        res.end('{}');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sku: req.url!.split('/').pop(), stock: 3 }));
    }, delayMs);
  });
  return { ...server, headers, setDelay: (ms: number) => (delayMs = ms) };
}

describe.each(EXPRESS_MAJORS)('recipe: add the full keel stack to an existing app (Express %i)', (major) => {
  let downstream: Awaited<ReturnType<typeof inventory>>;

  beforeAll(async () => {
    downstream = await inventory();
  });

  afterAll(async () => {
    await closeServer(downstream.server);
  });

  describe('before.js, the app without keel', () => {
    it('serves', async () => {
      const port = await freePort();
      const app = startRecipeApp(BEFORE, { express: major, env: { PORT: String(port), INVENTORY_URL: downstream.url } });
      try {
        await waitForPort(port);
        const response = await fetch(`http://127.0.0.1:${port}/orders/1`);
        expect(response.status).toBe(200);
      } finally {
        app.kill('SIGKILL');
        await app.exited;
      }
    });

    if (major === 4) {
      it('loses the whole process to one failed downstream call on Express 4', async () => {
        const port = await freePort();
        const app = startRecipeApp(BEFORE, { express: 4, env: { PORT: String(port), INVENTORY_URL: 'http://127.0.0.1:1' } });
        await waitForPort(port);
        await expect(fetch(`http://127.0.0.1:${port}/orders/1`)).rejects.toThrow();
        const result = await app.exited;
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/fetch failed/);
      });
    }
  });

  describe('app.js, with keel', () => {
    let app: RunningFixture;
    let base: string;
    let stdout = '';
    const lines = (): Line[] =>
      stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Line);

    beforeEach(async () => {
      stdout = '';
      downstream.setDelay(0);
      app = startRecipeApp(APP, { express: major, env: { PORT: '0', INVENTORY_URL: downstream.url } });
      app.child.stdout!.on('data', (chunk: string) => (stdout += chunk));
      base = `http://127.0.0.1:${await listeningPort(app)}`;
    });

    afterEach(async () => {
      app.kill('SIGKILL');
      await app.exited;
    });

    it('answers the probes, and a route with the trace ID echoed, logged and forwarded', async () => {
      for (const probe of ['/livez', '/readyz', '/startupz']) expect((await fetch(`${base}${probe}`)).status).toBe(200);
      const response = await fetch(`${base}/orders/7`, { headers: { 'x-request-id': 'full-1' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-request-id')).toBe('full-1');
      expect(await response.json()).toEqual({ orderId: '7', item: { sku: '7', stock: 3 } });
      expect(downstream.headers.at(-1)!['x-request-id']).toBe('full-1');
      await app.waitFor((line) => (line as Line).orderId === '7');
      expect(lines().find((line) => line.orderId === '7')).toMatchObject({ message: 'loading order', requestId: 'full-1', traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    });

    it('answers a thrown 404 as a problem with the trace ID, an unknown route with a 404, and keeps serving', async () => {
      const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const missing = await fetch(`${base}/orders/404`, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01`, 'x-request-id': 'full-2', accept: 'application/problem+json' } });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-request-id')).toBe('full-2');
      expect(await missing.json()).toMatchObject({ status: 404, detail: 'no such order', traceId: trace });
      expect((await fetch(`${base}/nowhere`)).status).toBe(404);
      expect(app.child.exitCode).toBeNull();
    });

    it('on SIGTERM fails readiness, finishes the request in flight, flushes the logger and exits 0', async () => {
      downstream.setDelay(300);
      const inFlight = fetch(`${base}/orders/8`, { headers: { 'x-request-id': 'full-3' } });
      await app.waitFor((line) => (line as Line).orderId === '8');
      app.kill('SIGTERM');
      await app.waitFor(/"message":"shutdown started"/);
      const readiness = await fetch(`${base}/readyz`).then((r) => r.status, () => 'refused');
      expect([503, 'refused']).toContain(readiness);
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(response.headers.get('connection')).toBe('close');
      const result = await app.exited;
      expect(result.code).toBe(0);
      const report = lines().find((line) => line.message === 'shutdown complete')!.report!;
      expect(report.exitCode).toBe(0);
      const hooks = report.phases.flatMap((phase) => phase.hooks.map((hook) => `${phase.phase}:${hook.name}:${hook.outcome}`));
      expect(hooks).toEqual(expect.arrayContaining(['flush:flush-logs:ok']));
      expect(hooks.some((hook) => hook.startsWith('drain:') && hook.endsWith(':ok'))).toBe(true);
    });
  });
});
