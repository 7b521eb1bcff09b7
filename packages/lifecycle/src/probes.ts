import { markSettlesSafely } from './middleware-marks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HealthCheckRunner, type HealthCheckResult } from './health-checks';
import { getDefaultLifecycle } from './default-lifecycle';
import { resolveProbesOptions, type ProbedLifecycle, type ProbesOptions, type ResolvedHealthCheck } from './options';

/** The JSON body every probe answers with: `status` alone unless `verbose` is on. */
export interface ProbeBody {
  /** `'ok'` with status 200, `'unavailable'` with 503. */
  readonly status: 'ok' | 'unavailable';
  /** The lifecycle state (verbose bodies only). */
  readonly state?: string;
  /** Why the probe fails, when it does. */
  readonly reason?: string;
  /** Readiness holds still open, when any. */
  readonly holds?: readonly string[];
  /** The results of the probe's health checks, when it has any and they ran. */
  readonly checks?: Readonly<Record<string, { readonly status: HealthCheckResult['status']; readonly durationMs: number; readonly error?: string }>>;
}

/**
 * A middleware for Express 4 and 5 (or a plain `http` handler): answers GET and
 * HEAD on the probe paths and passes every other request on with `next()`
 * (404 when called without `next`).
 */
export type ProbesMiddleware = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

type Probe = 'live' | 'ready' | 'startup';

/**
 * Liveness, readiness and startup probes: `/readyz` fails (503) from the moment
 * shutdown starts while `/livez` stays 200; `/startupz` passes once the
 * lifecycle has been ready. Mount on the app or on a separate admin server.
 */
export function probes(options?: Partial<ProbesOptions>): ProbesMiddleware {
  const { lifecycle: given, paths, checks, verbose, checkCacheTtl } = resolveProbesOptions(options);
  const lifecycle = given ?? getDefaultLifecycle();
  const runner = new HealthCheckRunner(checkCacheTtl);
  const liveChecks = checks.filter((check) => check.affects === 'live');
  const readyChecks = checks.filter((check) => check.affects === 'ready');
  const routes = new Map<string, Probe>();
  for (const probe of ['live', 'ready', 'startup'] as const) {
    const path = paths[probe];
    if (path !== false) routes.set(path, probe);
  }
  // Most requests are not probes: the character after the leading slash tells, without cutting the path out.
  const leads = new Set([...routes.keys()].map((path) => path.charCodeAt(1)));
  const filtered = [...routes.keys()].every((path) => path.length >= 2);
  const mayBeProbe = (url: string | undefined): boolean => !filtered || url === undefined || url.length < 2 || leads.has(url.charCodeAt(1));

  const withChecks = async (body: Omit<ProbeBody, 'checks'>, due: readonly ResolvedHealthCheck[]): Promise<ProbeBody> => {
    if (due.length === 0) return body;
    const results = await runner.runAll(due);
    const failing = Object.keys(results).filter((name) => results[name]!.status !== 'ok');
    const shown = Object.fromEntries(
      Object.entries(results).map(([name, { status, durationMs, error }]) => [name, verbose && error !== undefined ? { status, durationMs, error } : { status, durationMs }]),
    );
    if (failing.length === 0 || body.status === 'unavailable') return { ...body, checks: shown };
    return { ...body, status: 'unavailable', reason: `check failed: ${failing.join(', ')}`, checks: shown };
  };

  const answer = (probe: Probe): Promise<ProbeBody> | ProbeBody => {
    const base = { status: 'ok' as const, state: lifecycle.state };
    const holds = lifecycle.readinessHolds.length > 0 ? { holds: [...lifecycle.readinessHolds] } : {};
    switch (probe) {
      case 'live':
        return withChecks(base, liveChecks);
      case 'startup':
        if (hasBeenReady(lifecycle)) return base;
        return { ...base, status: 'unavailable', reason: notReadyReason(lifecycle), ...holds };
      case 'ready':
        if (lifecycle.isShuttingDown) return { ...base, status: 'unavailable', reason: 'shutting down' };
        if (!lifecycle.isReady) return { ...base, status: 'unavailable', reason: notReadyReason(lifecycle), ...holds };
        return withChecks(base, readyChecks);
    }
  };

  return markSettlesSafely(function probesMiddleware(req, res, next) {
    const probe = (req.method === 'GET' || req.method === 'HEAD') && mayBeProbe(req.url) ? routes.get(pathOf(req.url)) : undefined;
    if (probe === undefined) {
      if (next !== undefined) return next();
      res.statusCode = 404;
      res.end();
      return;
    }
    Promise.resolve(answer(probe)).then(
      // Who reaches a probe learns up or down, nothing of the state, holds or checks, unless verbose.
      (body) => send(req, res, verbose ? body : { status: body.status }),
      (error: unknown) => (next !== undefined ? next(error) : res.destroy()),
    );
  });
}

function hasBeenReady(lifecycle: ProbedLifecycle): boolean {
  return lifecycle.hasBeenReady ?? lifecycle.state !== 'starting';
}

function notReadyReason(lifecycle: ProbedLifecycle): string {
  if (lifecycle.readinessHolds.length > 0) return `waiting for: ${lifecycle.readinessHolds.join(', ')}`;
  return 'starting: markReady() not called yet';
}

function pathOf(url = '/'): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function send(req: IncomingMessage, res: ServerResponse, body: ProbeBody): void {
  if (res.headersSent || res.writableEnded) return;
  const json = JSON.stringify(body);
  res.statusCode = body.status === 'ok' ? 200 : 503;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  if (req.method === 'HEAD') res.end();
  else res.end(json);
}
