import { isInvalidOptionError } from '@keel/lifecycle';
import { chaos, CHAOS_FAULTS, DEFAULTS, resolveOptions } from '@keel/chaos';

function rejection(fn: () => unknown): { code?: unknown; option?: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: unknown; option?: unknown; message: string };
  }
  throw new Error('expected a throw');
}

describe('chaos() options', () => {
  it('has frozen defaults: inert, no rules, every fault triggerable, no secret', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(resolveOptions()).toEqual(DEFAULTS);
    expect(DEFAULTS).toMatchObject({ enabled: false, rules: [], allowInProduction: false, secret: undefined, header: 'x-keel-chaos' });
    expect(DEFAULTS.triggers).toEqual(CHAOS_FAULTS);
  });

  it('never writes to the caller options and fills in rule defaults', () => {
    const input = { enabled: true, rules: [{ fault: 'latency' as const, path: '/api/*', delay: '200ms', methods: ['get'] }] };
    const copy = JSON.parse(JSON.stringify(input));
    const resolved = resolveOptions(input);
    expect(input).toEqual(copy);
    expect(Object.isFrozen(resolved.rules[0])).toBe(true);
    expect(resolved.rules[0]).toMatchObject({ fault: 'latency', name: 'latency', delay: 200, jitter: 0, probability: 0, status: 500 });
    expect(resolved.rules[0]!.path!.test('/api/users/1')).toBe(true);
    expect(resolved.rules[0]!.path!.test('/other')).toBe(false);
    expect([...resolved.rules[0]!.methods!]).toEqual(['GET']);
  });

  it('matches Express-style parameters one segment each', () => {
    const rule = resolveOptions({ rules: [{ fault: 'error', path: '/users/:id' }] }).rules[0]!;
    expect(rule.path!.test('/users/42')).toBe(true);
    expect(rule.path!.test('/users/42/')).toBe(true);
    expect(rule.path!.test('/users/42/orders')).toBe(false);
    expect(rule.path!.test('/users.json')).toBe(false);
  });

  it.each([
    ['an unknown option', { enable: true }, 'enable'],
    ['a non-boolean enabled', { enabled: 'yes' }, 'enabled'],
    ['rules that are not an array', { rules: {} }, 'rules'],
    ['an unknown fault', { rules: [{ fault: 'explode' }] }, 'rules[0].fault'],
    ['an unknown rule option', { rules: [{ fault: 'error', statusCode: 502 }] }, 'rules[0].statusCode'],
    ['a probability above 1', { rules: [{ fault: 'error', probability: 2 }] }, 'rules[0].probability'],
    ['a status outside 400..599', { rules: [{ fault: 'error', status: 200 }] }, 'rules[0].status'],
    ['a negative delay', { rules: [{ fault: 'latency', delay: -1 }] }, 'rules[0].delay'],
    ['an absurd jitter', { rules: [{ fault: 'latency', jitter: '1h' }] }, 'rules[0].jitter'],
    ['a path without a slash', { rules: [{ fault: 'hang', path: 'api' }] }, 'rules[0].path'],
    ['empty methods', { rules: [{ fault: 'hang', methods: [] }] }, 'rules[0].methods'],
    ['a name with spaces', { rules: [{ fault: 'hang', name: 'a b' }] }, 'rules[0].name'],
    ['one chunk', { rules: [{ fault: 'slow-body', chunks: 1 }] }, 'rules[0].chunks'],
    ['an unknown trigger', { triggers: ['latency', 'meteor'] }, 'triggers'],
    ['a header name with spaces', { header: 'x chaos' }, 'header'],
    ['a short secret', { secret: 'short' }, 'secret'],
    ['a secret with a semicolon', { secret: 'abcdefgh;ijklmnopq' }, 'secret'],
    ['enabled with allowInProduction and no secret', { enabled: true, allowInProduction: true }, 'secret'],
    ['a logger without methods', { logger: {} }, 'logger'],
    ['a random that is not a function', { random: 0.5 }, 'random'],
  ])('throws at chaos() time on %s, naming the option', (_label, options, option) => {
    const error = rejection(() => chaos(options as never));
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/^@keel\/chaos: option "/);
  });

  it('lets allowInProduction stand without a secret while chaos is off', () => {
    expect(resolveOptions({ enabled: false, allowInProduction: true }).allowInProduction).toBe(true);
  });

  it('never shows a rejected secret in its error', () => {
    const error = rejection(() => chaos({ secret: 'hunter2-is-fine;' }));
    expect(error.message).not.toContain('hunter2');
    expect(error.message).toContain('16 characters (not shown)');
  });
});
