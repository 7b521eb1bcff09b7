import type { ServerResponse } from 'node:http';

/**
 * The response methods a handler still running after its response was answered
 * may call, and what each returns when dropped. Express's `res.json`, `res.send`,
 * `res.set`, `res.redirect` and the rest all end in these.
 */
const DROPPED_METHODS: ReadonlyArray<readonly [name: string, returns: 'this' | 'true' | 'undefined']> = [
  ['setHeader', 'this'],
  ['setHeaders', 'this'],
  ['appendHeader', 'this'],
  ['removeHeader', 'undefined'],
  ['writeHead', 'this'],
  ['flushHeaders', 'undefined'],
  ['writeContinue', 'undefined'],
  ['writeProcessing', 'undefined'],
  ['writeEarlyHints', 'undefined'],
  ['addTrailers', 'undefined'],
  // true, not false: a stream piped into the response must not wait for a 'drain' that never comes.
  ['write', 'true'],
  ['end', 'this'],
];

const GUARDED = Symbol('keel.timeout.lateWritesDropped');

/**
 * Makes every writing method of this one response a no-op that calls `report`
 * with the method's name (the caller reports once). Only the instance changes,
 * and only on the rare path where a response was answered early, so responses
 * that end normally pay nothing. Callbacks given to a dropped write are still
 * called, so code awaiting them moves on.
 */
export function dropLateWrites(res: ServerResponse, report: (call: string) => void): void {
  const target = res as unknown as Record<string | symbol, unknown>;
  if (target[GUARDED] === true) return;
  target[GUARDED] = true;
  for (const [name, returns] of DROPPED_METHODS) {
    if (typeof target[name] !== 'function') continue;
    target[name] = function droppedLateWrite(this: unknown, ...args: unknown[]): unknown {
      report(name);
      const callback = args[args.length - 1];
      if (typeof callback === 'function') process.nextTick(callback as () => void);
      return returns === 'this' ? res : returns === 'true' ? true : undefined;
    };
  }
}

/**
 * Lets the next `end()` of `res` through, then drops every later write: for an
 * error handler that answers asynchronously, so its own response is not dropped.
 */
export function dropWritesAfterNextEnd(res: ServerResponse, report: (call: string) => void): void {
  const end = res.end;
  res.end = function endThenDropLateWrites(this: ServerResponse, ...args: unknown[]): ServerResponse {
    const result = (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    dropLateWrites(res, report);
    return result;
  } as ServerResponse['end'];
}
