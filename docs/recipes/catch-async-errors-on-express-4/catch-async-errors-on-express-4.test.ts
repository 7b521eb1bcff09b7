import path from 'node:path';
import type { RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, freePort, startRecipeApp, waitForPort } from '../../test-support';

const APP = path.join(__dirname, 'app.js');

describe.each(EXPRESS_MAJORS)('recipe: async handlers on Express 4 (app.js on Express %i)', (major) => {
  let app: RunningFixture;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    app = startRecipeApp(APP, { express: major, env: { PORT: String(port) } });
    await waitForPort(port);
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    app.kill('SIGKILL');
    await app.exited;
  });

  const get = (urlPath: string) => fetch(`${base}${urlPath}`, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5_000) });

  it('serves an async route of a router mounted before guardApp()', async () => {
    const response = await get('/orders/1');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: '1', total: 30 });
  });

  it('sends a rejection from an async param handler to the error handler (404)', async () => {
    const response = await get('/orders/2');
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { status: 404, message: 'no order 2' } });
  });

  it('answers a rejected async route with a 500 instead of hanging or crashing', async () => {
    const response = await get('/boom');
    expect(response.status).toBe(500);
    await app.waitFor(/rejected in an async handler/);
  });

  it('turns a rejection with undefined into an error, not a fall-through', async () => {
    const response = await get('/nothing');
    expect(response.status).toBe(500);
  });

  it('still answers 404 for unknown routes, and the process is unharmed', async () => {
    expect((await get('/missing')).status).toBe(404);
    expect(app.child.exitCode).toBeNull();
    expect((await get('/orders/1')).status).toBe(200);
  });

  it('answers a throw in a timer with a 500, then drains and exits 1', async () => {
    const response = await get('/timer');
    expect(response.status).toBe(500);
    const result = await app.exited;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/a bug in a timer/);
    expect(result.stdout).toMatch(/"message":"shutdown complete"/);
    expect(result.stderr).not.toMatch(/UnhandledPromiseRejection|ERR_HTTP_HEADERS_SENT/);
  });
});
