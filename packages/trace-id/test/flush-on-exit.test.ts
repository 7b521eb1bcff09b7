import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEachExpress, runFixture, startFixture } from '@keel/test-support';

// Child processes, real sockets and thousands of log lines: slow on a busy machine.
jest.setTimeout(30_000);

// The fixtures load the built package (dist/): run `npm run build` first.
const fixture = (name: string): string => join(__dirname, 'fixtures', name);
const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-trace-id-exit-'));
  dirs.push(dir);
  return join(dir, 'app.log');
}
function fileLines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const N = 3000;

describe('endLogger() before process.exit()', () => {
  it('keeps every line a process logged right before exiting', async () => {
    const file = tempFile();
    const result = await runFixture(fixture('log-then-exit.js'), { args: ['helper', file, String(N)] });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = fileLines(file);
    expect(lines.length).toBe(N);
    expect(lines[N - 1]).toMatchObject({ message: 'line', i: N - 1 });
  });

  it('(control) loses lines when the process exits without it', async () => {
    const file = tempFile();
    const result = await runFixture(fixture('log-then-exit.js'), { args: ['bare', file, String(N)] });
    expect(result.code).toBe(0);
    expect(fileLines(file).length).toBeLessThan(N);
  });
});

describeEachExpress('flushOnShutdown() on a real SIGTERM', ({ major }) => {
  it('writes every line of the last request, with its trace ID, before the lifecycle exits', async () => {
    const file = tempFile();
    const app = startFixture(fixture('shutdown-flush.js'), { args: [file, String(N)], env: { EXPRESS_MODULE: major === 4 ? 'express4' : 'express' } });
    const { listening } = (await app.waitFor((line) => typeof line === 'object' && line !== null && 'listening' in line)) as { listening: number };
    const response = await fetch(`http://127.0.0.1:${listening}/log-and-stop`, { headers: { 'x-request-id': 'last-request', connection: 'close' } });
    expect(response.status).toBe(200);
    const result = await app.exited;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const work = fileLines(file).filter((line) => line.message === 'work');
    expect(work.length).toBe(N);
    expect(new Set(work.map((line) => line.requestId))).toEqual(new Set(['last-request']));
    const traceIds = new Set(work.map((line) => line.traceId));
    expect(traceIds.size).toBe(1);
    expect([...traceIds][0]).toMatch(/^[0-9a-f]{32}$/);
    expect(fileLines(file).some((line) => line.message === 'shutdown started')).toBe(true);
  });
});
