import type { ChaosFault } from './options';

/**
 * The error an injected `'error'`, `'throw'`, `'reject'`, `'timer-throw'` or
 * `'unhandled-rejection'` fault raises, in the http-errors shape: any Express
 * error handler answers it with its `status`. The message is never meant for
 * clients (`expose` is false).
 */
export class ChaosFaultError extends Error {
  /** Stable code for matching without `instanceof`. */
  readonly code = 'ERR_KEEL_CHAOS_FAULT';
  /** HTTP status of the error: the rule's `status` for `'error'`, else 500. */
  readonly status: number;
  /** Same as `status`, for http-errors compatibility. */
  readonly statusCode: number;
  /** The message names an injected fault, not something a client should see. */
  readonly expose = false;
  /** No headers of its own. */
  readonly headers: Readonly<Record<string, string>> = Object.freeze({});
  /** The fault injected. */
  readonly fault: ChaosFault;
  /** The name of the rule that injected it. */
  readonly rule: string;

  constructor(fault: ChaosFault, rule: string, status = 500) {
    super(`Injected fault: ${fault} (rule ${rule})`);
    this.name = 'ChaosFaultError';
    this.fault = fault;
    this.rule = rule;
    this.status = status;
    this.statusCode = status;
  }
}

/** Returns true for a {@link ChaosFaultError}, from any copy of this package, by its `code`. */
export function isChaosFaultError(value: unknown): value is ChaosFaultError {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'ERR_KEEL_CHAOS_FAULT';
}
