import { describeWithPrograms } from '@keel/test-support';
import { assertBuilt, drill, fixture, SHORT } from './helpers';

const SECRET = 'drill-chaos-secret-0123456789';

interface Results {
  failures: string[];
  single: Array<{ server: string; client: string; counts: Record<string, number>; faults: { sent: number; answered: number; injected: number }; exitCode: number | null; exitSignal: string | null; slowInFlightAtSignal: number; slowInFlightCompleted: number }>;
  rolling: Array<{ failed: number; counts: Record<string, number>; restarts: Array<{ exitCode: number | null }> }>;
  errors: unknown[];
}

beforeAll(assertBuilt);

describe('keel-drill', () => {
  it('reports 0 lost and exits 0 for an app that drains, with the report on stdout and progress on stderr', async () => {
    const run = await drill(['--start', `node ${fixture('keel-app.js')}`, '--ready', '/readyz', ...SHORT]);
    expect({ code: run.code, stderr: run.stderr.split('\n').filter((line) => !line.startsWith('[keel-drill]') && line !== '') }).toEqual({ code: 0, stderr: [] });
    expect(run.stderr).toMatch(/^\[keel-drill\] 1\/1 single instance app \(agent\): \d+ completed, \d+ refused, 0 lost, 0 error status; exit 0 after \d+ ms$/m);
    expect(run.stdout).toContain('## SIGTERM under keep-alive load, one instance');
    expect(run.stdout).toMatch(/\| app \| node:http Agent \| 1 \| \d+ \| \d+ \| 0 \| \d+ \| 0 \|/);
    expect(run.stdout).toContain('**the app lost no request.**');
  });

  it('reports the losses of an app that exits on SIGTERM, and exits 1', async () => {
    const run = await drill(['--start', `node ${fixture('naive-app.js')}`, '--name', 'naive', '--json', '--no-progress', ...SHORT]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    const results = JSON.parse(run.stdout) as Results;
    const [result] = results.single;
    expect(result).toMatchObject({ server: 'naive', client: 'agent', exitCode: null, exitSignal: 'SIGTERM' });
    expect(result!.counts.lost).toBeGreaterThan(0);
    expect(results.failures.some((failure) => /request\(s\) lost after sending/.test(failure))).toBe(true);
  });

  it('sends chaos triggers with --faults: every injected fault is answered, and the app still drains', async () => {
    const run = await drill(['--start', `node ${fixture('keel-app.js')}`, '--ready', '/readyz', '--faults', '--fault-share', '0.3', '--json', '--no-progress', ...SHORT], { KEEL_CHAOS_SECRET: SECRET, CHAOS_SECRET: SECRET });
    const results = JSON.parse(run.stdout) as Results;
    expect({ code: run.code, failures: results.failures }).toEqual({ code: 0, failures: [] });
    const [result] = results.single;
    expect(result!.faults.sent).toBeGreaterThan(5);
    expect(result!.faults).toMatchObject({ answered: result!.faults.sent, injected: result!.faults.sent });
    expect({ lost: result!.counts.lost, exitCode: result!.exitCode }).toEqual({ lost: 0, exitCode: 0 });
  });

  it('tells answered triggers from injected faults: an app whose chaos is off answers them all, injects none', async () => {
    // Without the secret the app's chaos stays off: every "faulted" request is a plain one, answered, but not injected.
    const run = await drill(['--start', `node ${fixture('keel-app.js')}`, '--ready', '/readyz', '--faults', 'latency', '--fault-share', '0.5', '--json', '--no-progress', ...SHORT]);
    const results = JSON.parse(run.stdout) as Results;
    expect(run.code).toBe(0);
    expect(results.single[0]!.faults.injected).toBe(0);
    expect(results.single[0]!.faults.answered).toBe(results.single[0]!.faults.sent);
  });

  it.each([
    [['--shutdowns', '1'], /option "--start" must be the command that starts your app/],
    [['--start', 'node a.js && node b.js'], /option "targets\[0\].command" must be one command/],
    [['--start', 'node app.js', '--clients', 'curl'], /option "--clients" must be a list of agent, undici, no-keep-alive/],
    [['--start', 'node app.js', '--shutdowns', 'many'], /option "--shutdowns" must be a number/],
    [['--start', 'node app.js', '--faults', 'reset'], /option "faults" must be an array of faults from latency/],
    [['--start', 'node app.js', '--url', 'work'], /option "targets\[0\].paths\[0\]" must be a path starting with '\/'/],
    [['--start', 'node app.js', '--bogus'], /option "command line" must be known flags/],
  ])('exits 2 with a clear error on %j', async (args, message) => {
    const run = await drill(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('fails the drill with exit 1 when the app exits before it is ready', async () => {
    const run = await drill(['--start', 'node -e "process.exit(3)"', '--json', '--no-progress', ...SHORT]);
    const results = JSON.parse(run.stdout) as Results;
    expect(run.code).toBe(1);
    expect(results.failures).toEqual([expect.stringMatching(/single instance, agent: the app exited \(3\) before it was ready/)]);
  });

  it('prints its help and version', async () => {
    const help = await drill(['--help']);
    expect({ code: help.code, usage: help.stdout.startsWith('Usage: keel-drill --start "node app.js" [options]') }).toEqual({ code: 0, usage: true });
    const version = await drill(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describeWithPrograms(['haproxy'], 'keel-drill --rolling', () => {
  it('runs a rolling restart behind haproxy with --rolling: nothing lost', async () => {
    const run = await drill(['--start', `node ${fixture('keel-app.js')}`, '--ready', '/readyz', '--rolling', '--json', '--no-progress', ...SHORT.map((arg) => (arg === '1' ? '0' : arg))], { PRE_STOP_MS: '1000' }, 60_000);
    const results = JSON.parse(run.stdout) as Results;
    expect({ code: run.code, failures: results.failures, errors: results.errors }).toEqual({ code: 0, failures: [], errors: [] });
    expect(results.single).toEqual([]);
    expect(results.rolling).toHaveLength(1);
    expect(results.rolling[0]!.counts.completed).toBeGreaterThan(0);
    expect(results.rolling[0]!.restarts.map((restart) => restart.exitCode)).toEqual([0, 0]);
  }, 60_000);
});
