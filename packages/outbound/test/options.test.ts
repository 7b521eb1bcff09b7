import { createLifecycle, isInvalidOptionError } from '@keel/lifecycle';
import { Agent } from 'undici';
import { BREAKER_DEFAULTS, DEFAULTS, RETRY_BUDGET_DEFAULTS, outbound, outboundInterceptor, resolveOptions } from '@keel/outbound';

function rejection(fn: () => unknown): { code?: unknown; option?: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: unknown; option?: unknown; message: string };
  }
  throw new Error('expected a throw');
}

describe('outbound() options', () => {
  it('has frozen defaults, after the article: 1 s connect, 3 s read, 3 attempts', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(Object.isFrozen(RETRY_BUDGET_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(BREAKER_DEFAULTS)).toBe(true);
    expect(resolveOptions()).toEqual(DEFAULTS);
    expect(DEFAULTS).toMatchObject({ connectTimeout: 1000, headersTimeout: 3000, bodyTimeout: 3000, attempts: 3, baseDelay: 100, maxDelay: 2000 });
  });

  it('accepts durations as strings, nested objects with defaults filled in, and false', () => {
    const resolved = resolveOptions({ headersTimeout: '2s', retryBudget: { ratio: 0.1 }, breaker: false, retryMethods: ['get', 'PUT'] });
    expect(resolved.headersTimeout).toBe(2000);
    expect(resolved.retryBudget).toEqual({ ...RETRY_BUDGET_DEFAULTS, ratio: 0.1 });
    expect(resolved.breaker).toBe(false);
    expect(resolved.retryMethods).toEqual(['GET', 'PUT']);
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it.each([
    ['a negative timeout', { timeout: -1 }, 'timeout'],
    ['NaN attempts', { attempts: Number.NaN }, 'attempts'],
    ['zero attempts', { attempts: 0 }, 'attempts'],
    ['fractional attempts', { attempts: 2.5 }, 'attempts'],
    ['an unparsable duration', { connectTimeout: 'soon' }, 'connectTimeout'],
    ['a status out of range', { retryStatuses: [503, 700] }, 'retryStatuses'],
    ['a method with a space', { retryMethods: ['GET X'] }, 'retryMethods'],
    ['maxDelay under baseDelay', { baseDelay: 500, maxDelay: 100 }, 'maxDelay'],
    ['a budget ratio that is a string', { retryBudget: { ratio: '20%' } }, 'retryBudget.ratio'],
    ['an unknown budget key', { retryBudget: { percent: 20 } }, 'retryBudget.percent'],
    ['a budget that is true', { retryBudget: true }, 'retryBudget'],
    ['a threshold above 1', { breaker: { threshold: 2 } }, 'breaker.threshold'],
    ['a zero cooldown', { breaker: { cooldown: 0 } }, 'breaker.cooldown'],
    ['something that is not a lifecycle', { lifecycle: { state: 'ready' } }, 'lifecycle'],
    ['something that is not a dispatcher', { dispatcher: {} }, 'dispatcher'],
    ['a random that is a number', { random: 0.5 }, 'random'],
    ['an unknown option (a typo)', { atempts: 2 }, 'atempts'],
  ])('throws at creation for %s', (_name, options, option) => {
    for (const factory of [outbound, outboundInterceptor]) {
      const error = rejection(() => factory(options as never));
      expect(isInvalidOptionError(error)).toBe(true);
      expect(error.option).toBe(option);
      expect(error.message).toContain('@keel/outbound');
    }
  });

  it('never writes to the caller’s object', () => {
    const input = Object.freeze({ timeout: '2s', retryBudget: Object.freeze({ ratio: 0.5 }) });
    expect(resolveOptions(input).timeout).toBe(2000);
    expect(input).toEqual({ timeout: '2s', retryBudget: { ratio: 0.5 } });
  });

  it('accepts a lifecycle and a dispatcher', async () => {
    const lifecycle = createLifecycle({ signals: [] });
    const agent = new Agent();
    expect(resolveOptions({ lifecycle, dispatcher: agent })).toMatchObject({ lifecycle, dispatcher: agent });
    await agent.close();
  });
});
