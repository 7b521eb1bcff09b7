import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, register as globalRegistry, type Registry } from 'prom-client';
import { httpMetricsFor, type HttpMetrics } from './http-metrics';
import { subscribeKeelEvents } from './keel-events';
import { BoundedLabel } from './labels';
import { resolveOptions, type MetricsOptions, type ResolvedMetricsOptions } from './options';
import { matchedRoute } from './route';

/** The middleware {@link metrics} returns: `(req, res, next)`, for Express 4 and 5. */
export interface MetricsMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void;
  /** The registry the metrics are in: serve it with `metricsEndpoint({ registry })`. */
  readonly registry: Registry;
  /** Stops recording what the keel packages publish (the request metrics stay registered). */
  dispose(): void;
}

/** Status label of a response whose client went away before it ended (nginx's convention). */
const CLIENT_CLOSED = '499';
// One label value per route pattern in the code; past this many something is feeding raw paths.
const MAX_ROUTES = 1_000;
const defaultMetricsCollected = new WeakSet<Registry>();

/**
 * Records every request in Prometheus metrics: `http_request_duration_seconds`
 * (a histogram by method, route pattern and status code), `http_requests_in_flight`,
 * and with `sizes` the request and response sizes. The route label is Express's
 * matched route (`/users/:id`), never the raw path: requests no route matched share
 * one label (`<unmatched>`), so a scanner cannot create series.
 *
 * It also records what the other keel packages publish on `diagnostics_channel`
 * (deadlines, errors answered, process faults, lifecycle state and shutdown
 * phases, drains, outbound calls): see the README for the list. Mount it first.
 * Options are checked now: a bad one throws an InvalidOptionError.
 *
 * @example
 * app.use(metrics());
 * serveMetrics({ port: 9464 });
 */
export function metrics(options?: MetricsOptions): MetricsMiddleware {
  const resolved = resolveOptions(options);
  const registry = resolved.registry ?? globalRegistry;
  const http = httpMetricsFor(resolved);
  if (resolved.defaultMetrics && !defaultMetricsCollected.has(registry)) {
    defaultMetricsCollected.add(registry);
    collectDefaultMetrics({ register: registry });
  }
  const unsubscribe = resolved.keelEvents ? subscribeKeelEvents(registry, resolved) : () => {};
  const recorder = new RequestRecorder(http, resolved);

  const middleware = function metricsMiddleware(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    recorder.start(req, res);
    next();
  };
  return Object.assign(middleware, { registry, dispose: unsubscribe });
}

/** Times each request and records it once, when its response closes. */
/** Where a request's start time is kept on `req`, one key per set of metrics (per registry). */
const startKeys = new WeakMap<HttpMetrics, symbol>();

type TimedRequest = IncomingMessage & Record<symbol, number | undefined>;

class RequestRecorder {
  readonly #routes: BoundedLabel;
  readonly #startedAt: symbol;

  constructor(
    readonly http: HttpMetrics,
    readonly options: ResolvedMetricsOptions,
  ) {
    this.#routes = new BoundedLabel(MAX_ROUTES, '<other>');
    let key = startKeys.get(http);
    if (key === undefined) startKeys.set(http, (key = Symbol('keel.metrics.startedAt')));
    this.#startedAt = key;
  }

  start(req: IncomingMessage, res: ServerResponse): void {
    const http = this.http;
    const timed = req as TimedRequest;
    // Mounted twice (app and router) on one registry: the first mount times the request.
    if (timed[this.#startedAt] !== undefined) return;
    timed[this.#startedAt] = performance.now();
    http.inFlight++;
    if (http.responseSize !== undefined) countWrites(res);
    // 'close' comes once per response, after 'finish' or when the connection dies first.
    res.on('close', this.#responseClosed);
  }

  // One listener for every response (`this` names it): no closure per request.
  readonly #responseClosed = ((recorder: RequestRecorder) =>
    function responseClosed(this: ServerResponse): void {
      recorder.#record(this);
    })(this);

  #record(res: ServerResponse): void {
    const { http } = this;
    const req = res.req as TimedRequest;
    http.inFlight--;
    const seconds = (performance.now() - req[this.#startedAt]!) / 1000;
    const route = this.route(req);
    const method = req.method ?? 'UNKNOWN';
    const status = res.writableFinished ? statusLabel(res.statusCode) : CLIENT_CLOSED;
    http.duration.record(method, route, status, seconds);
    if (http.requestSize !== undefined) {
      const length = Number(req.headers['content-length']);
      if (Number.isFinite(length) && length >= 0) http.requestSize.observe({ method, route }, length);
    }
    if (http.responseSize !== undefined) http.responseSize.observe({ method, route, status_code: status }, bytesOf(res));
  }

  route(req: IncomingMessage): string {
    let route: string | undefined;
    try {
      route = this.options.routeOf === undefined ? matchedRoute(req) : this.options.routeOf(req);
    } catch {
      route = undefined;
    }
    return route === undefined ? this.options.unmatchedRoute : this.#routes.of(route);
  }
}

const STATUS_LABELS = new Map<number, string>();

function statusLabel(status: number): string {
  let label = STATUS_LABELS.get(status);
  if (label === undefined) {
    label = Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : '0';
    STATUS_LABELS.set(status, label);
  }
  return label;
}

const WRITTEN = Symbol('keel.metrics.bytesWritten');

/** Counts the body bytes written to `res` (only when response sizes are asked for). */
function countWrites(res: ServerResponse): void {
  const target = res as ServerResponse & { [WRITTEN]?: number };
  target[WRITTEN] = 0;
  const { write, end } = res;
  const count = (chunk: unknown, encoding: unknown): void => {
    if (typeof chunk === 'string') target[WRITTEN]! += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) target[WRITTEN]! += chunk.byteLength;
  };
  res.write = function countedWrite(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    count(chunk, rest[0]);
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function countedEnd(this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    if (typeof chunk !== 'function') count(chunk, rest[0]);
    return (end as (...args: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
}

function bytesOf(res: ServerResponse): number {
  return (res as ServerResponse & { [WRITTEN]?: number })[WRITTEN] ?? 0;
}
