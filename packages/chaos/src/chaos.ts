import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { contextOf, createJsonLogger, peekDefaultLifecycle, redactNames, runInRequestContext, type Logger } from '@keel/lifecycle';
import { injectFault, type NextFunction } from './faults';
import { defaultRule, resolveOptions, type ChaosFault, type ChaosOptions, type ResolvedChaosRule } from './options';
import { parseTrigger, secretMatcher } from './trigger';

/** The middleware {@link chaos} returns: `(req, res, next)`, for Express 4 and 5. */
export type ChaosMiddleware = (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void | Promise<void>;

/** The name of the diagnostics channel each injection is published on. */
export const INJECT_CHANNEL = 'keel:chaos:inject';

/** The message published on {@link INJECT_CHANNEL} for each injected fault. */
export interface ChaosInjectEvent {
  /** The fault injected. */
  readonly fault: ChaosFault;
  /** The name of the rule that injected it (the fault's name for a trigger without a rule). */
  readonly rule: string;
  /** How it was chosen: the trigger header named it, or the rule's probability. */
  readonly cause: 'trigger' | 'probability';
  /** The request. */
  readonly req: IncomingMessage;
  /** Its response. */
  readonly res: ServerResponse;
  /** The request's trace ID, when `@keel/trace-id` runs before chaos. */
  readonly traceId: string | undefined;
}

const injectChannel = diagnosticsChannel.channel(INJECT_CHANNEL);

/** The path of `req` relative to where the middleware is mounted, without its query. */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function applies(rule: ResolvedChaosRule, req: IncomingMessage, path: string): boolean {
  return (rule.methods === undefined || rule.methods.has(req.method ?? '')) && (rule.path === undefined || rule.path.test(path));
}

/**
 * Injects faults into the requests its rules select: added latency, an error
 * status, a synchronous throw, an async rejection, a throw from a timer, an
 * unhandled rejection, a hang, a connection reset, a body cut halfway, or a
 * trickled body. A request gets a fault when a rule's path and methods match it
 * and either its trigger header names the fault (`X-Keel-Chaos: latency`) or
 * the rule's `probability` says so. The response carries `X-Keel-Chaos-Injected`,
 * each injection is logged and published on `keel:chaos:inject`.
 *
 * Inert unless `enabled: true`. Under `NODE_ENV=production` it also needs
 * `allowInProduction: true` and a `secret` that the trigger header carries
 * (`X-Keel-Chaos: latency; secret=...`): a request with a wrong or missing
 * secret is left alone, and nothing in its response tells it chaos is there.
 * Options are checked now: a bad one throws an InvalidOptionError.
 *
 * @example
 * app.use(chaos({
 *   enabled: process.env.CHAOS === '1',
 *   rules: [{ fault: 'latency', path: '/api/*', delay: 200, jitter: 300, probability: 0.05 }],
 * }));
 */
export function chaos(options?: ChaosOptions): ChaosMiddleware {
  const resolved = resolveOptions(options);
  const production = process.env.NODE_ENV === 'production';
  let logger: Logger | undefined = resolved.logger;
  const log = (): Logger => (logger ??= peekDefaultLifecycle()?.logger ?? createJsonLogger(process.stderr));
  const active = resolved.enabled && (!production || resolved.allowInProduction);
  if (resolved.enabled && !active) {
    log().warn('@keel/chaos: enabled, but inert under NODE_ENV=production without allowInProduction and a secret', { package: '@keel/chaos' });
  }
  if (!active) {
    return function chaosMiddleware(_req, _res, next) {
      next();
    };
  }
  const { rules, header, responseHeader } = resolved;
  const random = resolved.random ?? Math.random;
  const secretMatches = resolved.secret === undefined ? undefined : secretMatcher(resolved.secret);
  // The trigger header carries the secret: no keel log line may show it (error-handler logs request headers).
  if (resolved.secret !== undefined) redactNames(header);
  const triggerable = new Map<string, ResolvedChaosRule>(resolved.triggers.map((fault) => [fault, defaultRule(fault)]));

  const choose = (req: IncomingMessage, name: string | undefined): { rule: ResolvedChaosRule; cause: 'trigger' | 'probability' } | undefined => {
    const path = pathOf(req);
    if (name !== undefined) {
      for (const rule of rules) if ((rule.name === name || rule.fault === name) && applies(rule, req, path)) return { rule, cause: 'trigger' };
    }
    for (const rule of rules) if (rule.probability > 0 && applies(rule, req, path) && random() < rule.probability) return { rule, cause: 'probability' };
    const fallback = name === undefined ? undefined : triggerable.get(name);
    return fallback === undefined ? undefined : { rule: fallback, cause: 'trigger' };
  };

  return function chaosMiddleware(req, res, next) {
    const trigger = parseTrigger(req.headers[header]);
    // With a secret, a request that does not carry it is never injected, by trigger or by chance.
    if (secretMatches !== undefined && !(trigger !== undefined && secretMatches(trigger.secret))) return next();
    const chosen = choose(req, trigger?.name);
    if (chosen === undefined) return next();
    const { rule, cause } = chosen;
    return runInRequestContext(req, res, () => {
      if (!res.headersSent) res.setHeader(responseHeader, rule.name);
      const traceId = contextOf(req)?.traceId;
      log().warn('@keel/chaos: injected a fault', { package: '@keel/chaos', fault: rule.fault, rule: rule.name, cause, method: req.method, path: pathOf(req).slice(0, 200), traceId });
      if (injectChannel.hasSubscribers) injectChannel.publish({ fault: rule.fault, rule: rule.name, cause, req, res, traceId } satisfies ChaosInjectEvent);
      return injectFault(rule, req, res, next, random);
    });
  };
}


