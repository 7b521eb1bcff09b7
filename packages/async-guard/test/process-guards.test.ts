import http from 'node:http';
import { describeEachExpress, startFixture, type FixtureResult, type RunningFixture } from '@keel/test-support';
import { DEFAULTS, installProcessGuards, isUncaughtError, UncaughtError, resolveOptions } from '@keel/async-guard';
import { assertBuilt, fixture } from './built';

interface Line {
  event?: string;
  message?: string;
  level?: string;
  [key: string]: unknown;
}

interface Reply {
  status: number;
  body: any;
}

const asLines = (lines: readonly unknown[]): Line[] => lines.filter((line): line is Line => typeof line === 'object' && line !== null);
const logged = (lines: readonly unknown[], message: string): Line[] => asLines(lines).filter((line) => line.message === message);

/** One request on its own connection (`Connection: close`), so a draining server is never held by an idle socket. */
function get(port: number, path: string, traceId?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false, headers: traceId ? { 'x-trace-id': traceId } : {} }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode!, body });
        });
      })
      .on('error', reject);
  });
}

async function start(env: NodeJS.ProcessEnv): Promise<{ running: RunningFixture; port: number }> {
  const running = startFixture(fixture('process-guards-server.js'), { env, timeoutMs: 15000 });
  const listening = (await running.waitFor((line) => (line as Line)?.event === 'listening')) as Line;
  return { running, port: listening.port as number };
}

const waitForEvent = (running: RunningFixture, event: string, traceId?: string): Promise<unknown> =>
  running.waitFor((line) => (line as Line)?.event === event && (traceId === undefined || (line as Line).traceId === traceId));

beforeAll(assertBuilt);

