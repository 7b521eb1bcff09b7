import type { IncomingMessage } from 'node:http';
import { processGlobal } from '@keel/lifecycle';

type AnyFunction = (...args: any[]) => unknown;

/** Something a guarded handler did that cannot reach `next` any more, reported to the process guards. */
export interface LateFault {
  /** `'error'`: the handler threw or rejected after it had called `next`; `'next'`: it called `next` again. */
  readonly kind: 'error' | 'next';
  /** The thrown value, or the value of the ignored `next` call. */
  readonly value: unknown;
  /** The handler's name, for the log. */
  readonly handler: string;
  /** The request, when known. */
  readonly req: IncomingMessage | undefined;
}

/** State shared by every copy of this package in the process (a `Symbol.for` key on `globalThis`). */
export interface GuardState {
  /** Original handler -> its guard wrapper, so a handler guarded twice gets one wrapper. */
  readonly wrappers: WeakMap<AnyFunction, AnyFunction>;
  /** Guard wrapper -> original handler. */
  readonly originals: WeakMap<AnyFunction, AnyFunction>;
  /** Apps, routers and routes whose registration methods are guarded. */
  readonly guardedTargets: WeakSet<object>;
  /**
   * Requests answered by the process guards, each with a token of that answer:
   * a handler invocation that started before the answer is ignored from then on.
   */
  readonly answeredRequests: WeakMap<object, object>;
  /**
   * The error the process guards are handing to `req.next` right now. Express 4's
   * `expressInit` stores its own (guarded, already called) `next` as `req.next`:
   * a guarded `next` lets this one error through to the router.
   */
  delivering: object | undefined;
  /** Where late faults go while the process guards are installed. */
  reportLateFault: ((fault: LateFault) => void) | undefined;
  /** True while process guards are installed. */
  processGuardsInstalled: boolean;
}

/** The guard state of this process, shared by every installed copy of this package. */
export const state = processGlobal<GuardState>('keel.asyncGuard.state.v1', () => ({
  wrappers: new WeakMap(),
  originals: new WeakMap(),
  guardedTargets: new WeakSet(),
  answeredRequests: new WeakMap(),
  delivering: undefined,
  reportLateFault: undefined,
  processGuardsInstalled: false,
}));

/**
 * Reports a late fault: to the process guards' logger when installed (with the
 * request's trace ID), else as a process warning, never silently dropped.
 */
export function reportLateFault(fault: LateFault): void {
  if (state.reportLateFault !== undefined) {
    state.reportLateFault(fault);
    return;
  }
  const what = fault.kind === 'error'
    ? `handler ${fault.handler} threw or rejected after it had called next(); the error cannot reach the error handler`
    : `handler ${fault.handler} called next() more than once; the extra call was ignored`;
  let detail: string | undefined;
  try {
    detail = fault.value instanceof Error && typeof fault.value.stack === 'string' ? fault.value.stack : undefined;
  } catch {
    // A revoked Proxy throws on instanceof: no detail.
  }
  process.emitWarning(what, { type: 'KeelAsyncGuardWarning', code: fault.kind === 'error' ? 'KEEL_LATE_ERROR' : 'KEEL_NEXT_TWICE', ...(detail ? { detail } : {}) });
}
