import { AsyncResource } from 'node:async_hooks';
import {
  contextOf,
  createJsonLogger,
  describeValue,
  getContext,
  getDefaultLifecycle,
  peekDefaultLifecycle,
  redactingLogger,
  type Lifecycle,
  type Logger,
  type RequestContext,
} from '@keel/lifecycle';
import { answerRequest, type AnswerOutcome } from './answer';
import { publishFault } from './channels';
import { isErrorLike, UncaughtError, type UncaughtOrigin } from './errors';
import { resolveOptions, type FaultPolicy, type ProcessGuardsOptions } from './options';
import { serializeError } from './serialize';
import { state, type LateFault } from './state';

/** Removes the process guards; calling it again does nothing. */
export type UninstallProcessGuards = () => void;

/**
 * Installs `uncaughtException` and `unhandledRejection` handlers that find the
 * request that owned the fault through the shared request context, answer it
 * with a 500 if its response is still open, log one line with its trace ID, and
 * apply the policy: by default an uncaught exception starts a graceful shutdown
 * with exit code 1 (in-flight requests finish), and an unhandled rejection lets
 * the process live. A fatal error while the lifecycle is already shutting down
 * exits at once. Faults outside any request are logged and follow the same policy.
 *
 * The request is found only when it is certain: the context the fault was
 * raised in (mount `asyncGuard()`, or any keel middleware, first). When there is
 * none, nothing is answered. Throws if the guards are already installed.
 *
 * @returns the function that removes the guards.
 */
export function installProcessGuards(options?: Partial<ProcessGuardsOptions>): UninstallProcessGuards {
  const resolved = resolveOptions(options);
  if (state.processGuardsInstalled) {
    throw Object.assign(new Error('@keel/async-guard: process guards are already installed; call the function installProcessGuards() returned to remove them first'), {
      code: 'ERR_KEEL_PROCESS_GUARDS_INSTALLED',
    });
  }
  let fallbackLogger: Logger | undefined;
  const lifecycleFor = (fatal: boolean): Lifecycle | undefined =>
    resolved.lifecycle ?? (fatal ? getDefaultLifecycle() : peekDefaultLifecycle());
  // Through the shared redaction: a fault's message or cause may carry a URL with a token.
  const loggerFor = (lifecycle: Lifecycle | undefined): Logger =>
    redactingLogger(resolved.logger ?? lifecycle?.logger ?? (fallbackLogger ??= createJsonLogger()));
  // The fault's handler runs in the failing request's context; the shutdown it starts must not,
  // or every hook, timer and abort listener of the shutdown would run as that request.
  const startShutdown = AsyncResource.bind((lifecycle: Lifecycle, reason: unknown) => lifecycle.shutdown(reason, { exitCode: 1 }));
  const exitAllowed = (lifecycle: Lifecycle): boolean =>
    resolved.exit === 'auto' ? lifecycle.options?.exit === true : resolved.exit;

  const handleFault = (origin: UncaughtOrigin, value: unknown): void => {
    const policy: FaultPolicy = origin === 'uncaughtException' ? resolved.onUncaughtException : resolved.onUnhandledRejection;
    const fatal = policy === 'shutdown';
    let lifecycle: Lifecycle | undefined;
    try {
      lifecycle = lifecycleFor(fatal);
      const logger = loggerFor(lifecycle);
      const context = getContext();
      let response: AnswerOutcome | 'none' = 'none';
      if (context !== undefined && resolved.respond) response = answerRequest(context, new UncaughtError(origin, value));
      logger.error(origin === 'uncaughtException' ? 'uncaught exception' : 'unhandled rejection', {
        origin,
        policy,
        error: serializeError(value),
        ...requestFields(context),
        response,
      });
      publishFault(origin, value, fatal && lifecycle !== undefined, context?.req);
      if (!fatal || lifecycle === undefined) return;
      // Whoever ends the process later, it does not end as a success.
      process.exitCode = 1;
      if (lifecycle.isShuttingDown) {
        logger.error('fatal error during shutdown', { origin, exit: exitAllowed(lifecycle) });
        if (exitAllowed(lifecycle)) process.exit(1);
        return;
      }
      const owner = lifecycle;
      startShutdown(owner, isErrorLike(value) ? value : new UncaughtError(origin, value)).then(
        () => {
          // The lifecycle exits itself when it owns the process; otherwise exit here only if allowed.
          if (exitAllowed(owner) && owner.options?.exit !== true) process.exit(1);
        },
        () => {
          if (exitAllowed(owner)) process.exit(1);
        },
      );
    } catch (internal) {
      // A throw from here would kill the process without a word: say why, then honour the policy.
      try {
        process.stderr.write(`@keel/async-guard: failed to handle ${origin}: ${String(internal)}\n`);
      } catch {
        // stderr is gone; nothing left to tell.
      }
      if (fatal && lifecycle !== undefined && exitAllowed(lifecycle)) process.exit(1);
    }
  };

  const onUncaughtException = (error: unknown, origin?: string): void => {
    // Under --unhandled-rejections=strict Node raises a rejection here first, then emits
    // 'unhandledRejection' for it since this listener handled it: deal with it there, once.
    if (origin === 'unhandledRejection') return;
    handleFault('uncaughtException', error);
  };
  const onUnhandledRejection = (reason: unknown): void => handleFault('unhandledRejection', reason);
  const reportLateFault = (fault: LateFault): void => {
    try {
      const logger = loggerFor(resolved.lifecycle ?? peekDefaultLifecycle());
      const context = fault.req !== undefined ? contextOf(fault.req) : undefined;
      const message = fault.kind === 'error' ? 'handler failed after calling next()' : 'handler called next() twice';
      publishFault(fault.kind === 'error' ? 'errorAfterNext' : 'nextTwice', fault.value, false, fault.req);
      logger.warn(message, {
        handler: fault.handler,
        ...(fault.kind === 'error' ? { error: serializeError(fault.value) } : { nextArgument: isErrorLike(fault.value) ? serializeError(fault.value) : describeValue(fault.value) }),
        ...requestFields(context),
      });
    } catch {
      // A broken logger must not turn a late fault into an uncaught one.
    }
  };

  process.on('uncaughtException', onUncaughtException);
  process.on('unhandledRejection', onUnhandledRejection);
  state.processGuardsInstalled = true;
  state.reportLateFault = reportLateFault;

  let installed = true;
  return function uninstallProcessGuards(): void {
    if (!installed) return;
    installed = false;
    process.off('uncaughtException', onUncaughtException);
    process.off('unhandledRejection', onUnhandledRejection);
    state.processGuardsInstalled = false;
    if (state.reportLateFault === reportLateFault) state.reportLateFault = undefined;
  };
}

function requestFields(context: RequestContext | undefined): Record<string, unknown> {
  if (context === undefined) return {};
  const req = context.req as RequestContext['req'] & { originalUrl?: unknown };
  const url = typeof req.originalUrl === 'string' ? req.originalUrl : (req.url ?? '');
  return {
    ...(context.traceId !== undefined ? { traceId: context.traceId } : {}),
    ...(context.spanId !== undefined ? { spanId: context.spanId } : {}),
    method: req.method,
    // The query string may carry secrets: log the path only.
    path: url.split('?', 1)[0],
  };
}
