/**
 * Set on a middleware function that never throws and never returns a promise,
 * and that calls `next` a second time only on purpose (`timeout()` hands its
 * deadline error to `next` after the chain went on): `@keel/async-guard` leaves
 * it unwrapped, so a guarded app pays its guard only on the app's own handlers,
 * and a guard never swallows that deliberate call. Every keel middleware carries
 * it; the key is process-wide, so no package imports another.
 */
export const SETTLES_SAFELY = Symbol.for('keel.middleware.settlesSafely');

/** Marks `middleware` with {@link SETTLES_SAFELY} and returns it. */
export function markSettlesSafely<F extends (...args: any[]) => unknown>(middleware: F): F {
  (middleware as unknown as Record<symbol, boolean>)[SETTLES_SAFELY] = true;
  return middleware;
}

/** True when `fn` carries {@link SETTLES_SAFELY}. */
export function settlesSafely(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[SETTLES_SAFELY] === true;
}