describeEachExpress('installProcessGuards() in a child process', ({ major }) => {
  const env = { EXPRESS_MAJOR: String(major) };

  it('answers the request whose timer threw with a 500, lets the other in-flight requests finish, then exits 1', async () => {
    const { running, port } = await start(env);
    const order: string[] = [];
    const slow = ['slow-1', 'slow-2'].map((traceId) =>
      get(port, '/slow?until=shutdown', traceId).then((reply) => {
        order.push(traceId);
        return reply;
      }),
    );
    await Promise.all(['slow-1', 'slow-2'].map((traceId) => waitForEvent(running, 'slow-start', traceId)));
    const exited = running.exited.then((result) => {
      order.push('exit');
      return result;
    });

    const crash = await get(port, '/timer-throw', 'crash-1');
    expect(crash).toEqual({ status: 500, body: { code: 'ERR_KEEL_UNCAUGHT', traceId: 'crash-1' } });
    const replies = await Promise.all(slow);
    expect(replies).toEqual([
      { status: 200, body: { ok: true, traceId: 'slow-1' } },
      { status: 200, body: { ok: true, traceId: 'slow-2' } },
    ]);
    const result: FixtureResult = await exited;
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 1, signal: null });
    expect(order[order.length - 1]).toBe('exit');

    const [fault, ...others] = logged(result.lines, 'uncaught exception');
    expect(others).toEqual([]);
    expect(fault).toMatchObject({
      level: 'error',
      origin: 'uncaughtException',
      policy: 'shutdown',
      traceId: 'crash-1',
      method: 'GET',
      path: '/timer-throw',
      response: 'error-handler',
      error: { name: 'Error', message: 'boom in a timer' },
    });
    // Answered through the app's own error handler, in the request's context.
    expect(asLines(result.lines).filter((line) => line.event === 'error-handler')).toEqual([
      { event: 'error-handler', traceId: 'crash-1', code: 'ERR_KEEL_UNCAUGHT', status: 500 },
    ]);
    expect(logged(result.lines, 'shutdown complete')[0]).toMatchObject({ report: { exitCode: 1, reason: 'Error: boom in a timer' } });
    // The shutdown runs outside the failing request's context: its hooks do not log as that request.
    expect(asLines(result.lines).find((line) => line.event === 'hook-context')).toEqual({ event: 'hook-context', traceId: null });
    expect(asLines(result.lines).find((line) => line.event === 'second-install')).toEqual({ event: 'second-install', code: 'ERR_KEEL_PROCESS_GUARDS_INSTALLED' });
  });

  it('answers an un-awaited rejection with a 500 and keeps serving, ignoring the handler writing later', async () => {
    const { running, port } = await start(env);
    const reply = await get(port, '/unawaited', 'rejection-1');
    expect(reply).toEqual({ status: 500, body: { code: 'ERR_KEEL_UNCAUGHT', traceId: 'rejection-1' } });
    await waitForEvent(running, 'handler-resumed', 'rejection-1');
    expect(await get(port, '/ok')).toEqual({ status: 200, body: { ok: true } });
    expect(await get(port, '/late-error', 'late-1')).toEqual({ status: 200, body: { second: true } });
    await running.waitFor((line) => (line as Line)?.message === 'handler failed after calling next()');

    running.kill('SIGTERM');
    const result = await running.exited;
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
    expect(logged(result.lines, 'unhandled rejection')).toEqual([
      expect.objectContaining({
        level: 'error',
        origin: 'unhandledRejection',
        policy: 'continue',
        traceId: 'rejection-1',
        path: '/unawaited',
        response: 'error-handler',
        error: expect.objectContaining({ message: 'un-awaited rejection' }),
      }),
    ]);
    expect(logged(result.lines, 'uncaught exception')).toEqual([]);
    expect(logged(result.lines, 'handler failed after calling next()')).toEqual([
      expect.objectContaining({ level: 'warn', traceId: 'late-1', path: '/late-error', error: expect.objectContaining({ message: 'after next' }) }),
    ]);
  });

  it('exits 1 at once on a second fatal error during the shutdown the first one started', async () => {
    const { running, port } = await start(env);
    const stuck = get(port, '/slow?until=never', 'stuck-1').then(
      (reply) => ({ reply }),
      (error: Error) => ({ error: error.message }),
    );
    await waitForEvent(running, 'slow-start', 'stuck-1');
    const crash = await get(port, '/double-fault', 'crash-2');
    expect(crash.status).toBe(500);
    const result = await running.exited;
    expect({ code: result.code, signal: result.signal }).toEqual({ code: 1, signal: null });
    // The stuck request would have held the drain for the whole budget: the process did not wait for it.
    expect(await stuck).toEqual({ error: 'socket hang up' });
    expect(logged(result.lines, 'uncaught exception').map((line) => (line.error as { message: string }).message)).toEqual(['first fault', 'second fault']);
    expect(logged(result.lines, 'fatal error during shutdown')).toEqual([expect.objectContaining({ origin: 'uncaughtException', exit: true })]);
    expect(logged(result.lines, 'shutdown complete')).toEqual([]);
  });

  it('never calls process.exit when the lifecycle does not own the process, yet ends with code 1', async () => {
    const { running, port } = await start({ ...env, LIFECYCLE_EXIT: 'false' });
    expect((await get(port, '/timer-throw', 'crash-3')).status).toBe(500);
    const result = await running.exited;
    expect(result.code).toBe(1);
    const events = asLines(result.lines).map((line) => line.event).filter(Boolean);
    expect(events.slice(-2)).toEqual(['stopped', 'before-exit']);
    expect(asLines(result.lines).find((line) => line.event === 'before-exit')).toEqual({ event: 'before-exit', exitCode: 1 });
  });
});

