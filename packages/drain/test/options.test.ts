import http from 'node:http';
import { isInvalidOptionError } from '@keel/lifecycle';
import { DEFAULTS, drainOnShutdown, registerLongLived } from '@keel/drain';
import { resolveOptions } from '../src/options';
import { testLifecycle } from './helpers';

describe('drainOnShutdown() options', () => {
  it('has frozen defaults', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(DEFAULTS).toEqual({ lifecycle: undefined, name: undefined, markReady: true, acceptQuiet: 100, idleGrace: 500, slowClientGrace: 2000, abortGrace: 500 });
  });

  it('accepts durations as strings and never writes to the caller\'s object', () => {
    const input = { idleGrace: '1s', abortGrace: 250 };
    const resolved = resolveOptions(input);
    expect(resolved).toMatchObject({ idleGrace: 1000, abortGrace: 250, markReady: true });
    expect(input).toEqual({ idleGrace: '1s', abortGrace: 250 });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it.each([
    [{ idelGrace: 100 }, 'idelGrace'],
    [{ idleGrace: -1 }, 'idleGrace'],
    [{ slowClientGrace: 0 }, 'slowClientGrace'],
    [{ abortGrace: 'soon' }, 'abortGrace'],
    [{ acceptQuiet: 0 }, 'acceptQuiet'],
    [{ markReady: 'yes' }, 'markReady'],
    [{ name: '' }, 'name'],
    [{ lifecycle: {} }, 'lifecycle'],
  ])('throws at call time on %p, naming the option', (input, option) => {
    const server = http.createServer();
    let thrown: unknown;
    try {
      drainOnShutdown(server, input as never);
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ packageName: '@keel/drain', option });
  });

  it('throws when given something other than an http or https server', () => {
    const { lifecycle } = testLifecycle();
    expect(() => drainOnShutdown({ listen() {} } as never, { lifecycle })).toThrow(/option "server" must be an http.Server or https.Server/);
  });
});

describe('registerLongLived() arguments', () => {
  it('throws an InvalidOptionError for a missing response or callback', () => {
    expect(() => registerLongLived(undefined as never, () => {})).toThrow(/"registerLongLived res" must be a ServerResponse/);
    expect(() => registerLongLived(new http.ServerResponse(new http.IncomingMessage(null as never)), 'end' as never)).toThrow(/"registerLongLived onDrain" must be a function/);
  });
});
