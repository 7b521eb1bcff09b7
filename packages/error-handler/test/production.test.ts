import path from 'node:path';
import { describeEachExpress, runFixture } from '@keel/test-support';
import { LEAK_PATTERNS } from './helpers';

const FIXTURE = path.join(__dirname, 'fixtures', 'production-app.js');

interface FixtureOutput {
  result: { debugRefused: string | null; bodies: Array<{ path: string; accept: string; status: number; body: string }> };
}

describeEachExpress('errorHandler() under NODE_ENV=production with every default (child process)', ({ major }) => {
  let lines: readonly unknown[];
  let output: FixtureOutput['result'];
  beforeAll(async () => {
    const run = await runFixture(FIXTURE, { args: [String(major)], env: { NODE_ENV: 'production' } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    lines = run.lines;
    output = (lines.find((line) => typeof line === 'object' && line !== null && 'result' in line) as FixtureOutput).result;
  });

  it('refuses debug: true', () => {
    expect(output.debugRefused).toBe('ERR_KEEL_INVALID_OPTION');
  });

  it('sends no stack frame, file path or 5xx message in any body', () => {
    expect(output.bodies).toHaveLength(16);
    for (const { path: route, status, body } of output.bodies) {
      expect(status).toBe(route === '/missing' ? 404 : route === '/bad-gateway' ? 502 : 500);
      expect(body).not.toContain('SECRET');
      expect(body).not.toContain('hunter2');
      for (const pattern of LEAK_PATTERNS) expect(body).not.toMatch(pattern);
    }
  });

  it('logs one JSON line per error to stdout through winston, with the stack', () => {
    const logLines = lines.filter((line): line is Record<string, any> => typeof line === 'object' && line !== null && 'status' in line);
    expect(logLines).toHaveLength(16);
    const bug = logLines.find((line) => line.path === '/bug')!;
    expect(bug).toMatchObject({ level: 'error', message: 'GET /bug 500', status: 500, error: { message: expect.stringContaining('SECRET password=hunter2') } });
    expect(bug.error.stack).toContain('production-app.js');
    expect(typeof bug.timestamp).toBe('string');
    const missing = logLines.find((line) => line.path === '/missing')!;
    expect(missing).toMatchObject({ level: 'warn', status: 404, code: 'ERR_KEEL_ROUTE_NOT_FOUND' });
  });
});
