import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeWithPrograms, runFixture } from '@keel/test-support';

interface SingleResult {
  server: string;
  client: string;
  counts: { total: number; completed: number; errorStatus: number; refused: number; lost: number };
  exitCode: number | null;
  slowInFlightAtSignal: number;
  slowInFlightCompleted: number;
}

interface RollingResult {
  server: string;
  client: string;
  failed: number;
  counts: { total: number; completed: number };
  restarts: Array<{ exitCode: number | null }>;
}

// The drill's CI form: SIGTERMs under keep-alive load on one instance, and a
// rolling restart behind haproxy (which CI installs). keel must lose nothing.
describeWithPrograms(['haproxy'], 'npm run drill --ci', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-drill-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses no request with keel, single instance and behind haproxy, and reports every server', async () => {
    const out = path.join(dir, 'drill.md');
    const run = await runFixture(path.join(__dirname, 'run.js'), { args: ['--ci', '--out', out, '--node', process.versions.node.split('.')[0]!], timeoutMs: 110_000 });
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'drill.json'), 'utf8'));
    expect({ code: run.code, keelFailures: results.keelFailures, errors: results.errors }).toEqual({ code: 0, keelFailures: [], errors: [] });

    const single: SingleResult[] = results.single;
    for (const server of ['keel', 'naive', 'http-terminator']) {
      for (const client of ['agent', 'undici']) {
        expect(single.filter((r) => r.server === server && r.client === client)).toHaveLength(server === 'keel' ? 2 : 1);
      }
    }
    for (const result of single.filter((r) => r.server === 'keel')) {
      expect(result.counts.completed).toBeGreaterThan(0);
      expect({ lost: result.counts.lost, errorStatus: result.counts.errorStatus, exitCode: result.exitCode }).toEqual({ lost: 0, errorStatus: 0, exitCode: 0 });
      // Requests running when the signal came were finished, not cut.
      expect(result.slowInFlightCompleted).toBe(result.slowInFlightAtSignal);
    }

    const rolling: RollingResult[] = results.rolling;
    expect(rolling.map((r) => r.server)).toEqual(['keel']);
    const keel = rolling[0]!;
    expect(keel.counts.completed).toBeGreaterThan(0);
    expect(keel.failed).toBe(0);
    expect(keel.restarts.map((r) => r.exitCode)).toEqual([0, 0]);

    const markdown = fs.readFileSync(out, 'utf8');
    expect(markdown).toContain('## SIGTERM under keep-alive load, one instance');
    expect(markdown).toContain('## Rolling restart behind haproxy');
    expect(markdown).toContain('**keel lost no request.**');
    // Every table names the Node it ran on: the one running the test, as --node asked.
    const headers = markdown.split('\n').filter((line, index, all) => line.startsWith('|') && /^\|[-:|]+\|$/.test(all[index + 1] ?? ''));
    expect(headers.length).toBeGreaterThanOrEqual(2);
    for (const header of headers) expect(header).toContain(`(Node ${process.versions.node})`);
  }, 115_000);
});
