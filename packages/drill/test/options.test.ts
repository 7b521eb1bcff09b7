import { bodyNames, classifyError, DEFAULTS, drillFailures, fillPath, isDrillOptionError, resolveOptions, type DrillOptions } from '@keel/drill';
import { execCommand } from '../src/target';

function rejection(fn: () => unknown): { code?: unknown; option?: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: unknown; option?: unknown; message: string };
  }
  throw new Error('expected a throw');
}

const target = { name: 'app', command: 'node app.js' };

describe('runDrill() options', () => {
  it('has frozen defaults and fills them in', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    const resolved = resolveOptions({ targets: [target] });
    expect(resolved).toMatchObject({ shutdowns: 3, clients: ['agent', 'undici'], rollingClients: ['agent'], faults: [], subject: 'the app' });
    expect(resolved.targets[0]).toMatchObject({ paths: ['/'], slowPaths: [] });
  });

  it.each([
    ['no targets', { targets: [] }, 'targets'],
    ['an unknown option', { targets: [target], shutdown: 3 }, 'shutdown'],
    ['a target with a command and a fixture', { targets: [{ ...target, fixture: 'a.js' }] }, 'targets[0].command'],
    ['a command list', { targets: [{ name: 'app', command: 'npm run build; node app.js' }] }, 'targets[0].command'],
    ['two targets of one name', { targets: [target, target] }, 'targets'],
    ['a fractional shutdown count', { targets: [target], shutdowns: 1.5 }, 'shutdowns'],
    ['an unknown client', { targets: [target], clients: ['curl'] }, 'clients'],
    ['an inverted range', { targets: [target], slowMs: [800, 300] }, 'slowMs'],
    ['a share above 1', { targets: [target], faultShare: 2 }, 'faultShare'],
    ['a fault that loses by design', { targets: [target], faults: ['reset'] }, 'faults'],
    ['a path without a slash', { targets: [{ ...target, paths: ['work'] }] }, 'targets[0].paths[0]'],
  ])('throws on %s, naming the option', (_label, options, option) => {
    const error = rejection(() => resolveOptions(options as unknown as DrillOptions));
    expect(isDrillOptionError(error)).toBe(true);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^@keel\/drill: option "/);
  });

  it('never shows a rejected chaos secret', () => {
    const error = rejection(() => resolveOptions({ targets: [target], chaosSecret: 'has a space and is secret' }));
    expect(error.message).not.toContain('secret and');
  });
});

describe('request checks', () => {
  it('finds the request ID in a body only as a word of its own', () => {
    expect(bodyNames('done 77-12 xxx', '77-12')).toBe(true);
    expect(bodyNames('done 77-12 xxx', '77-1')).toBe(false);
    expect(bodyNames('{"id":"77-1"}', '77-1')).toBe(true);
  });

  it('fills path templates', () => {
    expect(fillPath('/work?id={id}&ms={ms}', '1-2', 300)).toBe('/work?id=1-2&ms=300');
    expect(fillPath('/slow/{ms}', 'x', 5)).toBe('/slow/5');
  });

  it('calls only a refused connection refused', () => {
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toEqual({ outcome: 'refused', code: 'ECONNREFUSED' });
    expect(classifyError({ cause: { code: 'UND_ERR_SOCKET' } })).toEqual({ outcome: 'lost', code: 'UND_ERR_SOCKET' });
    expect(classifyError(undefined)).toEqual({ outcome: 'lost', code: 'UNKNOWN' });
  });

  it('runs the command with exec, after its variable assignments', () => {
    expect(execCommand('node app.js')).toBe('exec node app.js');
    expect(execCommand('PORT_OFFSET=1 NAME="a b" node app.js')).toBe('PORT_OFFSET=1 NAME="a b" exec node app.js');
  });
});

describe('the verdict', () => {
  const single = (server: string, lost: number, exitCode: number | null) => ({
    server,
    client: 'agent' as const,
    counts: { total: 10, completed: 10 - lost, errorStatus: 0, refused: 0, lost, resetUnaccepted: 0, faultAnswered: 0 },
    faults: { sent: 0, answered: 0, injected: 0, byFault: {} },
    lost: Array.from({ length: lost }, (_, i) => ({ id: String(i), ms: 0, code: 'ECONNRESET', startedAfterSignalMs: 0, endedAfterSignalMs: 1 })),
    errorStatuses: [],
    exitCode,
    exitSignal: exitCode === null ? ('SIGTERM' as const) : null,
    signalToExitMs: 5,
  });

  it('judges only the judged targets: losses, error answers, bad exits and failed runs', () => {
    const results = {
      judged: ['keel'],
      single: [single('keel', 0, 0), single('naive', 4, null)],
      rolling: [],
      errors: [{ part: 'rolling restart', server: 'naive', client: 'agent', message: 'x' }],
    };
    expect(drillFailures(results as never)).toEqual([]);
    expect(drillFailures({ ...results, judged: ['naive'] } as never)).toEqual([
      'single instance, agent: 4 request(s) lost after sending (ECONNRESET 4)',
      'single instance, agent: exit signal SIGTERM 1',
      'rolling restart, agent: x',
    ]);
  });
});
