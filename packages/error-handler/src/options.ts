import type { IncomingMessage } from 'node:http';
import { check, InvalidOptionError, redactingLogger, resolveOptions as resolve, type Logger, type OptionCheck } from '@keel/lifecycle';
import { isForbiddenErrorHeader } from './headers';
import { defaultLogger } from './log';
import { ERROR_FORMATS, type ErrorFormat } from './negotiate';
import type { NormalizedError } from './normalize';

const PACKAGE = '@keel/error-handler';

/** What became of the response of a failed request. */
export type ResponseOutcome =
  /** The error response was written. */
  | 'sent'
  /** Headers had gone out: the connection was cut so the client sees an incomplete response. */
  | 'destroyed'
  /** The response had already ended: nothing to do but log. */
  | 'ended'
  /** The client was gone: nothing could be written. */
  | 'client-gone';

/** What {@link ErrorHandlerOptions.onError} is given with the thrown value, once the response is dealt with. */
export interface ErrorReport {
  /** The request that failed (its response is done: the hook gets no handle to it). */
  readonly req: IncomingMessage;
  /** The status answered (or that would have been). */
  readonly status: number;
  /** The stable code answered. */
  readonly code: string;
  /** The request's trace ID, when there is one. */
  readonly traceId?: string;
  /** What became of the response. */
  readonly outcome: ResponseOutcome;
  /** Everything known about the error. */
  readonly error: NormalizedError;
}

/** A reporting hook, e.g. to Sentry. Its result and its errors never affect the response. */
export type ErrorHook = (error: unknown, report: ErrorReport) => unknown;

/** The shape of a lifecycle the error handler reads: any `@keel/lifecycle` Lifecycle fits. */
export interface ShutdownState {
  readonly isShuttingDown: boolean;
}

/** Options of {@link errorHandler} and {@link notFound}: one object can serve both. */
export interface ErrorHandlerOptions {
  /**
   * The environment. `'production'` forbids `debug`.
   * @defaultValue `process.env.NODE_ENV`, read when the factory is called
   */
  env: string;
  /**
   * Adds the stack, the real message and the `cause` chain to response bodies.
   * For development only: the factory throws when it is `true` and `env` is `'production'`.
   * @defaultValue `false`
   */
  debug: boolean;
  /**
   * The formats offered, in order of preference. The first is used when the
   * request's `Accept` matches none of them.
   * @defaultValue `['problem+json', 'json', 'html', 'text']`
   */
  formats: readonly ErrorFormat[];
  /**
   * Base of the problem `type` URI: the code, lowercased with `-` for `_`, is
   * appended (`'https://example.com/problems/'` gives `'https://example.com/problems/not-found'`).
   * Unset, `type` is `'about:blank'`.
   * @defaultValue `undefined`
   */
  typeBaseUrl: string | undefined;
  /**
   * Where the one line per error goes: winston, or any object with `error`, `warn` and `info`.
   * @defaultValue a winston logger writing JSON lines to stdout
   */
  logger: Logger;
  /**
   * The level 4xx errors are logged at (5xx are always `error`).
   * @defaultValue `'warn'`
   */
  clientErrorLevel: 'info' | 'warn';
  /**
   * Header and field names (`*` matches any run of characters) logged as
   * `[REDACTED]`, in addition to the shared list of `@keel/lifecycle`
   * (`DEFAULT_REDACTED_NAMES`: `authorization`, cookies, `x-api-key`,
   * `*token*`, `*-key`, `*secret*`, `*auth*`, ...), which always is.
   * @defaultValue `[]`
   */
  redactHeaders: readonly string[];
  /**
   * Response headers an error's `headers` may set, in addition to the built-in
   * allow-list (`ALLOWED_ERROR_HEADERS`: `Retry-After`, `WWW-Authenticate`,
   * `Allow`, `Accept-*`, `Content-Language`, rate-limit headers). Hop-by-hop
   * headers and those the error response owns (`Content-Type`, `Content-Length`, ...)
   * cannot be allowed.
   * @defaultValue `[]`
   */
  errorHeaders: readonly string[];
  /**
   * The response header that carries the trace ID, set only if not set already; `false` for none.
   * @defaultValue `'x-request-id'`
   */
  traceHeader: string | false;
  /**
   * The longest message sent to a client, in characters; longer ones are cut.
   * @defaultValue `1024`
   */
  maxDetailLength: number;
  /**
   * The lifecycle whose shutdown makes error responses carry `Connection: close`.
   * @defaultValue the default lifecycle of `@keel/lifecycle`, if one exists
   */
  lifecycle: ShutdownState | undefined;
  /**
   * Called with each error once its response is sent (or cut), for reporting.
   * It cannot change the response; if it throws or rejects, that is logged and ignored.
   * @defaultValue `undefined`
   */
  onError: ErrorHook | undefined;
}

