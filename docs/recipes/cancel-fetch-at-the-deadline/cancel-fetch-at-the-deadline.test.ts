import path from 'node:path';
import { listen, closeServer, type RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, listeningPort, startRecipeApp } from '../../test-support';

const APP = path.join(__dirname, 'app.js');

/** A stand-in for the inventory service: answers after `delayMs` and records requests cancelled before that. */
async function inventory() {
  let delayMs = 0;
  const cancelled: string[] = [];
  const served: string[] = [];
  const { server, url } = await listen((req, res) => {
    const timer = setTimeout(() => {
      served.push(req.url!);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url!.startsWith('/prices/') ? { price: 42 } : { sku: req.url!.split('/').pop(), stock: 7 }));
    }, delayMs);
    res.on('close', () => {
      if (!res.writableEnded) {
        clearTimeout(timer);
        cancelled.push(req.url!);
      }
    });
  });
  return {
    url,
    server,
    cancelled,
    served,
    setDelay(ms: number) {
      delayMs = ms;
    },
  };
}

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(EXPRESS_MAJORS)('recipe: cancel a downstream fetch at the deadline (app.js on Express %i)', (major) => {
  let downstream: Awaited<ReturnType<typeof inventory>>;
  let app: RunningFixture;
  let base: string;

  beforeAll(async () => {
    downstream = await inventory();
    app = startRecipeApp(APP, { express: major, env: { PORT: '0', INVENTORY_URL: downstream.url } });
    base = `http://127.0.0.1:${await listeningPort(app)}`;
  });

  afterAll(async () => {
    app.kill('SIGKILL');
    await app.exited;
    await closeServer(downstream.server);
  });

  it('answers from inventory when it is fast', async () => {
    downstream.setDelay(0);
    const response = await fetch(`${base}/stock/abc`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sku: 'abc', stock: 7 });
  });

  it('answers 503 with Retry-After at the request deadline, and cancels the call to inventory', async () => {
    downstream.setDelay(10_000);
    const startedAt = Date.now();
    const response = await fetch(`${base}/stock/slow`, { headers: { accept: 'application/json' } });
    const elapsed = Date.now() - startedAt;
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(5_000);
    // The downstream request was closed by the app, not left to run for 10 s.
    await waitUntil(() => downstream.cancelled.includes('/items/slow'));
    expect(downstream.served).not.toContain('/items/slow');
  });

  it('answers 504 when the tighter per-call budget passes first, and cancels that call', async () => {
    downstream.setDelay(10_000);
    const startedAt = Date.now();
    const response = await fetch(`${base}/price/slow`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(504);
    expect(Date.now() - startedAt).toBeLessThan(900);
    await waitUntil(() => downstream.cancelled.includes('/prices/slow'));
  });

  it('keeps serving after deadlines, with nothing thrown in the process', async () => {
    downstream.setDelay(0);
    const response = await fetch(`${base}/price/abc`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ price: 42 });
    expect(app.child.exitCode).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(app.child.exitCode).toBeNull();
  });
});
