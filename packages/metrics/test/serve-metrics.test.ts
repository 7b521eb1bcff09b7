import http from 'node:http';
import { serveMetrics, metrics } from '@keel/metrics';
import { Registry } from 'prom-client';
import { get, testLifecycle } from './helpers';

describe('serveMetrics()', () => {
  it('serves the registry on its own port, 404 elsewhere, and listens on loopback by default', async () => {
    const registry = new Registry();
    const middleware = metrics({ registry, keelEvents: false });
    const served = serveMetrics({ port: 0, registry });
    try {
      const url = await served.ready;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const response = await get(url);
      expect(response.status).toBe(200);
      expect(response.body).toContain('# TYPE http_request_duration_seconds histogram');
      expect((await get(url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      middleware.dispose();
      await served.close();
    }
  });

  it('keeps answering through the drain and cleanup, and closes in the flush phase', async () => {
    const lifecycle = testLifecycle({ shutdownTimeout: 2000 });
    const registry = new Registry();
    const middleware = metrics({ registry, lifecycle });
    const served = serveMetrics({ port: 0, registry, lifecycle });
    const url = await served.ready;
    const during: Record<string, number> = {};
    lifecycle.onShutdown('scrape-in-drain', async () => {
      during.drain = (await get(url)).status;
    }, { phase: 'drain' });
    lifecycle.onShutdown('scrape-in-cleanup', async () => {
      const response = await get(url);
      during.cleanup = response.status;
      during.draining = response.body.includes('keel_lifecycle_state{state="stopping"} 1') ? 1 : 0;
    }, { phase: 'cleanup' });
    lifecycle.markReady();
    await lifecycle.shutdown('test');
    middleware.dispose();
    expect(during).toEqual({ drain: 200, cleanup: 200, draining: 1 });
    await expect(get(url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('waits for one more scrape at shutdown when finalScrapeTimeout is set', async () => {
    const lifecycle = testLifecycle({ shutdownTimeout: 3000 });
    const registry = new Registry();
    const served = serveMetrics({ port: 0, registry, lifecycle, finalScrapeTimeout: 2000 });
    const url = await served.ready;
    lifecycle.markReady();
    const stopped = lifecycle.shutdown('test');
    let flushing = false;
    lifecycle.on('stopping', () => (flushing = true));
    // The lifecycle reaches the flush phase and waits: a scrape then still gets an answer.
    while (!flushing) await new Promise((resolve) => setTimeout(resolve, 5));
    const response = await get(url);
    expect(response.status).toBe(200);
    const report = await stopped;
    expect(report.exitCode).toBe(0);
    await expect(get(url)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('rejects bad options at once', () => {
    expect(() => serveMetrics({ port: 70000 })).toThrow(/@keel\/metrics: option "port" must be an integer from 0 to 65535/);
    expect(() => serveMetrics({ path: 'metrics' })).toThrow(/option "path"/);
    expect(() => serveMetrics({ finalScrapeTimeout: 'soon' as never })).toThrow(/option "finalScrapeTimeout"/);
  });

  it('rejects ready when the port is taken', async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as import('node:net').AddressInfo;
    const served = serveMetrics({ port, registry: new Registry() });
    await expect(served.ready).rejects.toThrow(/EADDRINUSE/);
    blocker.close();
  });
});
