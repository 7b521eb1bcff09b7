import { InvalidOptionError } from '@keel/lifecycle';
import { guardApp, isExpressApp, isExpressRouter } from './guard-app';
import { wrapHandler, type Handler } from './wrap-handler';

/**
 * Wraps one Express handler so that a throw or a rejection reaches `next(err)`
 * exactly once, on Express 4 and 5. The wrapper keeps the handler's arity (so
 * an error middleware of 4 arguments is still one on Express 4) and its `name`.
 *
 * - `next` is found by position: the 3rd argument of request and `param`
 *   handlers, the 4th of error middleware.
 * - `next` runs at most once: a second call, or a throw after `next` was
 *   called, is reported (to the process guards' logger when installed, else as
 *   a process warning) and never re-enters the router.
 * - A value that is not an Error (`undefined`, `null`, a string, an object)
 *   becomes a `ThrownValueError` with the value as `cause`; the strings
 *   `'route'` and `'router'` stay routing instructions, as in Express.
 * - An Express app or router is guarded as a whole ({@link guardApp}) and
 *   returned unchanged.
 *
 * Guarding is idempotent: the same handler always gets the same wrapper.
 *
 * @example
 * app.get('/users/:id', guard(async (req, res) => { res.json(await db.find(req.params.id)); }));
 */
export function guard<F extends Handler>(fn: F): F {
  if (typeof fn !== 'function') throw new InvalidOptionError('@keel/async-guard', 'guard(fn)', 'a function', fn);
  if (isExpressApp(fn) || isExpressRouter(fn)) return guardApp(fn);
  return wrapHandler(fn);
}
