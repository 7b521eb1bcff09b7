import { Gauge, Histogram, register as globalRegistry, type Metric, type Registry } from 'prom-client';
import type { ResolvedMetricsOptions } from './options';
import { RouteHistogram } from './route-histogram';

/** Returns the metric registered under `name` in `registry`, registering the one `create` makes when there is none. */
export function metricIn<M extends Metric>(registry: Registry, name: string, create: (registers: Registry[]) => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create([registry]);
}

/** The request metrics of one registry. */
export interface HttpMetrics {
  readonly duration: RouteHistogram;
  readonly requestSize: Histogram<'method' | 'route'> | undefined;
  readonly responseSize: Histogram<'method' | 'route' | 'status_code'> | undefined;
  /** Requests received and not yet answered; read at scrape time. */
  inFlight: number;
}

const byRegistry = new WeakMap<Registry, HttpMetrics>();

/** The request metrics of the registry of `options`, created on first use. */
export function httpMetricsFor(options: ResolvedMetricsOptions): HttpMetrics {
  const registry = options.registry ?? globalRegistry;
  const existing = byRegistry.get(registry);
  if (existing !== undefined && (!options.sizes || existing.requestSize !== undefined)) return existing;
  const state: HttpMetrics = existing ?? {
    duration: routeHistogramIn(registry, options),
    requestSize: undefined,
    responseSize: undefined,
    inFlight: 0,
  };
  if (existing === undefined) {
    metricIn(registry, 'http_requests_in_flight', (registers) => new Gauge({
      name: 'http_requests_in_flight',
      help: 'Requests received and not yet answered.',
      registers,
      collect() {
        this.set(state.inFlight);
      },
    }));
  }
  if (options.sizes) {
    Object.assign(state, {
      requestSize: metricIn(registry, 'http_request_size_bytes', (registers) => new Histogram({
        name: 'http_request_size_bytes',
        help: 'Request body sizes from Content-Length, by method and route pattern.',
        labelNames: ['method', 'route'] as const,
        buckets: [...options.sizeBuckets],
        registers,
      })),
      responseSize: metricIn(registry, 'http_response_size_bytes', (registers) => new Histogram({
        name: 'http_response_size_bytes',
        help: 'Response body bytes written, by method, route pattern and status code.',
        labelNames: ['method', 'route', 'status_code'] as const,
        buckets: [...options.sizeBuckets],
        registers,
      })),
    });
  }
  byRegistry.set(registry, state);
  return state;
}

const DURATION = 'http_request_duration_seconds';

/** The request duration histogram of `registry`; throws when another library registered one under that name. */
function routeHistogramIn(registry: Registry, options: ResolvedMetricsOptions): RouteHistogram {
  const existing = registry.getSingleMetric(DURATION);
  if (existing instanceof RouteHistogram) return existing;
  if (existing !== undefined) {
    throw new Error(`@keel/metrics: the registry already has a metric named ${DURATION} that @keel/metrics did not create (express-prom-bundle's, or another copy of @keel/metrics): give metrics() a registry of its own`);
  }
  return new RouteHistogram({
    name: DURATION,
    help: 'Time from the request reaching the middleware to its response ending, by method, route pattern and status code.',
    buckets: options.buckets,
    registers: [registry],
  });
}
