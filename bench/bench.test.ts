import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeWithPrograms, runFixture } from '@keel/test-support';

// The harness, not the speed: a --quick run on two variants must produce a
// complete report. Never asserts a number that depends on the machine.
describe('npm run bench --quick', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-bench-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('measures each variant on both routes, checks memory, and writes the markdown and JSON reports', async () => {
    const out = path.join(dir, 'bench.md');
    const run = await runFixture(path.join(__dirname, 'run.js'), {
      args: ['--quick', '--variants', 'keel-trace-id', '--memory-requests', '2000', '--out', out, '--node', process.versions.node.split('.')[0]!],
      timeoutMs: 100_000,
    });
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });

    const results = JSON.parse(fs.readFileSync(path.join(dir, 'bench.json'), 'utf8'));
    expect(results.variants.map((v: { name: string; status: string }) => [v.name, v.status])).toEqual([
      ['express5', 'ok'],
      ['keel-trace-id', 'ok'],
      // Brought along: trace-id is judged against its hand-written floor.
      ['floor-trace-id', 'ok'],
    ]);
    for (const name of ['express5', 'keel-trace-id', 'floor-trace-id']) {
      for (const route of ['trivial', 'json2k']) {
        const [sample] = results.samples[name][route];
        expect(sample.requests).toBeGreaterThan(0);
        expect(sample.non2xx + sample.errors).toBe(0);
        expect(sample.cpuUsPerRequest).toBeGreaterThan(0);
        // Measured beside the round's own bare Express 5 server.
        expect(sample.baseRps).toBeGreaterThan(0);
        expect(results.summary[name][route].ratio).toBeGreaterThan(0);
      }
    }
    expect(results.memory.map((m: { variant: string; points: unknown[] }) => [m.variant, m.points.length])).toEqual([
      ['keel-stack', 5],
      ['express5', 5],
    ]);

    const markdown = fs.readFileSync(out, 'utf8');
    expect(run.stdout).toContain(markdown.trim());
    expect(markdown).toMatch(/^# keel bench: \d{4}-\d{2}-\d{2}/);
    expect(markdown).toContain('| @keel/trace-id alone |');
    expect(markdown).toContain('| bare Express 5 (A/A: the noise floor) |');
    expect(markdown).toContain('## ~2 KB JSON route');
    expect(markdown).toContain('## Memory: keel full stack');
    // Every table names the Node it was measured on: the one running the test, as --node asked.
    const headers = markdown.split('\n').filter((line, index, all) => line.startsWith('|') && /^\|[-:|]+\|$/.test(all[index + 1] ?? ''));
    expect(headers.length).toBeGreaterThanOrEqual(4);
    for (const header of headers) expect(header).toContain(`(Node ${process.versions.node})`);
  }, 110_000);

  it('lists a variant it cannot build as unavailable, with the reason, and exits non-zero on a bad flag', async () => {
    const bad = await runFixture(path.join(__dirname, 'run.js'), { args: ['--variants', 'no-such-variant'], timeoutMs: 20_000 });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown variant no-such-variant');
  });
});

// The harness, not the speed: never asserts a number that depends on the machine.
describe('npm run bench:cpu', () => {
  it('measures server CPU per request of a variant, bare Express 5 and the variant\'s floor, and judges the variant against its floor', async () => {
    const run = await runFixture(path.join(__dirname, 'cpu.js'), {
      args: ['--variants', 'keel-trace-id', '--slices', '2', '--requests', '1000', '--warmup', '1000', '--node', process.versions.node.split('.')[0]!],
      timeoutMs: 100_000,
    });
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^# keel bench, CPU per request: \d{4}-\d{2}-\d{2}/);
    expect(run.stdout).toContain(`| variant (Node ${process.versions.node}) |`);
    const rows = run.stdout.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| variant'));
    expect(rows.map((row) => row.split(' | ')[0])).toEqual(expect.arrayContaining(['| bare Express 5', '| bare Express 5, a second server (A/A)', '| @keel/trace-id alone', '| hand-written floor: trace ID in context and header']));
    expect(rows.find((row) => row.startsWith('| bare Express 5, a second server (A/A)'))).toMatch(/A\/A within 0\.97-1\.03x: (met|\*\*NOT met\*\*)/);
    const keel = rows.find((row) => row.startsWith('| @keel/trace-id alone'))!;
    expect(keel).toMatch(/\| \d+\.\d+x \(\d+\.\d+-\d+\.\d+\) \| \d+\.\d+x \(\d+\.\d+-\d+\.\d+\) \|/);
    expect(keel).toMatch(/>= 0\.97x of floor: (met|\*\*NOT met\*\*)/);
  }, 110_000);
});

// Counting, not speed: proves the valgrind harness yields a count per variant, the A/A row and the floor verdict.
describeWithPrograms(['valgrind'], 'npm run bench:instructions', () => {
  it('counts the instructions per request of a variant, bare Express 5 twice and the variant\'s floor, and judges the variant against its floor', async () => {
    const run = await runFixture(path.join(__dirname, 'instructions.js'), {
      args: ['--variants', 'keel-timeout', '--slices', '1', '--requests', '300', '--warmup', '300', '--node', process.versions.node.split('.')[0]!],
      timeoutMs: 170_000,
    });
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^# keel bench, instructions per request: \d{4}-\d{2}-\d{2}/);
    const rows = run.stdout.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| variant'));
    expect(rows.map((row) => row.split(' | ')[0])).toEqual(['| bare Express 5', '| bare Express 5, a second server (A/A)', '| @keel/timeout alone', '| hand-written floor: deadline in context']);
    for (const row of rows) expect(row).toMatch(/^\| [^|]+ \| \d{1,3}(,\d{3})+ \| \d+\.\d{3}x /);
    expect(rows[2]).toMatch(/>= 0\.97x of floor: (met|\*\*NOT met\*\*)/);
  }, 180_000);
});
