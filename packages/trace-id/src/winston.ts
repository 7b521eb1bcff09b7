import { check, getContext, getDefaultLifecycle, resolveOptions, InvalidOptionError, type Lifecycle, type RequestContext } from '@keel/lifecycle';
import type { TracedContext } from './context';
import { LogFlushTimeoutError } from './errors';
import { resolveFieldOptions, writeTraceFields, type TraceFormatOptions } from './fields';
import { PACKAGE_NAME } from './options';

// winston is an optional peer: nothing here imports it. A format is any object
// with transform(); a logger is a stream with transports.

/** Where `traceMeta()` leaves, on each log entry, the request context current when the line was logged. */
const LOG_CONTEXT = Symbol.for('keel.traceId.logContext');

/** A winston (logform) format: give it to `winston.format.combine()` or a logger's `format`. */
export interface TraceFormat {
  /** The options in force. */
  readonly options: Readonly<TraceFormatOptions>;
  /** Adds the trace fields to one log entry and returns it. */
  transform<T extends object>(info: T, options?: unknown): T;
}

/**
 * A winston format that writes `traceId` and `spanId` (and `requestId` for a
 * trusted caller's request ID, `receivedId` for an untrusted client's ID) on
 * every line logged inside a request. Fields already
 * on the line are left as they are. The context is the one `traceMeta()`
 * captured when the line was logged, or else the one current when the format
 * runs: winston runs formats later than the log call when its transports are
 * slow, so add `defaultMeta: traceMeta()` to the logger.
 */
export function traceFormat(options?: Partial<TraceFormatOptions>): TraceFormat {
  const resolved = resolveFieldOptions(options);
  return {
    options: resolved,
    transform(info) {
      const entry = info as Record<string | symbol, unknown>;
      const captured = entry[LOG_CONTEXT] as TracedContext | null | undefined;
      const context = captured === undefined ? (getContext() as TracedContext | undefined) : (captured ?? undefined);
      if (context === undefined || context.traceId === undefined) return info;
      writeTraceFields(entry, context, resolved);
      return info;
    },
  };
}

function captureContext(): RequestContext | null {
  return getContext() ?? null;
}

/**
 * A `defaultMeta` for a winston logger that captures the request context at the
 * moment a line is logged (winston copies `defaultMeta` into each entry in the
 * log call itself), so `traceFormat()` stamps the right ID even when the line
 * is formatted later. It adds no visible field; `base` is copied in.
 */
export function traceMeta<T extends object = Record<string, never>>(base?: T): T {
  const meta = { ...base } as T;
  Object.defineProperty(meta, LOG_CONTEXT, { enumerable: true, get: captureContext });
  return meta;
}

/** The part of a winston logger (or any object-mode stream) that {@link endLogger} uses. */
export interface FlushableLogger {
  end(): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  listenerCount(event: string): number;
  readonly transports?: readonly unknown[];
}

/** Options of {@link endLogger}. */
export interface EndLoggerOptions {
  /** Gives up (rejecting with a `LogFlushTimeoutError`) after this many ms; unset waits as long as it takes. */
  timeout?: number;
  /** Gives up when this signal aborts (a lifecycle hook's own signal, for instance). */
  signal?: AbortSignal;
}

interface StreamLike {
  once(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  readonly destroyed?: boolean;
  readonly writableFinished?: boolean;
  readonly readableLength?: number;
  readonly writableLength?: number;
  readonly _writableState?: { readonly finished?: boolean };
  readonly _dest?: unknown;
}

function isStream(value: unknown): value is StreamLike {
  return typeof value === 'object' && value !== null && typeof (value as StreamLike).once === 'function' && typeof (value as StreamLike).removeListener === 'function';
}

// readable-stream 3 (winston's streams) has no writableFinished: read its state instead.
function isFinished(stream: StreamLike): boolean {
  if (typeof stream.writableFinished === 'boolean') return stream.writableFinished;
  return stream._writableState?.finished === true;
}

function whenFinished(stream: StreamLike): Promise<void> {
  if (isFinished(stream) || stream.destroyed === true) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      stream.removeListener('finish', done);
      stream.removeListener('close', done);
      stream.removeListener('error', failed);
      resolve();
    };
    const failed = (error: unknown): void => {
      stream.removeListener('finish', done);
      stream.removeListener('close', done);
      reject(error);
    };
    stream.once('finish', done);
    stream.once('close', done);
    stream.once('error', failed);
  });
}

/**
 * winston's logger ends its transports as soon as every line is formatted, even
 * when formatted lines still wait in its own buffer for a slow transport: those
 * would then be written after end and lost. Wait until the transports have them.
 */
async function whenHandedOver(logger: StreamLike): Promise<void> {
  while ((logger.readableLength ?? 0) + (logger.writableLength ?? 0) > 0 && logger.destroyed !== true) {
    await new Promise<void>((resolve) => {
      const next = (): void => {
        logger.removeListener('data', next);
        logger.removeListener('close', next);
        resolve();
      };
      logger.once('data', next);
      logger.once('close', next);
    });
  }
}

