import { autoPreStopDelay, createLifecycle, DEFAULTS, isInvalidOptionError, type LifecycleOptions } from '@keel/lifecycle';
import { deadlinesFrom } from '../src/report';
import { memoryLogger } from './logs';

// Real processes and sockets on a shared, loaded machine: generous limits, never tight ones.
jest.setTimeout(30_000);

// No signal handlers inside the test runner: process behaviour is proven in shutdown.test.ts.
function lifecycleFor(options: Partial<LifecycleOptions> = {}) {
  const logger = memoryLogger();
  const lifecycle = createLifecycle({ signals: [], preStopDelay: 0, shutdownTimeout: 2000, logger, ...options });
  return { lifecycle, logger };
}

function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('createLifecycle() options', () => {
  it('fills in the documented defaults', () => {
    const lifecycle = createLifecycle({ signals: [] });
    expect(lifecycle.options).toMatchObject({ shutdownTimeout: DEFAULTS.shutdownTimeout, hookTimeout: DEFAULTS.hookTimeout, exit: DEFAULTS.exit });
    expect(DEFAULTS).toEqual({ shutdownTimeout: 30000, preStopDelay: 'auto', hookTimeout: 10000, signals: ['SIGTERM', 'SIGINT'], exit: false });
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(Object.isFrozen(lifecycle.options)).toBe(true);
  });

  it('accepts durations as strings', () => {
    const { options } = createLifecycle({ signals: [], shutdownTimeout: '20s', hookTimeout: '1.5s', preStopDelay: '250ms' });
    expect(options).toMatchObject({ shutdownTimeout: 20000, hookTimeout: 1500, preStopDelay: 250 });
  });

  it.each([
    [{ shutdownTimout: 1000 }, 'shutdownTimout', 'one of the known options'],
    [{ shutdownTimeout: -1 }, 'shutdownTimeout', 'a duration from 1 ms'],
    [{ shutdownTimeout: 'soon' }, 'shutdownTimeout', 'a duration'],
    [{ hookTimeout: 0 }, 'hookTimeout', 'a duration from 1 ms'],
    [{ signals: ['SIGSEGV'] }, 'signals', 'an array of signals from SIGTERM'],
    [{ signals: 'SIGTERM' }, 'signals', 'an array of signals'],
    [{ exit: 'yes' }, 'exit', 'a boolean'],
    [{ logger: console.log }, 'logger', 'a logger with error(), warn() and info()'],
    [{ preStopDelay: 'later' }, 'preStopDelay', "'auto' or a duration"],
    [{ preStopDelay: 5000, shutdownTimeout: 5000 }, 'preStopDelay', 'less than shutdownTimeout (5000 ms)'],
  ])('rejects %p naming the option, the expectation and the value', (input, option, expected) => {
    const error = thrown(() => createLifecycle(input as Partial<LifecycleOptions>));
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_KEEL_INVALID_OPTION', packageName: '@keel/lifecycle', option });
    expect(error.message).toContain('@keel/lifecycle');
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toContain(expected);
  });

  it('rejects options that are not an object', () => {
    expect(thrown(() => createLifecycle(42 as never)).message).toBe('@keel/lifecycle: option "options" must be an object or undefined; received number 42');
  });

  it("resolves preStopDelay 'auto' from the environment, capped at a fifth of the budget", () => {
    expect(autoPreStopDelay({})).toBe(0);
    expect(autoPreStopDelay({ KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toBe(5000);
    expect(autoPreStopDelay({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, 30000)).toBe(5000);
    expect(autoPreStopDelay({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, 10000)).toBe(2000);
    const previous = process.env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_HOST = '10.0.0.1';
    try {
      expect(createLifecycle({ signals: [] }).options.preStopDelay).toBe(5000);
      // A short budget with 'auto' must not make the defaults themselves invalid.
      expect(createLifecycle({ signals: [], shutdownTimeout: 3000 }).options.preStopDelay).toBe(600);
    } finally {
      if (previous === undefined) delete process.env.KUBERNETES_SERVICE_HOST;
      else process.env.KUBERNETES_SERVICE_HOST = previous;
    }
  });
});

describe('Lifecycle state and readiness', () => {
  it('becomes ready on markReady(), emitting state then the state name', () => {
    const { lifecycle } = lifecycleFor();
    const events: unknown[] = [];
    lifecycle.on('state', (next, previous) => events.push(['state', next, previous]));
    lifecycle.on('ready', () => events.push(['ready']));
    expect(lifecycle.state).toBe('starting');
    expect(lifecycle.isReady).toBe(false);
    expect(lifecycle.hasBeenReady).toBe(false);
    lifecycle.markReady();
    expect(events).toEqual([['state', 'ready', 'starting'], ['ready']]);
    expect(lifecycle.isReady).toBe(true);
    expect(lifecycle.hasBeenReady).toBe(true);
    lifecycle.markReady();
    expect(events).toHaveLength(2);
  });

  it('holds readiness until every named hold is released', () => {
    const { lifecycle } = lifecycleFor();
    const releaseDb = lifecycle.holdReadiness('db');
    const releaseCache = lifecycle.holdReadiness('cache');
    lifecycle.markReady();
    expect(lifecycle.state).toBe('starting');
    expect(lifecycle.readinessHolds).toEqual(['db', 'cache']);
    releaseDb();
    releaseDb();
    expect(lifecycle.state).toBe('starting');
    releaseCache();
    expect(lifecycle.state).toBe('ready');
    expect(lifecycle.isReady).toBe(true);
  });

  it('is not ready while a hold taken after ready is open', () => {
    const { lifecycle } = lifecycleFor();
    lifecycle.markReady();
    const release = lifecycle.holdReadiness('reconnecting-db');
    expect(lifecycle.state).toBe('ready');
    expect(lifecycle.isReady).toBe(false);
    release();
    expect(lifecycle.isReady).toBe(true);
  });

  it('ignores markReady() once shutdown has started', async () => {
    const { lifecycle } = lifecycleFor();
    const done = lifecycle.shutdown('test');
    lifecycle.markReady();
    expect(lifecycle.state).toBe('draining');
    await done;
    expect(lifecycle.state).toBe('stopped');
    expect(lifecycle.hasBeenReady).toBe(false);
  });

  it('rejects an empty readiness hold name', () => {
    const { lifecycle } = lifecycleFor();
    expect(thrown(() => lifecycle.holdReadiness(''))).toMatchObject({ code: 'ERR_KEEL_INVALID_OPTION', option: 'holdReadiness name' });
  });
});

describe('Lifecycle.shutdown()', () => {
  it('is shutting down, aborted and draining synchronously, before any listener or hook runs', async () => {
    const { lifecycle } = lifecycleFor();
    const seen: unknown[] = [];
    lifecycle.on('draining', (reason) => seen.push(['draining', reason, lifecycle.isShuttingDown, lifecycle.signal.aborted]));
    lifecycle.signal.addEventListener('abort', () => seen.push(['abort', lifecycle.signal.reason, lifecycle.state]));
    lifecycle.onShutdown('first', () => {
      seen.push(['hook', lifecycle.state]);
    });
    const done = lifecycle.shutdown('deploy');
    expect(lifecycle.isShuttingDown).toBe(true);
    expect(lifecycle.state).toBe('draining');
    expect(lifecycle.signal.aborted).toBe(true);
    expect(lifecycle.shutdownDeadline).toBe(lifecycle.deadlines!.endsAt);
    expect(seen).toEqual([
      ['draining', 'deploy', true, false],
      ['abort', 'deploy', 'draining'],
    ]);
    await done;
    expect(seen[2]).toEqual(['hook', 'stopping']);
  });

  it('returns the same promise when called again, even from a listener', async () => {
    const { lifecycle } = lifecycleFor();
    let fromListener: Promise<unknown> | undefined;
    lifecycle.on('draining', () => {
      fromListener = lifecycle.shutdown('again');
    });
    const first = lifecycle.shutdown('first');
    expect(fromListener).toBe(first);
    expect(lifecycle.shutdown('third')).toBe(first);
    expect((await first).reason).toBe('first');
    expect(lifecycle.report).toBe(await first);
  });

  it('ends with exit code 1 when a later call reports a fatal error', async () => {
    const { lifecycle } = lifecycleFor();
    const first = lifecycle.shutdown('SIGTERM');
    void lifecycle.shutdown(new Error('uncaught'), { exitCode: 1 });
    expect((await first).exitCode).toBe(1);
  });

  it('rejects an exit code other than 0 or 1', () => {
    const { lifecycle } = lifecycleFor();
    expect(thrown(() => lifecycle.shutdown('x', { exitCode: 2 as never }))).toMatchObject({ option: 'shutdown exitCode' });
    expect(lifecycle.isShuttingDown).toBe(false);
  });

  it('emits every state once, in order, with the report last', async () => {
    const { lifecycle } = lifecycleFor();
    const states: string[] = [];
    lifecycle.on('state', (next, previous) => states.push(`${previous}->${next}`));
    let stopped: unknown;
    lifecycle.once('stopped', (report) => (stopped = report));
    lifecycle.markReady();
    const report = await lifecycle.shutdown();
    expect(states).toEqual(['starting->ready', 'ready->draining', 'draining->stopping', 'stopping->stopped']);
    expect(stopped).toBe(report);
    expect(report).toMatchObject({ reason: 'shutdown()', exitCode: 0, budgetMs: 2000, preStopDelayMs: 0, unreleasedBeacons: [] });
  });

  it('runs hooks phase by phase, last registered first, each given reason, deadline and signal', async () => {
    const { lifecycle } = lifecycleFor();
    const ran: string[] = [];
    const contexts: any[] = [];
    for (const [name, phase] of [['flush-a', 'flush'], ['cleanup-a', 'cleanup'], ['drain-a', 'drain'], ['cleanup-b', 'cleanup'], ['drain-b', 'drain'], ['flush-b', 'flush']] as const) {
      lifecycle.onShutdown(name, (context) => {
        ran.push(name);
        contexts.push(context);
      }, { phase });
    }
    lifecycle.onShutdown('default-phase', () => {
      ran.push('default-phase');
    });
    const report = await lifecycle.shutdown('why');
    expect(ran).toEqual(['drain-b', 'drain-a', 'default-phase', 'cleanup-b', 'cleanup-a', 'flush-b', 'flush-a']);
    expect(report.phases.map((phase) => [phase.phase, phase.hooks.map((hook) => hook.name)])).toEqual([
      ['drain', ['drain-b', 'drain-a']],
      ['cleanup', ['default-phase', 'cleanup-b', 'cleanup-a']],
      ['flush', ['flush-b', 'flush-a']],
    ]);
    const deadlines = lifecycle.deadlines!;
    expect(contexts[0]).toMatchObject({ reason: 'why' });
    expect(contexts[0].signal).toBeInstanceOf(AbortSignal);
    expect(contexts[0].deadline).toBeLessThanOrEqual(deadlines.drainEndsAt);
    expect(contexts[2].deadline).toBeLessThanOrEqual(deadlines.cleanupEndsAt);
    expect(contexts[4].deadline).toBeLessThanOrEqual(deadlines.endsAt);
  });

  it('splits the budget so cleanup and flush keep a share after a slow drain', () => {
    const offsets = (deadlines: ReturnType<typeof deadlinesFrom>) =>
      [deadlines.preStopEndsAt, deadlines.drainEndsAt, deadlines.cleanupEndsAt, deadlines.endsAt].map((at) => at - deadlines.startedAt);
    expect(offsets(deadlinesFrom(1000, 30000, 5000))).toEqual([5000, 23000, 28000, 30000]);
    expect(offsets(deadlinesFrom(1000, 1000, 0))).toEqual([0, 700, 900, 1000]);
    // A deregistration delay never eats into the cleanup and flush shares.
    expect(offsets(deadlinesFrom(1000, 1000, 900))).toEqual([700, 700, 900, 1000]);
    const { lifecycle } = lifecycleFor({ shutdownTimeout: 1000 });
    void lifecycle.shutdown();
    expect(offsets(lifecycle.deadlines!)).toEqual([0, 700, 900, 1000]);
  });

  it('runs the hook that follows one that throws synchronously, rejects or times out', async () => {
    const { lifecycle, logger } = lifecycleFor({ hookTimeout: 50 });
    const ran: string[] = [];
    lifecycle.onShutdown('last', () => {
      ran.push('last');
    });
    lifecycle.onShutdown('hangs', () => new Promise(() => {}));
    lifecycle.onShutdown('rejects', async () => Promise.reject(new Error('no pool')));
    lifecycle.onShutdown('throws', () => {
      throw new Error('sync');
    });
    lifecycle.onShutdown('rejects-nothing', () => Promise.reject(undefined));
    const report = await lifecycle.shutdown();
    expect(ran).toEqual(['last']);
    expect(report.exitCode).toBe(1);
    expect(report.phases[1]!.hooks.map((hook) => [hook.name, hook.outcome])).toEqual([
      ['rejects-nothing', 'failed'],
      ['throws', 'failed'],
      ['rejects', 'failed'],
      ['hangs', 'timeout'],
      ['last', 'ok'],
    ]);
    expect(logger.lines.filter((line) => line.level === 'error' && line.message.startsWith('shutdown hook')).map((line) => line.fields.hook)).toEqual([
      'rejects-nothing',
      'throws',
      'rejects',
      'hangs',
    ]);
    const summary = logger.lines.find((line) => line.message === 'shutdown complete')!;
    expect(summary.level).toBe('error');
    expect((summary.fields.report as any).phases[1].hooks[2].error).toBe('Error: no pool');
  });

  it('caps a hook at its phase deadline even when its own timeout is longer', async () => {
    const { lifecycle } = lifecycleFor({ shutdownTimeout: 300 });
    lifecycle.onShutdown('stuck', () => new Promise(() => {}), { phase: 'drain', timeout: '1h' });
    const startedAt = Date.now();
    const report = await lifecycle.shutdown();
    expect(report.phases[0]!.hooks[0]!.outcome).toBe('timeout');
    // Wide margins for a loaded machine; the point is the phase's 300 ms, not the hook's hour.
    expect(Date.now() - startedAt).toBeLessThan(300 + 1000);
    expect(report.durationMs).toBeLessThan(300 + 1000);
  });

  it('unregisters a hook with the returned function, before or during shutdown', async () => {
    const { lifecycle } = lifecycleFor();
    const ran: string[] = [];
    const offEarly = lifecycle.onShutdown('early', () => {
      ran.push('early');
    });
    const offLater = lifecycle.onShutdown('later', () => {
      ran.push('later');
    }, { phase: 'flush' });
    lifecycle.onShutdown('unregisters-later', () => {
      ran.push('unregisters-later');
      offLater();
    });
    offEarly();
    await lifecycle.shutdown();
    expect(ran).toEqual(['unregisters-later']);
  });

  it('runs hooks registered during shutdown: in their phase, or in the phase under way when theirs is over', async () => {
    const { lifecycle, logger } = lifecycleFor();
    const ran: string[] = [];
    const add = (name: string, phase: 'drain' | 'cleanup' | 'flush') =>
      lifecycle.onShutdown(name, () => {
        ran.push(name);
      }, { phase });
    lifecycle.on('draining', () => add('from-draining', 'drain'));
    lifecycle.onShutdown('registers', () => {
      ran.push('registers');
      add('late-drain', 'drain');
      add('late-cleanup', 'cleanup');
      add('late-flush', 'flush');
    }, { phase: 'drain' });
    lifecycle.onShutdown('registers-drain-hook', () => {
      ran.push('registers-drain-hook');
      add('drain-after-drain', 'drain');
    }, { phase: 'cleanup' });
    await lifecycle.shutdown();
    expect(ran).toEqual(['from-draining', 'registers', 'late-drain', 'late-cleanup', 'registers-drain-hook', 'drain-after-drain', 'late-flush']);
    const off = add('after-stopped', 'flush');
    off();
    expect(logger.lines.some((line) => line.level === 'warn' && line.fields.hook === 'after-stopped')).toBe(true);
  });

  it('goes on when a listener or the logger throws', async () => {
    const logger = memoryLogger();
    let calls = 0;
    const flaky = { ...logger, info: (message: string, fields?: Record<string, unknown>) => {
      calls += 1;
      if (calls === 1) throw new Error('disk full');
      logger.info(message, fields);
    } };
    const lifecycle = createLifecycle({ signals: [], preStopDelay: 0, shutdownTimeout: 1000, logger: flaky });
    lifecycle.on('draining', () => {
      throw new Error('listener bug');
    });
    lifecycle.on('stopping', () => {
      throw new Error('another');
    });
    const ran: string[] = [];
    lifecycle.onShutdown('cleanup', () => {
      ran.push('cleanup');
    });
    const report = await lifecycle.shutdown();
    expect(ran).toEqual(['cleanup']);
    expect(report.exitCode).toBe(0);
    expect(lifecycle.state).toBe('stopped');
    expect(logger.lines.filter((line) => line.message === 'lifecycle event listener threw').map((line) => line.fields.event)).toEqual(['draining', 'stopping']);
  });

  it('waits out preStopDelay before the first hook', async () => {
    const { lifecycle } = lifecycleFor({ preStopDelay: 120 });
    let hookAt = 0;
    lifecycle.onShutdown('drain', () => {
      hookAt = Date.now();
    }, { phase: 'drain' });
    const startedAt = Date.now();
    const report = await lifecycle.shutdown();
    expect(hookAt - startedAt).toBeGreaterThanOrEqual(110);
    expect(report.preStopDelayMs).toBe(120);
  });

  it('rejects bad hook registrations at once', () => {
    const { lifecycle } = lifecycleFor();
    const fn = () => {};
    expect(thrown(() => lifecycle.onShutdown('', fn))).toMatchObject({ option: 'onShutdown name' });
    expect(thrown(() => lifecycle.onShutdown('x', 'fn' as never))).toMatchObject({ option: 'onShutdown fn' });
    expect(thrown(() => lifecycle.onShutdown('x', fn, { phase: 'later' as never }))).toMatchObject({ option: 'onShutdown phase' });
    expect(thrown(() => lifecycle.onShutdown('x', fn, { timeout: 0 }))).toMatchObject({ option: 'onShutdown timeout' });
    expect(thrown(() => lifecycle.onShutdown('x', fn, { timeout: 'soon' }))).toMatchObject({ option: 'onShutdown timeout' });
    expect(thrown(() => lifecycle.onShutdown('x', fn, { phse: 'drain' } as never))).toMatchObject({ option: 'onShutdown phse' });
    expect(thrown(() => lifecycle.onShutdown('x', fn, null as never))).toMatchObject({ option: 'onShutdown options' });
  });
});

describe('Lifecycle beacons', () => {
  it('hold shutdown between the drain and cleanup phases until released', async () => {
    const { lifecycle } = lifecycleFor();
    const order: string[] = [];
    const job = lifecycle.beacon('job');
    expect(lifecycle.beacons).toEqual(['job']);
    lifecycle.onShutdown('drain', () => {
      order.push('drain');
      setTimeout(() => {
        order.push('released');
        job.release();
        job.release();
      }, 60);
    }, { phase: 'drain' });
    lifecycle.onShutdown('cleanup', () => {
      order.push(`cleanup in ${lifecycle.state}`);
    });
    const report = await lifecycle.shutdown();
    expect(order).toEqual(['drain', 'released', 'cleanup in stopping']);
    expect(report.unreleasedBeacons).toEqual([]);
    expect(report.beaconWaitMs).toBeGreaterThanOrEqual(40);
  });

  it('count a beacon created during shutdown, before the wait ends', async () => {
    const { lifecycle } = lifecycleFor();
    const order: string[] = [];
    lifecycle.on('draining', () => {
      const late = lifecycle.beacon('late-job');
      setTimeout(() => {
        order.push('late released');
        late.release();
      }, 50);
    });
    lifecycle.onShutdown('cleanup', () => {
      order.push('cleanup');
    });
    await lifecycle.shutdown();
    expect(order).toEqual(['late released', 'cleanup']);
  });

  it('are given up at the drain deadline and reported, with exit code 1', async () => {
    const { lifecycle, logger } = lifecycleFor({ shutdownTimeout: 300 });
    lifecycle.beacon('stuck');
    const released = lifecycle.beacon('done');
    released.release();
    const ran: string[] = [];
    lifecycle.onShutdown('cleanup', () => {
      ran.push('cleanup');
    });
    const report = await lifecycle.shutdown();
    expect(ran).toEqual(['cleanup']);
    expect(report.unreleasedBeacons).toEqual(['stuck']);
    expect(report.exitCode).toBe(1);
    expect(logger.lines.find((line) => line.message === 'shutdown beacons still held at the drain deadline')?.fields).toEqual({ beacons: ['stuck'] });
  });

  it('warn when created after the wait for beacons', async () => {
    const { lifecycle, logger } = lifecycleFor();
    lifecycle.onShutdown('cleanup', () => {
      lifecycle.beacon('too-late');
    });
    await lifecycle.shutdown();
    expect(logger.lines.some((line) => line.level === 'warn' && line.fields.beacon === 'too-late')).toBe(true);
  });
});

describe('Lifecycle.dispose()', () => {
  it('removes the signal listeners it installed', () => {
    // Installs and removes real listeners without ever raising a signal in the runner.
    const before = process.listenerCount('SIGUSR2');
    const lifecycle = createLifecycle({ signals: ['SIGUSR2'], logger: memoryLogger() });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    lifecycle.dispose();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });
});
