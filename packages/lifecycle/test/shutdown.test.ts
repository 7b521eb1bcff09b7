import http from 'node:http';
import { startFixture, runFixture, type RunningFixture } from '@keel/test-support';
import { assertBuilt, fixture } from './built';

// Real processes and sockets on a shared, loaded machine: generous limits, never tight ones.
jest.setTimeout(30_000);

interface Line {
  event?: string;
  message?: string;
  name?: string;
  state?: string;
  at?: number;
  [key: string]: unknown;
}

const asLines = (lines: readonly unknown[]): Line[] => lines.filter((line): line is Line => typeof line === 'object' && line !== null);
const hookNames = (lines: readonly unknown[]): string[] => asLines(lines).filter((line) => line.event === 'hook').map((line) => line.name!);
const reportOf = (lines: readonly unknown[]): any => asLines(lines).find((line) => line.message === 'shutdown complete')?.report;

async function started(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningFixture> {
  const running = startFixture(fixture(file), { args, env });
  await running.waitFor((line) => (line as Line)?.event === 'ready' || (line as Line)?.event === 'listening');
  return running;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
      .on('error', reject);
  });
}

beforeAll(assertBuilt);

describe('lifecycle shutdown on a real signal', () => {
  it('runs the phases in order, hooks last registered first, and exits 0 when clean', async () => {
    const running = await started('phases.js', ['clean']);
    running.kill('SIGTERM');
    const { code, signal, lines } = await running.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(hookNames(lines)).toEqual(['drain-2', 'drain-1', 'cleanup-2', 'cleanup-1', 'flush-2', 'flush-1']);
    const states = asLines(lines).filter((line) => line.event === 'state').map((line) => line.state);
    expect(states).toEqual(['ready', 'draining', 'stopping', 'stopped']);
    // The state changes bracket the phases: draining before any hook, stopping between drain and cleanup.
    const order = asLines(lines)
      .filter((line) => line.event === 'state' || line.event === 'hook')
      .map((line) => line.state ?? line.name);
    expect(order).toEqual(['ready', 'draining', 'drain-2', 'drain-1', 'stopping', 'cleanup-2', 'cleanup-1', 'flush-2', 'flush-1', 'stopped']);
    const report = reportOf(lines);
    expect(report).toMatchObject({ reason: 'SIGTERM', exitCode: 0, unreleasedBeacons: [] });
    expect(report.phases.map((phase: { phase: string }) => phase.phase)).toEqual(['drain', 'cleanup', 'flush']);
    expect(report.phases.flatMap((phase: { hooks: Array<{ outcome: string }> }) => phase.hooks.map((hook) => hook.outcome))).toEqual(Array(6).fill('ok'));
  });

  it('logs a hook that throws or rejects with its name, runs the next one, and exits 1', async () => {
    const running = await started('phases.js', ['failing']);
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(1);
    expect(hookNames(lines)).toEqual(['drain-2', 'drain-1', 'cleanup-2', 'cleanup-1', 'flush-2', 'flush-1']);
    const failures = asLines(lines).filter((line) => line.message === 'shutdown hook failed');
    expect(failures.map((line) => [line.hook, (line.error as { message: string }).message])).toEqual([
      ['drain-1', 'drain-1 failed'],
      ['cleanup-2', 'cleanup-2 threw synchronously'],
    ]);
    const outcomes = reportOf(lines).phases.flatMap((phase: { hooks: Array<{ name: string; outcome: string }> }) => phase.hooks.map((hook) => `${hook.name}:${hook.outcome}`));
    expect(outcomes).toEqual(['drain-2:ok', 'drain-1:failed', 'cleanup-2:failed', 'cleanup-1:ok', 'flush-2:ok', 'flush-1:ok']);
  });

  it('cuts a hung hook at its own timeout, aborts its signal, and runs the next hook', async () => {
    // A long default hook timeout, so only the hook's own 200 ms can explain an early cut.
    const running = await started('phases.js', ['hung'], { HOOK_TIMEOUT_MS: '5000' });
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(1);
    const events = asLines(lines).filter((line) => line.event?.startsWith('hook'));
    const hungAt = events.find((line) => line.event === 'hook' && line.name === 'cleanup-2')!.at!;
    const nextAt = events.find((line) => line.event === 'hook' && line.name === 'cleanup-1')!.at!;
    expect(nextAt - hungAt).toBeGreaterThanOrEqual(190);
    expect(nextAt - hungAt).toBeLessThan(3000);
    expect(events.some((line) => line.event === 'hook aborted' && line.name === 'cleanup-2')).toBe(true);
    expect(events.some((line) => line.event === 'hook done' && line.name === 'cleanup-2')).toBe(false);
    const timedOut = asLines(lines).find((line) => line.message === 'shutdown hook timed out');
    expect(timedOut).toMatchObject({ hook: 'cleanup-2', phase: 'cleanup' });
    expect(hookNames(lines)).toEqual(['drain-2', 'drain-1', 'cleanup-2', 'cleanup-1', 'flush-2', 'flush-1']);
  });

  it('never exceeds shutdownTimeout: hooks that never resolve still end with exit 1 on time', async () => {
    const budget = 800;
    const running = await started('phases.js', ['never'], { BUDGET_MS: String(budget), HOOK_TIMEOUT_MS: '60000' });
    const signalledAt = Date.now();
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    const elapsed = Date.now() - signalledAt;
    expect(code).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(budget - 50);
    // Wide margin for a loaded machine; the point is about a second, not the hour the hooks asked for.
    expect(elapsed).toBeLessThan(budget + 3000);
    // The stuck drain hook is cut at the drain deadline, so cleanup and flush still get their share.
    expect(hookNames(lines)).toEqual(['drain-2', 'drain-1', 'cleanup-2', 'cleanup-1', 'flush-2', 'flush-1']);
    const report = reportOf(lines);
    expect(report.durationMs).toBeLessThan(budget + 3000);
    const outcomes = report.phases.flatMap((phase: { hooks: Array<{ name: string; outcome: string }> }) => phase.hooks.map((hook) => `${hook.name}:${hook.outcome}`));
    expect(outcomes).toEqual(['drain-2:timeout', 'drain-1:ok', 'cleanup-2:ok', 'cleanup-1:ok', 'flush-2:timeout', 'flush-1:ok']);
  });

  it('exits 1 at once on a second SIGTERM during shutdown', async () => {
    const running = await started('phases.js', ['slow']);
    running.kill('SIGTERM');
    await running.waitFor((line) => (line as Line).event === 'hook' && (line as Line).name === 'drain-2');
    const secondAt = Date.now();
    running.kill('SIGTERM');
    const { code, signal, lines } = await running.exited;
    expect({ code, signal }).toEqual({ code: 1, signal: null });
    // The hook it interrupts would take 10 s.
    expect(Date.now() - secondAt).toBeLessThan(4000);
    expect(asLines(lines).find((line) => line.message === 'second signal during shutdown: exiting now')).toMatchObject({ signal: 'SIGTERM', state: 'draining' });
    expect(hookNames(lines)).toEqual(['drain-2']);
  });

  it('lets the first signal after a shutdown started from code join that shutdown instead of forcing the exit', async () => {
    const running = await started('phases.js', ['fatal-slow']);
    await running.waitFor((line) => (line as Line).event === 'hook' && (line as Line).name === 'drain-2');
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(1);
    expect(hookNames(lines)).toHaveLength(6);
    expect(asLines(lines).find((line) => line.message === 'second signal during shutdown: exiting now')).toBeUndefined();
    expect(asLines(lines).find((line) => line.message === 'signal during shutdown: already draining')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('exits 1 after a shutdown started from code for a fatal error, every hook clean', async () => {
    const { code, lines } = await runFixture(fixture('phases.js'), { args: ['fatal'] });
    expect(code).toBe(1);
    expect(hookNames(lines)).toHaveLength(6);
    expect(reportOf(lines)).toMatchObject({ reason: 'Error: fatal: invariant broken', exitCode: 1 });
  });
});

describe('a lifecycle that does not own the process (exit: false)', () => {
  it('never calls process.exit: the process ends by itself once the hooks released its work', async () => {
    const running = await started('owned-exit.js', ['natural']);
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(0);
    expect(asLines(lines).filter((line) => line.event !== 'ready').map((line) => line.event ?? line.message)).toEqual([
      'shutdown started',
      'shutdown phase',
      'hook',
      'shutdown phase',
      'shutdown complete',
      'stopped',
      'exit',
    ]);
  });

  it("emits 'forced' on a second signal and leaves the exit to the app", async () => {
    const running = await started('owned-exit.js', ['forced']);
    running.kill('SIGTERM');
    await running.waitFor((line) => (line as Line).event === 'hook');
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(3);
    expect(asLines(lines).find((line) => line.event === 'forced')).toMatchObject({ signal: 'SIGTERM' });
    expect(asLines(lines).some((line) => line.event === 'stopped')).toBe(false);
  });
});

describe('lifecycle beacons', () => {
  it('hold shutdown after the drain phase until released, then cleanup runs', async () => {
    const running = await started('beacon.js', ['released']);
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(0);
    const order = asLines(lines)
      .filter((line) => ['state', 'hook', 'job released'].includes(line.event!))
      .map((line) => line.state ?? line.name ?? line.event);
    expect(order).toEqual(['ready', 'draining', 'stop-server', 'job released', 'stopping', 'close-db', 'stopped']);
    const draining = asLines(lines).find((line) => line.state === 'draining')!.at!;
    const cleanup = asLines(lines).find((line) => line.name === 'close-db')!.at!;
    expect(cleanup - draining).toBeGreaterThanOrEqual(290);
    expect(reportOf(lines).unreleasedBeacons).toEqual([]);
  });

  it('give up at the drain deadline when never released, run cleanup anyway, and exit 1', async () => {
    const budget = 600;
    const running = await started('beacon.js', ['held'], { BUDGET_MS: String(budget) });
    const signalledAt = Date.now();
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(1);
    expect(Date.now() - signalledAt).toBeLessThan(budget + 3000);
    expect(hookNames(lines)).toEqual(['stop-server', 'close-db']);
    expect(reportOf(lines).unreleasedBeacons).toEqual(['nightly-report']);
    expect(asLines(lines).find((line) => line.message === 'shutdown beacons still held at the drain deadline')).toMatchObject({ beacons: ['nightly-report'] });
  });
});

// The fixture loads Express by module name: 'express4' is the Express 4 alias, 'express' is 5.
describe.each([['express 4', 'express4'], ['express 5', 'express']])('lifecycle probes during shutdown on %s', (_label, expressModule) => {
  it('answer /readyz 503 before any hook runs while /livez and routes stay 200', async () => {
    const running = await started('probes-server.js', [], { EXPRESS_MODULE: expressModule });
    running.kill('SIGTERM');
    const { code, lines } = await running.exited;
    expect(code).toBe(0);
    const observed = asLines(lines).find((line) => line.name === 'observe-probes');
    expect(observed).toMatchObject({ readyz: 503, livez: 200, work: 200 });
    expect(hookNames(lines)).toEqual(['observe-probes', 'close-server']);
  });

  it('fail readiness for outside callers during the deregistration delay, traffic still served', async () => {
    const running = await started('probes-server.js', [], { EXPRESS_MODULE: expressModule, PRE_STOP_MS: '400', WAIT_FOR_TEST: '1' });
    const { port } = (await running.waitFor((line) => (line as Line).event === 'listening')) as { port: number };
    expect((await get(port, '/readyz')).status).toBe(200);
    running.kill('SIGTERM');
    let readyz = await get(port, '/readyz');
    for (let tries = 0; readyz.status === 200 && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      readyz = await get(port, '/readyz');
    }
    expect(readyz.status).toBe(503);
    expect(JSON.parse(readyz.body)).toMatchObject({ status: 'unavailable', reason: 'shutting down', state: 'draining' });
    const livez = await get(port, '/livez');
    expect(livez.status).toBe(200);
    expect(JSON.parse(livez.body)).toMatchObject({ status: 'ok', state: 'draining' });
    expect((await get(port, '/work')).status).toBe(200);
    expect((await get(port, '/startupz')).status).toBe(200);
    await get(port, '/test-done');
    const { code } = await running.exited;
    expect(code).toBe(0);
  });
});

describe('the default lifecycle', () => {
  it('is created on first use, owns SIGINT and the exit, and runs its hooks', async () => {
    const running = await started('default-lifecycle.js');
    running.kill('SIGINT');
    const { code, lines } = await running.exited;
    expect(code).toBe(0);
    expect(asLines(lines).find((line) => line.event === 'before')).toMatchObject({ hasDefault: false });
    expect(asLines(lines).find((line) => line.event === 'options')).toMatchObject({ exit: true, signals: ['SIGTERM', 'SIGINT'], shutdownTimeout: 30000 });
    expect(hookNames(lines)).toEqual(['flush-logs']);
    expect(reportOf(lines)).toMatchObject({ reason: 'SIGINT', exitCode: 0 });
  });

  it('is shared, with the request context, by two installed copies of the package', async () => {
    const { code, lines, stderr } = await runFixture(fixture('two-copies.js'));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(asLines(lines).find((line) => line.event === 'result')).toMatchObject({
      distinctModules: true,
      contextShared: true,
      bridgeShared: true,
      bridgeRemoved: true,
      defaultShared: true,
      errorsShared: true,
    });
  });
});
