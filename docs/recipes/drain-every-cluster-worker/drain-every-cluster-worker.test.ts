import http from 'node:http';
import path from 'node:path';
import type { RunningFixture } from '@keel/test-support';
import { EXPRESS_MAJORS, freePort, startRecipeApp, waitForPort } from '../../test-support';

const CLUSTER = path.join(__dirname, 'cluster.js');

interface Line {
  message?: string;
  pid?: number;
  code?: number | null;
  report?: { exitCode: number; phases: Array<{ phase: string; hooks: Array<{ name: string; outcome: string }> }> };
}

const isLine = (message: string) => (line: unknown): boolean => typeof line === 'object' && line !== null && (line as Line).message === message;

async function workersListening(app: RunningFixture, count: number): Promise<number[]> {
  const until = Date.now() + 15_000;
  for (;;) {
    const pids = linesOf(app).filter(isLine('worker listening')).map((line) => line.pid!);
    if (new Set(pids).size >= count) return [...new Set(pids)];
    if (Date.now() > until) throw new Error(`only ${pids.length} of ${count} workers listening`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const outputs = new WeakMap<RunningFixture, string>();
function linesOf(app: RunningFixture): Line[] {
  return (outputs.get(app) ?? '')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Line);
}

/**
 * A client on one kept-alive connection, already handed to a worker: a warm-up
 * request goes first. (A connection the primary has accepted but not yet passed
 * to a worker is closed by node:cluster when every worker stops listening.)
 */
async function connectedClient(base: string): Promise<{ get(urlPath: string): Promise<{ status: number; pid: number }>; close(): void }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (urlPath: string) =>
    new Promise<{ status: number; pid: number }>((resolve, reject) => {
      http
        .get(`${base}${urlPath}`, { agent }, (response) => {
          let body = '';
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, pid: (JSON.parse(body) as { pid: number }).pid }));
        })
        .on('error', reject);
    });
  await get('/work?ms=1');
  return { get, close: () => agent.destroy() };
}

function start(major: 4 | 5, port: number): RunningFixture {
  const app = startRecipeApp(CLUSTER, { express: major, env: { PORT: String(port), WORKERS: '2' }, timeoutMs: 40_000 });
  outputs.set(app, '');
  app.child.stdout!.on('data', (chunk: string) => outputs.set(app, outputs.get(app) + chunk));
  return app;
}

describe.each(EXPRESS_MAJORS)('recipe: drain every node:cluster worker (cluster.js and worker.js on Express %i)', (major) => {
  let app: RunningFixture;
  let base: string;

  beforeEach(async () => {
    const port = await freePort();
    app = start(major, port);
    await workersListening(app, 2);
    await waitForPort(port);
    base = `http://127.0.0.1:${port}`;
  });

  afterEach(async () => {
    // The whole tree: the primary, and any worker still alive.
    for (const line of linesOf(app).filter(isLine('worker listening'))) {
      try {
        process.kill(line.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    app.kill('SIGKILL');
    await app.exited;
  });

  it('on SIGTERM to the primary, every worker finishes its requests and exits 0, and the primary exits last with 0', async () => {
    const workers = await workersListening(app, 2);
    // Four connections, spread over both workers by the primary, each with a slow request.
    const clients = await Promise.all(Array.from({ length: 4 }, () => connectedClient(base)));
    const slow = clients.map((client) => client.get('/work?ms=500'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    app.kill('SIGTERM');

    const answered = await Promise.all(slow);
    clients.forEach((client) => client.close());
    expect(answered.map(({ status }) => status)).toEqual([200, 200, 200, 200]);
    expect(new Set(answered.map(({ pid }) => pid))).toEqual(new Set(workers));

    const result = await app.exited;
    expect(result.code).toBe(0);
    const lines = linesOf(app);
    const primaryDone = lines.findIndex((line) => isLine('shutdown complete')(line) && line.report!.phases.some((phase) => phase.hooks.some((hook) => hook.name === 'workers')));
    expect(primaryDone).toBeGreaterThan(-1);
    expect(lines[primaryDone]!.report!.exitCode).toBe(0);
    // Each worker reported a clean shutdown of its own, and exited 0, before the primary finished.
    const workerReports = lines.map((line, index) => ({ line, index })).filter(({ line }) => isLine('shutdown complete')(line) && line.report!.phases.some((phase) => phase.hooks.some((hook) => hook.name !== 'workers')));
    expect(workerReports).toHaveLength(2);
    for (const { line, index } of workerReports) {
      expect(line.report!.exitCode).toBe(0);
      expect(index).toBeLessThan(primaryDone);
    }
    const exits = lines.map((line, index) => ({ line, index })).filter(({ line }) => isLine('worker exited')(line));
    expect(exits.map(({ line }) => line.pid).sort()).toEqual([...workers].sort());
    for (const { line, index } of exits) {
      expect(line.code).toBe(0);
      expect(index).toBeLessThan(primaryDone);
    }
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  }, 30_000);

  it('shuts each process down once on Ctrl-C, which signals the primary and every worker', async () => {
    const workers = await workersListening(app, 2);
    const client = await connectedClient(base);
    const inFlight = client.get('/work?ms=400');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // What a terminal's Ctrl-C does: SIGINT to every process of the group at once.
    app.kill('SIGINT');
    for (const pid of workers) process.kill(pid, 'SIGINT');
    expect((await inFlight).status).toBe(200);
    client.close();
    const result = await app.exited;
    expect(result.code).toBe(0);
    expect(linesOf(app).filter(isLine('second signal during shutdown: exiting now'))).toEqual([]);
    expect(linesOf(app).filter(isLine('worker exited')).map((line) => line.code)).toEqual([0, 0]);
  }, 30_000);

  it('replaces a worker that dies outside a shutdown', async () => {
    const [first] = await workersListening(app, 2);
    process.kill(first!, 'SIGKILL');
    await app.waitFor((line) => isLine('worker exited')(line) && (line as Line).pid === first);
    const now = await workersListening(app, 3);
    expect(now).toContain(first);
    expect((await fetch(`${base}/work?ms=1`)).status).toBe(200);
  });
});
