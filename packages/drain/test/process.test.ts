// Process behaviour through real signals, in child processes running the built package.
import http from 'node:http';
import path from 'node:path';
import { describeEachExpress, startFixture } from '@keel/test-support';
import { assertBuilt } from './helpers';

const fixture = path.join(__dirname, 'fixtures', 'load-server.js');

beforeAll(assertBuilt);

function hang(port: number): Promise<string> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/hang', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(`status ${res.statusCode}`));
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describeEachExpress('drainOnShutdown() in a process', ({ major }) => {
  it('exits 1 within the budget with a hung handler, after the request\'s abort signal fired', async () => {
    const budgetMs = 2000;
    const server = startFixture(fixture, {
      env: { EXPRESS_MODULE: major === 4 ? 'express4' : 'express', BUDGET_MS: String(budgetMs), PRE_STOP_MS: '100' },
      timeoutMs: 15_000,
    });
    const { port } = (await server.waitFor((line) => (line as { event?: string }).event === 'listening')) as { port: number };
    const answer = hang(port);
    await server.waitFor((line) => (line as { event?: string }).event === 'hanging');
    const signalledAt = Date.now();
    server.kill('SIGTERM');
    const result = await server.exited;
    const exitMs = Date.now() - signalledAt;

    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 1, stderr: '' });
    const lines = result.lines as Array<Record<string, unknown>>;
    const timeOf = (event: string) => lines.find((line) => line.event === event)?.time as number;
    // Timed by the process itself, from its signal handler to its exit; the wall clock
    // here also counts the machine delivering the signal and reporting the exit.
    expect(timeOf('exit') - timeOf('signal')).toBeLessThanOrEqual(budgetMs + 100);
    expect(exitMs).toBeLessThan(budgetMs + 3000);
    expect(await answer).toMatch(/ECONNRESET|socket hang up/);
    const aborted = lines.findIndex((line) => line.event === 'aborted');
    const complete = lines.findIndex((line) => line.message === 'drain: complete');
    expect(lines[aborted]).toMatchObject({ code: 'ERR_KEEL_SHUTTING_DOWN', status: 503 });
    expect(aborted).toBeGreaterThan(-1);
    expect(aborted).toBeLessThan(complete);
    expect(lines[complete]).toMatchObject({ clean: false, abortedRequests: 1, cutRequests: 1 });
  });
});
