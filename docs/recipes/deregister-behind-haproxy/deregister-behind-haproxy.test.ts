import fs from 'node:fs';
import path from 'node:path';
import { parseDuration } from '@keel/lifecycle';
import { describeWithPrograms, runRollingRestart, startHaproxy, startRecipeInstances, type RecipeInstances } from '../../test-support';

const APP = path.join(__dirname, 'app.js');
const CONFIG = path.join(__dirname, 'haproxy.cfg');

/** `inter`, `fall` and `rise` of the `default-server` line, in ms and counts. */
function healthCheckTiming(config: string): { interMs: number; fall: number; rise: number } {
  const line = /^\s*default-server\s+(.*)$/m.exec(config)?.[1] ?? '';
  const word = (name: string): string | undefined => new RegExp(`\\b${name}\\s+(\\S+)`).exec(line)?.[1];
  return { interMs: parseDuration(word('inter') ?? '2s')!, fall: Number(word('fall') ?? 3), rise: Number(word('rise') ?? 2) };
}

/** The preStopDelay app.js uses when PRE_STOP_DELAY is not set. */
function appPreStopDelay(source: string): number {
  const literal = /PRE_STOP_DELAY \?\? '([^']+)'/.exec(source)?.[1];
  if (literal === undefined) throw new Error('app.js no longer reads PRE_STOP_DELAY with a default');
  return parseDuration(literal)!;
}

/** Problems with the timing: the instance must keep serving until haproxy has marked it down. */
function checkTiming(config: string, preStopDelayMs: number): string[] {
  const { interMs, fall } = healthCheckTiming(config);
  // Worst case: the shutdown starts just after a passing check, then `fall` failing checks `inter` apart.
  const detectMs = (fall + 1) * interMs;
  return preStopDelayMs >= detectMs ? [] : [`preStopDelay ${preStopDelayMs} ms is shorter than haproxy's worst-case detection (fall + 1) x inter = ${detectMs} ms`];
}

describe('recipe: deregister behind haproxy (timing)', () => {
  it('keeps a draining instance serving longer than haproxy takes to mark it down', () => {
    const config = fs.readFileSync(CONFIG, 'utf8');
    expect(healthCheckTiming(config)).toEqual({ interMs: 1000, fall: 2, rise: 2 });
    expect(checkTiming(config, appPreStopDelay(fs.readFileSync(APP, 'utf8')))).toEqual([]);
  });

  it('fails the timing check when haproxy would still route to a closed instance', () => {
    const config = fs.readFileSync(CONFIG, 'utf8').replace(/fall 2/, 'fall 5');
    expect(checkTiming(config, 5_000)).toEqual([expect.stringContaining('(fall + 1) x inter = 6000 ms')]);
  });
});

describeWithPrograms(['haproxy'], 'recipe: deregister behind haproxy (the real haproxy, two instances restarted under load)', () => {
  // Every duration divided by 5, ratios kept: inter 1 s -> 200 ms, preStopDelay 5 s -> 1 s.
  const SCALE = 5;
  let instances: RecipeInstances | undefined;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>> | undefined;

  beforeAll(async () => {
    const preStopDelay = appPreStopDelay(fs.readFileSync(APP, 'utf8')) / SCALE;
    instances = await startRecipeInstances(APP, { names: ['app1', 'app2'], env: { PRE_STOP_DELAY: String(preStopDelay) } });
    const config = fs.readFileSync(CONFIG, 'utf8');
    const { interMs } = healthCheckTiming(config);
    const scaled = config.replace(/\binter\s+\S+/, `inter ${interMs / SCALE}ms`);
    haproxy = await startHaproxy(scaled, instances.upstreams);
  }, 30_000);

  afterAll(async () => {
    await instances?.kill();
    await haproxy?.stop();
  });

  it('loses no request while each instance in turn drains on SIGTERM and starts again', async () => {
    const proxy = haproxy!;
    const result = await runRollingRestart({
      url: `${proxy.url}/`,
      concurrency: 4,
      instances: instances!.restartable,
      async upstreamsUp() {
        const states = await proxy.serverStates();
        return instances!.restartable.every(({ name }) => states[name] === 'UP');
      },
    });
    // On failure, the proxy's own log says which upstream failed and how.
    expect({ failures: result.failures, proxyLog: result.failures.length > 0 ? proxy.output() : '' }).toEqual({ failures: [], proxyLog: '' });
    expect(result.ok).toBeGreaterThanOrEqual(200);
    // Both instances served before and after their restart.
    expect(result.servedBy.app1).toBeGreaterThan(0);
    expect(result.servedBy.app2).toBeGreaterThan(0);
  }, 60_000);
});
