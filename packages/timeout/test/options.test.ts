import fs from 'node:fs';
import path from 'node:path';
import { createLifecycle, isInvalidOptionError } from '@keel/lifecycle';
import { DEFAULTS, resolveOptions, timeout, withDeadline } from '@keel/timeout';

function rejection(fn: () => unknown): { code?: unknown; option?: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code?: unknown; option?: unknown; message: string };
  }
  throw new Error('expected a throw');
}

describe('timeout() options', () => {
  it('has frozen defaults', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(resolveOptions()).toEqual(DEFAULTS);
  });

  it('accepts a duration alone, as ms or as a human-readable string', () => {
    expect(resolveOptions(250).duration).toBe(250);
    expect(resolveOptions('5s').duration).toBe(5000);
    expect(resolveOptions('1.5m').duration).toBe(90_000);
    expect(resolveOptions({ duration: '300ms', grace: '2s' })).toMatchObject({ duration: 300, grace: 2000 });
  });

  it.each([
    ['a negative duration', { duration: -1 }, 'duration'],
    ['a zero duration', { duration: 0 }, 'duration'],
    ['NaN', { duration: Number.NaN }, 'duration'],
    ['Infinity', { duration: Number.POSITIVE_INFINITY }, 'duration'],
    ['an absurd duration', { duration: 1e12 }, 'duration'],
    ['an unparsable string', { duration: 'soon' }, 'duration'],
    ['a negative grace', { grace: -5 }, 'grace'],
    ['a fractional Retry-After', { retryAfter: 1.5 }, 'retryAfter'],
    ['an unknown policy', { onHeadersSent: 'close' }, 'onHeadersSent'],
    ['an unknown shutdown mode', { abortOnShutdown: true }, 'abortOnShutdown'],
    ['a logger without methods', { logger: {} }, 'logger'],
    ['a hook that is not a function', { onLateWrite: 'log' }, 'onLateWrite'],
    ['something that is not a lifecycle', { lifecycle: { state: 'ready' } }, 'lifecycle'],
    ['an unknown option (a typo)', { durration: 100 }, 'durration'],
  ])('throws at creation for %s', (_name, options, option) => {
    const error = rejection(() => timeout(options as never));
    expect(isInvalidOptionError(error)).toBe(true);
    expect(error.option).toBe(option);
    expect(error.message).toContain('@keel/timeout');
  });

  it('throws for a bare duration that is not one', () => {
    expect(isInvalidOptionError(rejection(() => timeout(-100)))).toBe(true);
    expect(isInvalidOptionError(rejection(() => timeout('ten seconds')))).toBe(true);
  });

  it('never writes to the caller’s object', () => {
    const input = Object.freeze({ duration: '2s' });
    expect(resolveOptions(input).duration).toBe(2000);
    expect(input).toEqual({ duration: '2s' });
  });

  it('accepts a lifecycle', () => {
    const lifecycle = createLifecycle({ signals: [] });
    expect(resolveOptions({ lifecycle }).lifecycle).toBe(lifecycle);
  });

  it('checks the duration given to withDeadline()', () => {
    expect(isInvalidOptionError(rejection(() => withDeadline(-1, () => 1)))).toBe(true);
    expect(isInvalidOptionError(rejection(() => withDeadline(Number.NaN, () => 1)))).toBe(true);
  });

  it('documents every default in the README table exactly as DEFAULTS has it', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Options'), readme.indexOf('\n## ', readme.indexOf('\n## Options') + 1));
    const rows = new Map<string, string>();
    for (const match of section.matchAll(/^\| `(\w+)` \| (?:[^|\\]|\\.)+ \| `([^`]+)` \|/gm)) rows.set(match[1]!, match[2]!);
    for (const [key, value] of Object.entries(DEFAULTS)) {
      const written = typeof value === 'string' ? `'${value}'` : String(value);
      expect([key, rows.get(key)]).toEqual([key, written]);
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(DEFAULTS).sort());
  });
});