/** Options as resolved: defaults filled in, checked, frozen. */
export interface ResolvedErrorHandlerOptions extends Readonly<ErrorHandlerOptions> {
  /** The `env` in force is `'production'`. */
  readonly production: boolean;
}

/** The one source of {@link ErrorHandlerOptions} defaults (`env`, `logger` and `lifecycle` are found when the factory is called). */
export const DEFAULTS: Readonly<Omit<ErrorHandlerOptions, 'env' | 'logger' | 'lifecycle'>> = Object.freeze({
  debug: false,
  formats: ERROR_FORMATS,
  typeBaseUrl: undefined,
  clientErrorLevel: 'warn' as const,
  redactHeaders: Object.freeze([] as string[]),
  errorHeaders: Object.freeze([] as string[]),
  traceHeader: 'x-request-id',
  maxDetailLength: 1024,
  onError: undefined,
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const absoluteUrl: OptionCheck<string> = (value, fail) => {
  if (typeof value !== 'string') return fail('an absolute URL string');
  try {
    new URL(value);
    return value;
  } catch {
    return fail('an absolute URL string');
  }
};

const formats: OptionCheck<readonly ErrorFormat[]> = (value, fail) => {
  const description = `a non-empty array of distinct formats from ${ERROR_FORMATS.map((format) => `'${format}'`).join(', ')}`;
  const list = check.arrayOf(check.oneOf<ErrorFormat>(...ERROR_FORMATS), description, 1)(value, fail);
  return new Set(list).size === list.length ? list : fail(description);
};

const shutdownState: OptionCheck<ShutdownState> = (value, fail) => {
  const ok = typeof value === 'object' && value !== null && typeof (value as { isShuttingDown?: unknown }).isShuttingDown === 'boolean';
  return ok ? (value as ShutdownState) : fail('a lifecycle (an object with a boolean isShuttingDown)');
};

/**
 * Checks `input` against {@link ErrorHandlerOptions} and fills in defaults;
 * throws an InvalidOptionError naming the option on anything wrong.
 */
export function resolveOptions(input: unknown): ResolvedErrorHandlerOptions {
  const options = resolve<ErrorHandlerOptions>(
    PACKAGE,
    input,
    { ...DEFAULTS, env: process.env.NODE_ENV ?? '', logger: undefined as unknown as Logger, lifecycle: undefined },
    {
      env: check.string(undefined, 'a non-empty string'),
      debug: check.boolean(),
      formats,
      typeBaseUrl: absoluteUrl,
      logger: check.logger<Logger>(),
      clientErrorLevel: check.oneOf('info', 'warn'),
      redactHeaders: check.arrayOf(check.string(HEADER_NAME), 'an array of header names'),
      errorHeaders: check.arrayOf(check.string(HEADER_NAME), 'an array of header names'),
      traceHeader: check.either(check.oneOf(false), check.string(HEADER_NAME), 'a header name or false'),
      maxDetailLength: check.number(16, 1_048_576, true),
      lifecycle: shutdownState,
      onError: check.function<ErrorHook>(),
    },
  );
  const production = options.env === 'production';
  if (options.debug && production) {
    throw new InvalidOptionError(PACKAGE, 'debug', "false when env is 'production' (debug bodies show stacks and internal messages)", true);
  }
  const forbidden = options.errorHeaders.find(isForbiddenErrorHeader);
  if (forbidden !== undefined) {
    throw new InvalidOptionError(PACKAGE, 'errorHeaders', 'header names other than hop-by-hop ones and those the error response owns (Content-Type, Content-Length, ...)', forbidden);
  }
  const redactHeaders = Object.freeze(options.redactHeaders.map((name) => name.toLowerCase()));
  return Object.freeze({
    ...options,
    redactHeaders,
    errorHeaders: Object.freeze(options.errorHeaders.map((name) => name.toLowerCase())),
    // Every line goes through the shared redaction, thrown objects' nested fields included.
    logger: redactingLogger(options.logger ?? defaultLogger(), redactHeaders),
    production,
  });
}
