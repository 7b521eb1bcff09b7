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
      const response = await fetch(`${base}${route}`, { headers: { 'x-request-id': 'demo-check-1' } });
      expect(response.status).toBe(500);
      expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
      const text = await response.text();
      expect(text).not.toMatch(/hunter2|internals|\.js:\d+/);
      expect(JSON.parse(text)).toMatchObject({ status: 500, traceId: 'demo-check-1' });
    }
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
