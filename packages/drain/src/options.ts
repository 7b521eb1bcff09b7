import { check, resolveOptions as resolve, type Lifecycle } from '@keel/lifecycle';

/** Options of {@link drainOnShutdown}. */
export interface DrainOptions {
  /**
   * The lifecycle whose shutdown drains the server. `undefined` means the
   * process default lifecycle (`getDefaultLifecycle()`), which owns SIGTERM and SIGINT.
   * @defaultValue `undefined`
   */
  lifecycle: Lifecycle | undefined;
  /**
   * The server's name in log lines, e.g. `'app'` or `'admin'`. `undefined` uses
   * its address, such as `'http://127.0.0.1:3000'`.
   * @defaultValue `undefined`
   */
  name: string | undefined;
  /**
   * Whether to call `lifecycle.markReady()` once the server is listening. With
   * several servers, readiness waits until every one of them listens.
   * @defaultValue `true`
   */
  markReady: boolean;
  /**
   * How long, in ms, the server must go without accepting a connection before
   * its listener closes (waiting at most ten times as long, and at most half the
   * drain window). Closing a listener resets the connections the kernel has
   * queued but the process has not yet accepted; a quiet moment has none.
   * @defaultValue `100`
   */
  acceptQuiet: number;
  /**
   * How long, in ms, an idle socket must have been silent (no request in flight,
   * no byte received), counted from the drain's start at the earliest, before the
   * drain closes it; the close waits for a moment when no request has started or
   * ended on the server for a fifth of this. Shorter risks closing a socket a
   * client is about to reuse; sockets clients do use are closed right after
   * their response instead. At most half the time left before the abort.
   * @defaultValue `500`
   */
  idleGrace: number;
  /**
   * How long, in ms, the drain lets a connection send bytes without completing
   * a request (a request head trickling in, one byte at a time: a slow or
   * hostile client) before closing it, counted from when the drain first sees
   * it sending. Such a connection never goes quiet, so without this bound it
   * would hold the drain until the abort. It is reported in the drain report's
   * `slowClients`, with its address, and makes the drain not clean. At most
   * half the time left before the abort.
   * @defaultValue `2000`
   */
  slowClientGrace: number;
  /**
   * The time, in ms, between aborting the requests still running at the drain
   * deadline (their signal fires with a `ShuttingDownError`) and destroying their
   * sockets. Capped at a tenth of the lifecycle's `shutdownTimeout`.
   * @defaultValue `500`
   */
  abortGrace: number;
}

/** The one source of {@link DrainOptions} defaults. */
export const DEFAULTS: Readonly<DrainOptions> = Object.freeze({
  lifecycle: undefined,
  name: undefined,
  markReady: true,
  acceptQuiet: 100,
  idleGrace: 500,
  slowClientGrace: 2000,
  abortGrace: 500,
});

const MAX_GRACE = 60_000;

function isLifecycle(value: unknown): value is Lifecycle {
  const candidate = value as Partial<Lifecycle> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.onShutdown === 'function' &&
    typeof candidate.markReady === 'function' &&
    typeof candidate.holdReadiness === 'function' &&
    typeof candidate.on === 'function'
  );
}

/** Checks `input` against {@link DrainOptions} and fills in defaults; throws on any bad option. */
export function resolveOptions(input: unknown): Readonly<DrainOptions> {
  return resolve<DrainOptions>('@keel/drain', input, DEFAULTS, {
    lifecycle: (value, fail) => (isLifecycle(value) ? value : fail('a Lifecycle from @keel/lifecycle')),
    name: check.string(),
    markReady: check.boolean(),
    acceptQuiet: check.duration(1, MAX_GRACE),
    idleGrace: check.duration(1, MAX_GRACE),
    slowClientGrace: check.duration(1, MAX_GRACE),
    abortGrace: check.duration(1, MAX_GRACE),
  });
}