describe('installProcessGuards() for faults outside any request (child process)', () => {
  it('logs an uncaught exception without a request and shuts down with exit code 1', async () => {
    const { running } = await start({ BACKGROUND_FAULT: 'throw' });
    const result = await running.exited;
    expect(result.code).toBe(1);
    const [fault] = logged(result.lines, 'uncaught exception');
    expect(fault).toMatchObject({ origin: 'uncaughtException', policy: 'shutdown', response: 'none', error: { message: 'background fault' } });
    expect(fault).not.toHaveProperty('traceId');
    expect(logged(result.lines, 'shutdown complete')[0]).toMatchObject({ report: { exitCode: 1 } });
  });

  it('logs an unhandled rejection without a request and keeps serving', async () => {
    const { running, port } = await start({ BACKGROUND_FAULT: 'reject' });
    await running.waitFor((line) => (line as Line)?.message === 'unhandled rejection');
    expect(await get(port, '/ok')).toEqual({ status: 200, body: { ok: true } });
    running.kill('SIGTERM');
    const result = await running.exited;
    expect(result.code).toBe(0);
    expect(logged(result.lines, 'unhandled rejection')).toEqual([
      expect.objectContaining({ policy: 'continue', response: 'none', error: expect.objectContaining({ message: 'background rejection' }) }),
    ]);
  });

  it("follows onUnhandledRejection: 'shutdown' like an uncaught exception", async () => {
    const { running, port } = await start({ ON_REJECTION: 'shutdown' });
    const reply = await get(port, '/unawaited', 'rejection-2');
    expect(reply).toEqual({ status: 500, body: { code: 'ERR_KEEL_UNCAUGHT', traceId: 'rejection-2' } });
    const result = await running.exited;
    expect(result.code).toBe(1);
    expect(logged(result.lines, 'unhandled rejection')[0]).toMatchObject({ policy: 'shutdown', traceId: 'rejection-2' });
  });

  it('handles a rejection once, as a rejection, under --unhandled-rejections=strict', async () => {
    const { running, port } = await start({ NODE_OPTIONS: '--unhandled-rejections=strict' });
    expect(await get(port, '/unawaited', 'rejection-3')).toEqual({ status: 500, body: { code: 'ERR_KEEL_UNCAUGHT', traceId: 'rejection-3' } });
    await waitForEvent(running, 'handler-resumed', 'rejection-3');
    expect((await get(port, '/ok')).status).toBe(200);
    running.kill('SIGTERM');
    const result = await running.exited;
    expect(result.code).toBe(0);
    expect(logged(result.lines, 'unhandled rejection')).toEqual([expect.objectContaining({ policy: 'continue', traceId: 'rejection-3' })]);
    expect(logged(result.lines, 'uncaught exception')).toEqual([]);
  });

  it("follows onUncaughtException: 'continue': answers the request and keeps serving", async () => {
    const { running, port } = await start({ ON_UNCAUGHT: 'continue' });
    expect((await get(port, '/timer-throw', 'crash-4')).body).toEqual({ code: 'ERR_KEEL_UNCAUGHT', traceId: 'crash-4' });
    expect((await get(port, '/ok')).status).toBe(200);
    running.kill('SIGTERM');
    const result = await running.exited;
    expect(result.code).toBe(0);
    expect(logged(result.lines, 'uncaught exception')[0]).toMatchObject({ policy: 'continue', traceId: 'crash-4' });
  });
});

describe('installProcessGuards() options', () => {
  it('has frozen, documented defaults', () => {
    expect(DEFAULTS).toEqual({ onUncaughtException: 'shutdown', onUnhandledRejection: 'continue', respond: true, exit: 'auto' });
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(resolveOptions(undefined)).toEqual({ ...DEFAULTS, lifecycle: undefined, logger: undefined });
  });

  it.each([
    [{ onUncaughtException: 'ignore' }, /"onUncaughtException" must be one of "shutdown", "continue"/],
    [{ onUnhandledRejection: 'crash' }, /"onUnhandledRejection" must be one of/],
    [{ respond: 'yes' }, /"respond" must be a boolean/],
    [{ exit: 1 }, /"exit" must be a boolean or 'auto'/],
    [{ lifecycle: {} }, /"lifecycle" must be a lifecycle/],
    [{ logger: console.log }, /"logger" must be a logger/],
    [{ onUncaughtExeption: 'shutdown' }, /"onUncaughtExeption" must be one of the known options/],
  ])('throws at call time, before installing anything, for %j', (options, message) => {
    const listeners = process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection');
    expect(() => installProcessGuards(options as never)).toThrow(message);
    expect(process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection')).toBe(listeners);
  });

  it('accepts a caller options object without writing to it', () => {
    const input = Object.freeze({ exit: false, respond: false });
    expect(resolveOptions(input)).toMatchObject({ exit: false, respond: false, onUncaughtException: 'shutdown' });
  });
});

describe('UncaughtError', () => {
  it('is a 500 in http-errors shape that never exposes its message, with the fault as cause', () => {
    const cause = new Error('boom');
    const error = new UncaughtError('uncaughtException', cause);
    expect(error).toMatchObject({ name: 'UncaughtError', code: 'ERR_KEEL_UNCAUGHT', status: 500, statusCode: 500, expose: false, headers: {}, origin: 'uncaughtException', cause });
    expect(isUncaughtError(error)).toBe(true);
    expect(isUncaughtError({ code: 'ERR_KEEL_UNCAUGHT' })).toBe(true);
    expect(isUncaughtError(cause)).toBe(false);
  });
});
