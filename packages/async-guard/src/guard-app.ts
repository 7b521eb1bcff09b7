import { METHODS } from 'node:http';
import { InvalidOptionError } from '@keel/lifecycle';
import { state } from './state';
import { wrapHandler, type Handler } from './wrap-handler';

/** One entry of an Express router's or route's `stack`. */
interface Layer {
  handle: unknown;
  route?: unknown;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

type Guardable = Record<string, unknown> & { stack?: Layer[] };

// Route objects answer every lowercased HTTP method plus `all`.
const ROUTE_METHODS = Object.freeze(['all', ...METHODS.map((method) => method.toLowerCase())]);

/** Returns true for an Express app (a function with `handle` and `set`), of either major. */
export function isExpressApp(value: unknown): boolean {
  return typeof value === 'function' && typeof (value as { handle?: unknown }).handle === 'function' && typeof (value as { set?: unknown }).set === 'function';
}

/** Returns true for an Express router (a function with a `stack`, `use` and `route`), of either major. */
export function isExpressRouter(value: unknown): boolean {
  const candidate = value as { stack?: unknown; use?: unknown; route?: unknown };
  return typeof value === 'function' && Array.isArray(candidate.stack) && typeof candidate.use === 'function' && typeof candidate.route === 'function';
}

/**
 * Guards every handler of an Express app or router, on Express 4 and 5, without
 * touching Express internals: handlers registered before the call (found on the
 * router's `stack`, its routes' stacks and its `params`) and after it (through
 * the instance's `use`, `route` and `param`, which every verb method goes
 * through), routers and sub-apps mounted on it, at any depth, and `route()`
 * chains. Each handler is wrapped by {@link guard}. Returns `target` itself;
 * calling it again is a no-op.
 */
export function guardApp<T>(target: T): T {
  if (isExpressApp(target)) guardExpressApp(target as unknown as Guardable);
  else if (isExpressRouter(target)) guardRouter(target as unknown as Guardable);
  else throw new InvalidOptionError('@keel/async-guard', 'guardApp(target)', 'an Express app or router', target);
  return target;
}

/** Guards `value` if it is a handler, a router or an app; anything else (paths, arrays of paths) passes unchanged. */
function guardArgument(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(guardArgument);
  if (typeof value !== 'function') return value;
  if (isExpressRouter(value)) {
    // Mounted as is, so tools that read `layer.handle.stack` still see the router.
    guardRouter(value as unknown as Guardable);
    return value;
  }
  if (isExpressApp(value)) {
    guardExpressApp(value as unknown as Guardable);
    return value;
  }
  return wrapHandler(value as Handler);
}

/** Replaces `object[name]` with an own property made from the current method, keeping its name. */
function replaceMethod(object: Guardable, name: string, make: (original: Method) => Method): void {
  const original = object[name];
  if (typeof original !== 'function') return;
  const replacement = make(original as Method);
  Object.defineProperty(replacement, 'name', { value: original.name, configurable: true });
  const own = Object.getOwnPropertyDescriptor(object, name);
  Object.defineProperty(object, name, { value: replacement, writable: true, configurable: true, enumerable: own?.enumerable ?? false });
}

function guardExpressApp(app: Guardable): void {
  if (state.guardedTargets.has(app)) return;
  state.guardedTargets.add(app);

  // app.use hands a sub-app to its router inside a closure (`mounted_app`): guard the sub-app here.
  replaceMethod(app, 'use', (original) => function use(this: unknown, ...args: unknown[]) {
    for (const arg of args.flat(Infinity)) if (isExpressApp(arg)) guardExpressApp(arg as Guardable);
    return original.apply(this, args);
  });

  if (typeof app.lazyrouter === 'function') {
    // Express 4 creates `app._router` on first use; creating it here would freeze the routing settings early.
    if (isExpressRouter(app._router)) guardRouter(app._router as Guardable);
    replaceMethod(app, 'lazyrouter', (original) => function lazyrouter(this: unknown, ...args: unknown[]) {
      const result = original.apply(this, args);
      const router = (this as Guardable)._router;
      if (isExpressRouter(router)) guardRouter(router as Guardable);
      return result;
    });
    return;
  }

  // Express 5 creates `app.router` in a getter on first read: guard whatever the getter returns.
  const descriptor = Object.getOwnPropertyDescriptor(app, 'router');
  if (descriptor?.get !== undefined && descriptor.configurable === true) {
    const getRouter = descriptor.get;
    Object.defineProperty(app, 'router', {
      configurable: true,
      enumerable: descriptor.enumerable ?? true,
      get: function getrouter(this: unknown) {
        const router: unknown = getRouter.call(this);
        if (isExpressRouter(router)) guardRouter(router as Guardable);
        return router;
      },
      ...(descriptor.set !== undefined ? { set: descriptor.set } : {}),
    });
  } else if (isExpressRouter(app.router)) {
    guardRouter(app.router as Guardable);
  }
}

function guardRouter(router: Guardable): void {
  if (state.guardedTargets.has(router)) return;
  state.guardedTargets.add(router);

  for (const layer of router.stack ?? []) guardLayer(layer);
  const params = router.params;
  if (typeof params === 'object' && params !== null) {
    for (const handlers of Object.values(params as Record<string, unknown>)) {
      if (!Array.isArray(handlers)) continue;
      handlers.forEach((handler: unknown, index) => {
        if (typeof handler === 'function') handlers[index] = wrapHandler(handler as Handler);
      });
    }
  }

  replaceMethod(router, 'use', (original) => function use(this: unknown, ...args: unknown[]) {
    return original.apply(this, args.map(guardArgument));
  });
  // Every verb method (get, post, all, ...) of a router or app goes through `route()`.
  replaceMethod(router, 'route', (original) => function route(this: unknown, ...args: unknown[]) {
    const created = original.apply(this, args);
    if (typeof created === 'object' && created !== null) guardRoute(created as Guardable);
    return created;
  });
  replaceMethod(router, 'param', (original) => function param(this: unknown, ...args: unknown[]) {
    // Express 4's deprecated `param(fn)` registers a param processor, not a handler: left as is.
    if (typeof args[0] !== 'function' && typeof args[1] === 'function') args[1] = wrapHandler(args[1] as Handler);
    return original.apply(this, args);
  });
}

function guardRoute(route: Guardable): void {
  if (state.guardedTargets.has(route)) return;
  state.guardedTargets.add(route);
  for (const layer of route.stack ?? []) guardLayer(layer);
  for (const method of ROUTE_METHODS) {
    replaceMethod(route, method, (original) => function routeMethod(this: unknown, ...args: unknown[]) {
      return original.apply(this, args.map(guardArgument));
    });
  }
}

function guardLayer(layer: Layer): void {
  if (typeof layer.route === 'object' && layer.route !== null) {
    // The route's own dispatch function stays; its handlers are guarded inside the route.
    guardRoute(layer.route as Guardable);
    return;
  }
  const handle = layer.handle;
  if (typeof handle !== 'function') return;
  if (isExpressRouter(handle)) guardRouter(handle as unknown as Guardable);
  else if (isExpressApp(handle)) guardExpressApp(handle as unknown as Guardable);
  else layer.handle = wrapHandler(handle as Handler);
}