async function whenTransportDone(transport: unknown): Promise<void> {
  if (!isStream(transport)) return;
  await whenFinished(transport);
  // A File transport writes through an fs stream; winston before its fix of issue #1504 said 'finish' before that stream had written.
  if (isStream(transport._dest)) await whenFinished(transport._dest);
}

function ignoreWritesAfterEnd(logger: FlushableLogger): void {
  // A line logged after the end (a shutdown report, a late request) is dropped, not a crash.
  logger.on('error', function ignoreWriteAfterEnd(error: unknown) {
    if ((error as { code?: unknown } | null)?.code === 'ERR_STREAM_WRITE_AFTER_END') return;
    if (logger.listenerCount('error') === 1) throw error;
  });
}

const flushes = new WeakMap<object, Promise<void>>();

async function flush(logger: FlushableLogger): Promise<void> {
  const transports = Array.isArray(logger.transports) ? [...logger.transports] : [];
  const stream = logger as unknown as StreamLike;
  if (transports.length > 0) await whenHandedOver(stream);
  const waits = [whenFinished(stream), ...transports.map(whenTransportDone)];
  ignoreWritesAfterEnd(logger);
  logger.end();
  await Promise.all(waits);
}

/**
 * Ends a winston logger and resolves once it and every transport have written
 * everything logged before the call (a File transport: to its file), so
 * `process.exit()` right after loses no line. Calling it again returns the same
 * wait. Lines logged afterwards are dropped.
 */
export function endLogger(logger: FlushableLogger, options: EndLoggerOptions = {}): Promise<void> {
  if (typeof logger !== 'object' || logger === null || typeof logger.end !== 'function' || typeof logger.once !== 'function') {
    return Promise.reject(new InvalidOptionError(PACKAGE_NAME, 'logger', 'a winston logger (a stream with end())', logger));
  }
  const { timeout, signal } = options;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0 && Number.isFinite(timeout))) {
    return Promise.reject(new InvalidOptionError(PACKAGE_NAME, 'timeout', 'a number of ms from 0', timeout));
  }
  let flushing = flushes.get(logger);
  if (flushing === undefined) {
    flushing = flush(logger);
    flushes.set(logger, flushing);
  }
  if (timeout === undefined && signal === undefined) return flushing;
  const startedAt = Date.now();
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const settle = (error?: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => settle(new LogFlushTimeoutError(Date.now() - startedAt, { cause: signal?.reason }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeout !== undefined) timer = setTimeout(() => settle(new LogFlushTimeoutError(Date.now() - startedAt)), timeout);
    flushing.then(() => settle(), (error: unknown) => settle(error ?? new Error('logger failed')));
  });
}

/** The part of a `Lifecycle` that {@link flushOnShutdown} uses. */
export type ShutdownHookHost = Pick<Lifecycle, 'onShutdown'>;

/** Options of {@link flushOnShutdown}. */
export interface FlushOnShutdownOptions {
  /**
   * The lifecycle whose flush phase ends the logger; the process default
   * (`getDefaultLifecycle()`) when unset.
   * @defaultValue `undefined`
   */
  lifecycle: ShutdownHookHost | undefined;
  /**
   * The hook's name in the shutdown report.
   * @defaultValue `'flush-logs'`
   */
  name: string;
  /**
   * The hook's timeout in ms (or `'5s'`); the lifecycle's `hookTimeout` when unset.
   * @defaultValue `undefined`
   */
  timeout: number | string | undefined;
}

/** The one source of {@link FlushOnShutdownOptions} defaults. */
export const FLUSH_DEFAULTS: Readonly<FlushOnShutdownOptions> = Object.freeze({
  lifecycle: undefined,
  name: 'flush-logs',
  timeout: undefined,
});

const hookHost = (value: unknown, fail: (expected: string) => never): ShutdownHookHost =>
  typeof value === 'object' && value !== null && typeof (value as ShutdownHookHost).onShutdown === 'function' ? (value as ShutdownHookHost) : fail('a lifecycle (an object with onShutdown())');

/**
 * Registers a hook in the lifecycle's `flush` phase (the last one, after drain
 * and cleanup) that ends `logger` and waits for its transports, so no line
 * logged before exit is lost. Returns the function that unregisters it.
 */
export function flushOnShutdown(logger: FlushableLogger, options?: Partial<FlushOnShutdownOptions>): () => void {
  if (typeof logger !== 'object' || logger === null || typeof logger.end !== 'function' || typeof logger.once !== 'function') {
    throw new InvalidOptionError(PACKAGE_NAME, 'logger', 'a winston logger (a stream with end())', logger);
  }
  const resolved = resolveOptions<FlushOnShutdownOptions>(PACKAGE_NAME, options, FLUSH_DEFAULTS, {
    lifecycle: hookHost,
    name: check.string(),
    timeout: check.duration(1, 24 * 3_600_000),
  });
  const lifecycle = resolved.lifecycle ?? getDefaultLifecycle();
  return lifecycle.onShutdown(resolved.name, ({ signal }) => endLogger(logger, { signal }), {
    phase: 'flush',
    ...(resolved.timeout === undefined ? {} : { timeout: resolved.timeout }),
  });
}
