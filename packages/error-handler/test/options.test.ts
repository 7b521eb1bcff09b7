import { isInvalidOptionError } from '@keel/lifecycle';
import { DEFAULTS, errorHandler, notFound } from '@keel/error-handler';
import { describeEachExpress } from '@keel/test-support';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describeEachExpress('errorHandler() options', ({ express }) => {
  it.each([
    ['an unknown option', { debgu: true }, 'debgu'],
    ['a non-boolean debug', { debug: 'yes' }, 'debug'],
    ['an unknown format', { formats: ['xml'] }, 'formats'],
    ['no formats', { formats: [] }, 'formats'],
    ['a repeated format', { formats: ['json', 'json'] }, 'formats'],
    ['a relative typeBaseUrl', { typeBaseUrl: '/problems/' }, 'typeBaseUrl'],
    ['a logger without warn', { logger: { error() {}, info() {} } }, 'logger'],
    ['an unknown clientErrorLevel', { clientErrorLevel: 'debug' }, 'clientErrorLevel'],
    ['a header name with a space', { redactHeaders: ['x api key'] }, 'redactHeaders'],
    ['traceHeader true', { traceHeader: true }, 'traceHeader'],
    ['a tiny maxDetailLength', { maxDetailLength: 1 }, 'maxDetailLength'],
    ['a lifecycle-less object', { lifecycle: {} }, 'lifecycle'],
    ['a non-function onError', { onError: 'sentry' }, 'onError'],
    ['an empty env', { env: '' }, 'env'],
  ])('throws at app.use() time on %s', (_label, options, option) => {
    const app = express();
    for (const factory of [errorHandler, notFound]) {
      const error = thrown(() => app.use(factory(options as never)));
      expect(isInvalidOptionError(error)).toBe(true);
      expect(error).toMatchObject({ packageName: '@keel/error-handler', option });
    }
  });

  it('refuses debug in production, naming why', () => {
    const error = thrown(() => errorHandler({ env: 'production', debug: true }));
    expect(isInvalidOptionError(error)).toBe(true);
    expect((error as Error).message).toMatch(/debug.*production/);
    expect(() => errorHandler({ env: 'development', debug: true, logger: console })).not.toThrow();
  });

  it('never writes to the options object it is given', () => {
    const options = Object.freeze({ formats: Object.freeze(['json', 'text'] as const), redactHeaders: Object.freeze(['X-Key']) });
    expect(() => errorHandler({ ...options, logger: console })).not.toThrow();
    expect(options.redactHeaders).toEqual(['X-Key']);
  });

  it('has frozen defaults', () => {
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(Object.isFrozen(DEFAULTS.formats)).toBe(true);
    expect(DEFAULTS).toEqual({
      debug: false,
      formats: ['problem+json', 'json', 'html', 'text'],
      typeBaseUrl: undefined,
      clientErrorLevel: 'warn',
      redactHeaders: [],
      errorHeaders: [],
      traceHeader: 'x-request-id',
      maxDetailLength: 1024,
      onError: undefined,
    });
  });

  it('returns named middleware of the arity Express expects', () => {
    const handler = errorHandler({ logger: console });
    const fallback = notFound({ logger: console });
    expect(handler.name).toBe('errorHandlerMiddleware');
    expect(handler.length).toBe(4);
    expect(fallback.name).toBe('notFoundMiddleware');
    expect(fallback.length).toBe(3);
  });
});
