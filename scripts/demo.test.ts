import path from 'node:path';
import { startFixture, type RunningFixture } from '@keel/test-support';

// `npm start` runs this very file: it must serve, hide internals, and drain on Ctrl-C.
const demo = path.resolve(__dirname, '..', 'demo', 'server.js');

function isListening(line: unknown): boolean {
  return typeof line === 'object' && line !== null && (line as { message?: string }).message === 'keel demo listening';
}

describe('the demo (npm start)', () => {
  let fixture: RunningFixture;
  let base: string;

  beforeAll(async () => {
    fixture = startFixture(demo, { env: { PORT: '0', NODE_ENV: 'production' }, timeoutMs: 30_000 });
    const line = (await fixture.waitFor(isListening, 20_000)) as { url: string };
    base = line.url;
  });

  afterAll(async () => {
    fixture.kill('SIGKILL');
    await fixture.exited;
  });

  it('lists its routes at /', async () => {
    const response = await fetch(`${base}/`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { routes: Record<string, string> };
    expect(Object.keys(body.routes)).toEqual(expect.arrayContaining(['GET /fast', 'GET /slow?ms=1500', 'GET /throw', 'GET /reject', 'GET /deadline']));
  });

  it('answers a throw and a rejection with a 500 that hides the message and carries the trace ID', async () => {
    for (const route of ['/throw', '/reject']) {
      const response = await fetch(`${base}${route}`, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
      const text = await response.text();
      expect(text).not.toMatch(/hunter2|internals|\.js:\d+/);
      expect(JSON.parse(text)).toMatchObject({ status: 500, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    }
  });

  it('serves metrics on their own port and prints where to scrape them', async () => {
    const line = (await fixture.waitFor((entry) => typeof entry === 'object' && entry !== null && (entry as { message?: string }).message === 'keel demo metrics')) as { url: string };
    expect(line.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(line.url).port).not.toBe(new URL(base).port);
    await fixture.waitFor(/^scrape metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fetch(`${base}/fast`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    const text = await (await fetch(line.url)).text();
    expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/fast",status_code="200"\} [1-9]/m);
    expect(text).toMatch(/^keel_lifecycle_state\{state="ready"\} 1$/m);
  });

  it('fails readiness, finishes the in-flight request and exits 0 on SIGINT', async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const slow = fetch(`${base}/slow?ms=400`).then(async (response) => ({ status: response.status, body: await response.json() }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    fixture.kill('SIGINT');
    await fixture.waitFor(/shutdown started/);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    await expect(slow).resolves.toEqual({ status: 200, body: { ok: true, waitedMs: 400 } });
    const result = await fixture.exited;
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/shutdown complete/);
  });
});
